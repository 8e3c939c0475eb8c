/**
 * The seeded impairment model of one direction of a link, the part of Linux netem this machine
 * lacks (no sch_netem): random or Gilbert-Elliott bursty loss, a token-bucket rate cap with a
 * bounded tail-drop queue, then a delay with jitter (reordering falls out of jitter, or is forced
 * as in netem: a reordered packet skips the delay). Pure and clock-free: `admit` takes the packet's
 * arrival time and returns when it should leave (or why it is dropped), so the relays only keep
 * timers and a test can replay a packet stream deterministically.
 */

/** A small seeded PRNG (mulberry32), so a loss pattern can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Gilbert-Elliott two-state loss (Gilbert 1960, Elliott 1963; the netem "gemodel" parameters). */
export interface GilbertElliott {
  /** Per packet probability of good → bad. */
  p: number;
  /** Per packet probability of bad → good (mean time in bad = 1/r packets). */
  r: number;
  /** Loss probability in the good state (netem 1−k; default 0). */
  lossGood?: number;
  /** Loss probability in the bad state (netem 1−h; default 1). */
  lossBad?: number;
}

/** What one direction of the link does to packets. Shares are 0..1, times ms, rate bits/s. */
export interface Impairment {
  /** Independent random loss (ignored when `gilbert` is set). */
  loss?: number;
  gilbert?: GilbertElliott;
  delayMs?: number;
  /** Uniform spread ±jitterMs around delayMs (clamped to 0..maxDelayMs). */
  jitterMs?: number;
  /** Share of packets sent without the delay, overtaking those in flight (netem `reorder`). */
  reorder?: number;
  /** Rate cap in bit/s (0/undefined = none): a token bucket of `burstBytes`. */
  rateBps?: number;
  /** Token bucket depth in bytes (default one 1500-byte packet). */
  burstBytes?: number;
  /** Bounds of the rate cap's queue; a packet that does not fit is tail-dropped (default 1000 / 1.5 MB). */
  queueMaxPackets?: number;
  queueMaxBytes?: number;
  /** No packet is held longer than this in the delay line (default 10 s). */
  maxDelayMs?: number;
}

/** The "mean loss + mean burst length" form: lossy runs of `burst` packets on average, `loss` overall. */
export function burstLoss(loss: number, burst: number): GilbertElliott {
  if (!(loss > 0 && loss < 1) || !(burst >= 1)) throw new RangeError(`burst loss needs 0 < loss < 1 and burst >= 1, got loss ${loss}, burst ${burst}`);
  // Stationary bad share p/(p+r) = loss with lossBad 1, lossGood 0; mean run in bad = 1/r.
  const r = 1 / burst;
  return { p: (loss * r) / (1 - loss), r, lossGood: 0, lossBad: 1 };
}

/** Counters of one direction. */
export interface DirectionStats {
  /** Packets that left (or will leave) the link. */
  sent: number;
  /** Lost by the loss model. */
  dropped: number;
  /** Held for a non-zero time (queue or delay). */
  delayed: number;
  /** Left before a packet that arrived earlier. */
  reordered: number;
  /** Tail-dropped by the rate cap's queue. */
  queueDropped: number;
}

/** The model's verdict for one packet. */
export type Verdict = { kind: 'send'; at: number } | { kind: 'drop' } | { kind: 'queue-drop' };

/** One direction's state: PRNG, loss state, bucket, queue and the latest departure seen. */
export class LinkModel {
  readonly stats: DirectionStats = { sent: 0, dropped: 0, delayed: 0, reordered: 0, queueDropped: 0 };
  private bad = false;
  private tokens: number;
  private tokensAt = -Infinity;
  /** Departure times (from the rate cap) of packets still queued, with their sizes. */
  private readonly queue: { at: number; bytes: number }[] = [];
  private queueBytes = 0;
  private latest = -Infinity;

  constructor(private readonly o: Impairment, private readonly rnd: () => number) {
    this.tokens = o.burstBytes ?? 1500;
  }

  /** Decide the fate of a `bytes`-long packet arriving at `now` (ms). */
  admit(bytes: number, now: number, droppable = true): Verdict {
    if (droppable && this.lost()) {
      this.stats.dropped++;
      return { kind: 'drop' };
    }
    let at = now;
    if (this.o.rateBps !== undefined && this.o.rateBps > 0) {
      const t = this.shape(bytes, now);
      if (t === null) {
        this.stats.queueDropped++;
        return { kind: 'queue-drop' };
      }
      at = t;
    }
    at += this.delay();
    this.stats.sent++;
    if (at > now) this.stats.delayed++;
    if (at < this.latest) this.stats.reordered++;
    else this.latest = at;
    return { kind: 'send', at };
  }

  private lost(): boolean {
    const g = this.o.gilbert;
    if (g === undefined) return this.o.loss !== undefined && this.o.loss > 0 && this.rnd() < this.o.loss;
    // Loss by the current state, then the state transition (netem's gemodel order).
    const share = this.bad ? (g.lossBad ?? 1) : (g.lossGood ?? 0);
    const lost = share > 0 && this.rnd() < share;
    this.bad = this.bad ? this.rnd() >= g.r : this.rnd() < g.p;
    return lost;
  }

  private delay(): number {
    const base = this.o.delayMs ?? 0;
    const jitter = this.o.jitterMs ?? 0;
    if (base === 0 && jitter === 0) return 0;
    if (this.o.reorder !== undefined && this.o.reorder > 0 && this.rnd() < this.o.reorder) return 0;
    const d = jitter > 0 ? base + (this.rnd() * 2 - 1) * jitter : base;
    return Math.min(Math.max(d, 0), this.o.maxDelayMs ?? 10_000);
  }

  /** Token bucket (RFC 2697's single bucket) feeding a FIFO: the departure time, or null when the queue is full. */
  private shape(bytes: number, now: number): number | null {
    while (this.queue.length > 0 && this.queue[0]!.at <= now) this.queueBytes -= this.queue.shift()!.bytes;
    if (this.queue.length >= (this.o.queueMaxPackets ?? 1000) || this.queueBytes + bytes > (this.o.queueMaxBytes ?? 1_500_000)) return null;
    const rate = this.o.rateBps! / 8000; // bytes per ms
    const depth = this.o.burstBytes ?? 1500;
    const start = Math.max(now, this.queue.at(-1)?.at ?? now);
    this.tokens = Math.min(depth, this.tokens + (start - this.tokensAt) * rate);
    let at = start;
    if (this.tokens >= bytes) this.tokens -= bytes;
    else {
      at += (bytes - this.tokens) / rate; // wait for the missing tokens; the bucket is then empty
      this.tokens = 0;
    }
    this.tokensAt = at;
    if (at > now) {
      this.queue.push({ at, bytes });
      this.queueBytes += bytes;
    }
    return at;
  }
}
