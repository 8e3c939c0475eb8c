/**
 * The sending half of an SRT connection in live mode: numbers packets, keeps each one until the
 * peer acknowledges it so a NAK can be answered, and forgets packets that are too old to be played
 * anyway (sender-side too-late drop: older than the peer's latency plus a second, as libsrt's
 * SRT_TLPKTDROP_MINTHRESHOLD_MS). The buffer is a fixed ring: a peer that stops acknowledging
 * cannot make it grow.
 */
import { HEADER_BYTES, writeDataHeader } from './packet.js';
import { seqAdd, seqOff } from './seq.js';

interface Slot {
  seq: number;
  packet: Buffer;
  originMs: number;
  sentMs: number;
}

/** Counters of one sender. */
export interface SenderStats {
  packets: number;
  bytes: number;
  retransmitted: number;
  /** Packets forgotten unacknowledged (too late, or the ring was full). */
  dropped: number;
}

/** An SRT live sender. */
export class SrtSender {
  private nextSeq: number;
  private msgNo = 1;
  private readonly ring: Array<Slot | undefined>;
  /** Oldest unacknowledged sequence number. */
  private ackedTo: number;
  readonly stats: SenderStats = { packets: 0, bytes: 0, retransmitted: 0, dropped: 0 };

  constructor(initialSeq: number, private readonly capacity: number, private readonly dropAfterMs: number) {
    this.nextSeq = initialSeq;
    this.ackedTo = initialSeq;
    this.ring = new Array<Slot | undefined>(capacity);
  }

  /**
   * Frame `payload` (already encrypted when the connection is) as the next data packet and keep it
   * for retransmission; returns the datagram to send.
   */
  packetize(payload: Buffer, keyFlags: number, timestampUs: number, destId: number, nowMs: number): Buffer {
    const seq = this.nextSeq;
    this.nextSeq = seqAdd(seq, 1);
    const packet = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
    writeDataHeader(packet, seq, this.msgNo, keyFlags, false, timestampUs, destId);
    this.msgNo = this.msgNo === 0x03ffffff ? 1 : this.msgNo + 1;
    payload.copy(packet, HEADER_BYTES);
    const i = seq % this.capacity;
    const old = this.ring[i];
    if (old !== undefined && seqOff(this.ackedTo, old.seq) >= 0) {
      this.stats.dropped++;
      this.ackedTo = seqAdd(old.seq, 1); // ring full: the oldest unacknowledged packet is given up
    }
    this.ring[i] = { seq, packet, originMs: nowMs, sentMs: nowMs };
    this.stats.packets++;
    this.stats.bytes += payload.length;
    return packet;
  }

  /** The peer has everything before `ackSeq`. */
  acknowledge(ackSeq: number): void {
    if (seqOff(this.ackedTo, ackSeq) <= 0 || seqOff(ackSeq, this.nextSeq) < 0) return;
    for (let s = this.ackedTo; s !== ackSeq; s = seqAdd(s, 1)) {
      const i = s % this.capacity;
      if (this.ring[i]?.seq === s) this.ring[i] = undefined;
    }
    this.ackedTo = ackSeq;
  }

  /** The kept packet `seq` marked as retransmitted, or null when it is no longer kept. */
  retransmission(seq: number, nowMs = 0): Buffer | null {
    const slot = this.ring[seq % this.capacity];
    if (slot === undefined || slot.seq !== seq || seqOff(this.ackedTo, seq) < 0) return null;
    slot.packet[4] = slot.packet[4]! | 0x04; // R flag: bit 26 of the second word (§3.1)
    slot.sentMs = nowMs;
    this.stats.retransmitted++;
    return slot.packet;
  }

  /**
   * Packets unacknowledged for longer than `rtoMs` since they were last sent, oldest first, at most
   * `max`. A lost packet at the end of a burst has no successor to reveal the gap to the receiver,
   * so no NAK ever asks for it; libsrt's live sender resends on this timer too (LATEREXMIT).
   */
  stale(nowMs: number, rtoMs: number, max: number): number[] {
    const out: number[] = [];
    for (let s = this.ackedTo; s !== this.nextSeq && out.length < max; s = seqAdd(s, 1)) {
      const slot = this.ring[s % this.capacity];
      if (slot === undefined || slot.seq !== s) continue;
      if (nowMs - slot.sentMs < rtoMs) break; // later packets were sent later still
      out.push(s);
    }
    return out;
  }

  /**
   * Forget packets older than the drop threshold; returns the range dropped (for a DROPREQ) or null.
   */
  dropTooLate(nowMs: number): readonly [number, number] | null {
    let s = this.ackedTo;
    const from = s;
    while (s !== this.nextSeq) {
      const slot = this.ring[s % this.capacity];
      if (slot !== undefined && slot.seq === s && nowMs - slot.originMs < this.dropAfterMs) break;
      if (slot?.seq === s) this.ring[s % this.capacity] = undefined;
      s = seqAdd(s, 1);
    }
    if (s === from) return null;
    this.stats.dropped += seqOff(from, s);
    this.ackedTo = s;
    return [from, seqAdd(s, -1)];
  }

  /** Packets sent and not yet acknowledged. */
  inFlight(): number {
    return seqOff(this.ackedTo, this.nextSeq);
  }

  /** The sequence number the next packet gets. */
  nextSequence(): number {
    return this.nextSeq;
  }
}
