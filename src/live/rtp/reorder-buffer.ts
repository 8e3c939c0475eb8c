/**
 * Puts the RTP packets of one UDP stream back in sequence order (RFC 3550 §A.1 sequence
 * arithmetic, modulo 2^16). A packet ahead of the next expected one waits in a buffer of at most
 * `size` packets and at most `maxWaitMs` (checked as packets arrive: a slow audio track would
 * otherwise wait seconds for `size` packets); then the missing packets are declared lost and what
 * follows them is released, so a loss costs bounded delay and memory stays bounded. Each gap gets
 * its own wait, counted from the first packet seen behind it: giving up on one gap does not give
 * up on a younger one further on, whose retransmission may still be on its way.
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
  /** When each held packet arrived. */
  private readonly arrived = new Map<number, number>();

  /** `maxWaitMs` may be changed later (a wait that follows the measured round trip). */
  constructor(private readonly size = 64, public maxWaitMs = 100, private readonly now: () => number = Date.now) {}

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
    this.held.set(p.sequenceNumber, p);
    this.arrived.set(p.sequenceNumber, this.now());
    return this.expire();
  }

  /** Give up on the gaps in front while the buffer is over its size or the front gap waited too long. */
  private expire(): P[] {
    const out: P[] = [];
    const now = this.now();
    while (this.held.size > 0) {
      let first = this.next;
      let gap = 0;
      while (!this.held.has(first)) {
        first = (first + 1) & 0xffff;
        gap++;
      }
      // The first packet behind the gap arrived when the gap became known.
      if (this.held.size <= this.size && now - this.arrived.get(first)! <= this.maxWaitMs) break;
      this.stats.lost += gap;
      this.next = first;
      this.release(out);
    }
    return out;
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
      this.arrived.delete(this.next);
      out.push(p);
      this.next = (this.next + 1) & 0xffff;
    }
  }
}
