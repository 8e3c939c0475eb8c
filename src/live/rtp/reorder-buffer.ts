/**
 * Puts the RTP packets of one UDP stream back in sequence order (RFC 3550 §A.1 sequence
 * arithmetic, modulo 2^16). A packet ahead of the next expected one waits in a buffer of at most
 * `size` packets and at most `maxWaitMs` (checked as packets arrive: a slow audio track would
 * otherwise wait seconds for `size` packets); then the missing packets are declared lost and what
 * follows them is released, so a loss costs bounded delay and memory stays bounded.
 * A packet behind the released point (a late duplicate or one already given up on) is dropped.
 * Over TCP (interleaved) packets cannot reorder: there `size` is 0 and the buffer only counts gaps.
 */
import type { RtpPacket } from './rtp-packet.js';

/** Sequence gaps and reorderings seen on one stream. */
export interface SequenceStats {
  /** Packets never received (gaps given up on). */
  lost: number;
  /** Packets that arrived out of order and were put back in place. */
  reordered: number;
  /** Packets dropped because they arrived after their place was released (or twice). */
  late: number;
}

/** A jump this far ahead is a sender restart, not a loss: the buffer starts over. */
const RESYNC_DISTANCE = 3000;

/** A bounded reorder buffer for one SSRC (of RTP packets, or anything carrying their sequence number). */
export class ReorderBuffer<P extends Pick<RtpPacket, 'sequenceNumber'> = RtpPacket> {
  readonly stats: SequenceStats = { lost: 0, reordered: 0, late: 0 };
  private next = -1;
  private readonly held = new Map<number, P>();
  /** When the oldest packet now held started waiting. */
  private heldSince = 0;

  constructor(private readonly size = 64, private readonly maxWaitMs = 100, private readonly now: () => number = Date.now) {}

  /** Take one packet; returns the packets now ready, in order. */
  push(p: P): P[] {
    if (this.next === -1) {
      this.next = (p.sequenceNumber + 1) & 0xffff;
      return [p];
    }
    const d = ((p.sequenceNumber - this.next + 0x8000) & 0xffff) - 0x8000; // signed distance
    if (d < 0 || this.held.has(p.sequenceNumber)) {
      this.stats.late++;
      return [];
    }
    if (d > RESYNC_DISTANCE) {
      const out = this.drain();
      this.next = (p.sequenceNumber + 1) & 0xffff;
      out.push(p);
      return out;
    }
    if (d === 0) {
      if (this.held.size > 0) this.stats.reordered++; // later packets overtook this one
      this.next = (this.next + 1) & 0xffff;
      const out = [p];
      this.release(out);
      return out;
    }
    if (this.held.size === 0) this.heldSince = this.now();
    this.held.set(p.sequenceNumber, p);
    if (this.held.size <= this.size && this.now() - this.heldSince <= this.maxWaitMs) return [];
    return this.drain(); // full or waited long enough: give up on the gap in front
  }

  /** Release everything held, counting the gaps in between as lost. */
  drain(): P[] {
    const out: P[] = [];
    while (this.held.size > 0) {
      let gap = 0;
      while (!this.held.has(this.next)) {
        this.next = (this.next + 1) & 0xffff;
        gap++;
      }
      this.stats.lost += gap;
      this.release(out);
    }
    return out;
  }

  /** Move the consecutive run starting at `next` from the buffer to `out`. */
  private release(out: P[]): void {
    for (let p = this.held.get(this.next); p !== undefined; p = this.held.get(this.next)) {
      this.held.delete(this.next);
      out.push(p);
      this.next = (this.next + 1) & 0xffff;
    }
  }
}
