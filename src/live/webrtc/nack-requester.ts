/**
 * Retransmission requests for one received video stream (Generic NACK, RFC 4585 §6.2.1), sent the
 * way libwebrtc's receiver sends them: at once when a gap appears, then again every round trip
 * until the packet arrives or the repair wait is over.
 *
 * werift's own handler sends its ten retries 5 ms apart — all inside one round trip, where a
 * browser sender answers only the first (libwebrtc retransmits a packet at most once per RTT) — so
 * a retransmission lost on the way was never asked for again and its frame was lost, costing a
 * keyframe round trip. With one retry per RTT a gap survives the loss of a retransmission too.
 * The round trip is learnt from NACK → retransmission delays, first tries only (Karn's rule: a
 * packet asked for twice cannot tell which request it answers).
 */

/** Round trip assumed before the first sample (libwebrtc's default). */
const INITIAL_RTT_MS = 100;
/** Retries are never closer than this (a sender ignores repeats within its RTT estimate). */
const MIN_RETRY_MS = 10;
/** Requests per missing packet at most. */
const MAX_TRIES = 10;
/** Missing packets tracked at most (the oldest is forgotten first). */
const MAX_MISSING = 1024;
/** A jump this far ahead is a sender restart, not a loss (as in ReorderBuffer). */
const RESYNC_DISTANCE = 3000;
/** How often due retries are looked for while packets are missing. */
const TICK_MS = 5;

/** Counters of one requester. */
export interface NackRequesterStats {
  /** NACK messages sent (each may name many packets). */
  nacks: number;
  /** Packet requests sent, retries included. */
  requests: number;
  /** Missing packets that arrived after being asked for. */
  recovered: number;
}

interface Missing {
  since: number;
  sentAt: number;
  tries: number;
}

/** Asks for the missing sequence numbers of one SSRC through `send`. */
export class NackRequester {
  readonly stats: NackRequesterStats = { nacks: 0, requests: 0, recovered: 0 };
  /** Smoothed round trip (RFC 6298 §2 weights), ms. */
  rttMs = INITIAL_RTT_MS;
  private highest = -1;
  private readonly missing = new Map<number, Missing>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  /**
   * `send` gets the sequence numbers to request; `giveUpMs` says how long a gap is worth asking
   * for (the receiver stops waiting for it then).
   */
  constructor(
    private readonly send: (seqs: number[]) => void,
    private readonly giveUpMs: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Interval between requests for the same packet: one round trip plus a margin. */
  get retryMs(): number {
    return Math.max(MIN_RETRY_MS, Math.round(this.rttMs * 1.125 + 5));
  }

  /** Note a received packet (a first transmission or a retransmission). */
  onPacket(seq: number): void {
    if (this.closed) return;
    if (this.highest === -1) {
      this.highest = seq;
      return;
    }
    const d = ((seq - this.highest + 0x8000) & 0xffff) - 0x8000; // signed distance, RFC 3550 §A.1
    if (d <= 0) return this.onLate(seq);
    if (d > RESYNC_DISTANCE) {
      this.missing.clear();
      this.highest = seq;
      return;
    }
    const t = this.now();
    for (let i = 1; i < d; i++) this.missing.set((this.highest + i) & 0xffff, { since: t, sentAt: 0, tries: 0 });
    this.highest = seq;
    if (d > 1) {
      for (const s of this.missing.keys()) {
        if (this.missing.size <= MAX_MISSING) break;
        this.missing.delete(s); // insertion order: the oldest first
      }
      this.poll();
    }
  }

  /** Stop asking (the session closed). */
  close(): void {
    this.closed = true;
    this.missing.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private onLate(seq: number): void {
    const m = this.missing.get(seq);
    if (m === undefined) return;
    this.missing.delete(seq);
    if (m.tries === 0) return; // reordered before it was asked for
    this.stats.recovered++;
    const sample = this.now() - m.sentAt;
    if (m.tries === 1 && sample > 0) this.rttMs += (sample - this.rttMs) / 8;
  }

  /** Send the requests that are due; keeps a timer calling it while anything is missing. */
  poll(): void {
    const t = this.now();
    const giveUp = this.giveUpMs();
    const retry = this.retryMs;
    const due: number[] = [];
    for (const [seq, m] of this.missing) {
      if (t - m.since > giveUp || m.tries >= MAX_TRIES) {
        this.missing.delete(seq); // the receiver no longer waits for it
        continue;
      }
      // A retry that could not arrive before the receiver gives up is not sent.
      if (m.tries === 0 || (t - m.sentAt >= retry && t - m.since + this.rttMs <= giveUp)) {
        m.sentAt = t;
        m.tries++;
        due.push(seq);
      }
    }
    if (due.length > 0) {
      this.stats.nacks++;
      this.stats.requests += due.length;
      this.send(due);
    }
    if (this.missing.size === 0) {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
    } else if (this.timer === null) {
      this.timer = setInterval(() => this.poll(), TICK_MS);
      this.timer.unref();
    }
  }
}
