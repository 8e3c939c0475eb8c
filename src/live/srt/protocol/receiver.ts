/**
 * The receiving half of an SRT connection in live mode: reorders by sequence number, detects
 * losses and asks for them (immediate NAK, then periodic NAK reports while they stay missing), and
 * gives up on a gap once the packet after it has waited the latency window (too-late packet drop,
 * draft-sharabayko-srt-01 §4.6). Unlike a TSBPD player, packets that arrive in order are handed on
 * at once: Strom's live hub re-times frames from their PTS, so holding every packet for the whole
 * window would only add latency; the window is spent only where a loss is being repaired.
 */
import { LossList } from './loss-list.js';
import { seqAdd, seqOff } from './seq.js';

interface Held {
  payload: Buffer;
  arrivalMs: number;
}

/** Counters of one receiver. */
export interface ReceiverStats {
  packets: number;
  bytes: number;
  /** Packets that filled a gap (retransmitted or reordered). */
  recovered: number;
  /** Packets given up as too late. */
  dropped: number;
  /** Duplicates and packets before the delivery point. */
  duplicates: number;
  /** Packets beyond the receive window (a misbehaving peer). */
  beyondWindow: number;
  /** Loss ranges reported in NAKs. */
  naksSent: number;
}

/** An SRT live receiver. */
export class SrtReceiver {
  /** Next sequence number to deliver. */
  private next: number;
  /** One past the highest sequence number received. */
  private expected: number;
  private readonly held = new Map<number, Held>();
  private readonly loss = new LossList();
  readonly stats: ReceiverStats = { packets: 0, bytes: 0, recovered: 0, dropped: 0, duplicates: 0, beyondWindow: 0, naksSent: 0 };

  constructor(initialSeq: number, private readonly latencyMs: number, private readonly windowPackets: number, private readonly deliver: (payload: Buffer) => void) {
    this.next = initialSeq;
    this.expected = initialSeq;
  }

  /**
   * Take one data packet; returns a newly detected loss range to NAK at once, or null.
   * Payloads that are now in order go to `deliver`.
   */
  receive(seq: number, payload: Buffer, nowMs: number): readonly [number, number] | null {
    const ahead = seqOff(this.next, seq);
    if (ahead < 0 || this.held.has(seq)) {
      this.stats.duplicates++;
      return null;
    }
    if (ahead >= this.windowPackets) {
      this.stats.beyondWindow++;
      return null;
    }
    this.stats.packets++;
    this.stats.bytes += payload.length;
    let gap: readonly [number, number] | null = null;
    const fromExpected = seqOff(this.expected, seq);
    if (fromExpected > 0) {
      gap = [this.expected, seqAdd(seq, -1)];
      this.loss.append(gap[0], gap[1]);
      this.expected = seqAdd(seq, 1);
    } else if (fromExpected === 0) this.expected = seqAdd(seq, 1);
    else if (this.loss.remove(seq)) this.stats.recovered++;
    if (seq === this.next) {
      this.next = seqAdd(seq, 1);
      this.deliver(payload);
      this.release();
    } else this.held.set(seq, { payload, arrivalMs: nowMs });
    return gap;
  }

  /** Give up on gaps whose following packet has waited the latency window; call every few ms. */
  dropTooLate(nowMs: number): void {
    for (;;) {
      const first = this.loss.first();
      if (first === undefined || first[0] !== this.next) return;
      const after = seqAdd(first[1], 1);
      const h = this.held.get(after);
      if (h === undefined || nowMs - h.arrivalMs < this.latencyMs) return;
      this.stats.dropped += this.loss.removeBefore(after);
      this.next = after;
      this.release();
    }
  }

  /** The ACK point: the first sequence number not yet received in order. */
  ackSeq(): number {
    const first = this.loss.first();
    return first !== undefined ? first[0] : this.expected;
  }

  /** The current loss list for a periodic NAK report (bounded). */
  lossRanges(maxRanges: number): Array<readonly [number, number]> {
    const r = this.loss.snapshot(maxRanges);
    this.stats.naksSent += r.length;
    return r;
  }

  /** Count one NAK sent for a fresh gap. */
  countNak(): void {
    this.stats.naksSent++;
  }

  /** Free room in the receive window, packets (reported in ACKs for the sender's flow control). */
  available(): number {
    return Math.max(0, this.windowPackets - this.held.size);
  }

  /** Packets held waiting for a gap. */
  heldPackets(): number {
    return this.held.size;
  }

  /** Drop everything the sender asked to forget (DROPREQ, §3.2.9). */
  dropUpTo(lastSeq: number): void {
    const after = seqAdd(lastSeq, 1);
    if (seqOff(this.next, after) <= 0) return;
    if (seqOff(this.expected, after) > 0) this.expected = after;
    this.stats.dropped += this.loss.removeBefore(after);
    if (seqOff(this.next, after) > this.windowPackets) this.held.clear();
    else for (let s = this.next; s !== after; s = seqAdd(s, 1)) this.held.delete(s);
    this.next = after;
    this.release();
  }

  private release(): void {
    for (;;) {
      const h = this.held.get(this.next);
      if (h === undefined) return;
      this.held.delete(this.next);
      this.next = seqAdd(this.next, 1);
      this.deliver(h.payload);
    }
  }
}
