/**
 * The last 15 minutes of the operators' headline figures, sampled in the server so the
 * dashboard's charts have history the moment the page opens. Every `metrics.historyIntervalMs`
 * (default 5 s; 0 disables) the sampler reads the exposition GET /metrics serves
 * (`StromMetrics.exposition()`: this process's registry with the delivery workers' series summed
 * in), keeps the few series it needs and derives one point from the counters' increase since the
 * previous sample and the gauges' current values (`derivePoint`). A counter that went down (a
 * restarted worker, or a worker's share missing from one reading) is handled by
 * `CounterIncreases` (prom-text.ts).
 *
 * Bounded: a ring of at most ceil(15 min / interval) points (180 at the default 5 s, each a dozen
 * numbers) plus the last value of each counter series read (bounded by the metrics' label
 * bounds); nothing grows with traffic. One sample runs at a time, the timer is unref()'d and
 * `stop()` ends it.
 */
import type { Logger } from 'pino';
import { buckets, CounterIncreases, isServerError, parseProm, quantile, sum, type Sample } from './prom-text.js';

/** How far back the history reaches. */
export const HISTORY_WINDOW_MS = 15 * 60_000;

const HTTP = 'strom_http_request_duration_seconds';
const QOE_STARTUP = 'strom_qoe_startup_seconds';
/** The series a point is derived from; everything else in the exposition is dropped at once. */
const COUNTERS = new Set([`${HTTP}_bucket`, `${HTTP}_count`, `${QOE_STARTUP}_bucket`, 'strom_qoe_rebuffer_seconds_total']);
const GAUGES = new Set(['strom_live_viewers', 'strom_live_ingest_bitrate_bps', 'strom_webrtc_sessions', 'strom_qoe_active_sessions']);

/** Live viewers by protocol at the end of an interval. */
export interface ViewerCounts {
  'http-flv': number;
  'ws-flv': number;
  rtmp: number;
  /** Live players reporting CMCD (hls.js, dash.js) heard within `qoe.sessionIdleMs`. */
  hls: number;
  whep: number;
}

/** One interval of the history; null where the interval had nothing to measure. */
export interface HistoryPoint {
  /** End of the interval, epoch ms. */
  t: number;
  /** Requests per second, all route groups. */
  rps: number;
  /** Request latency quantiles (ms), without event streams and live FLV responses. */
  p95Ms: number | null;
  p99Ms: number | null;
  /** Share of responses that were 5xx (0–1). */
  errorRatio: number | null;
  viewers: ViewerCounts;
  /** Ingest bitrate of all live streams, bits/s. */
  ingestBps: number;
  /** Median startup time (ms) of playback sessions that started in the interval. */
  qoeStartupP50Ms: number | null;
  /** Rebuffer time over watch time of the active playback sessions (0–1). */
  rebufferRatio: number | null;
}

/** Long-lived responses would swamp request latency: they are left out of the quantiles. */
const shortLived = (l: Record<string, string>) => l.group !== 'events' && l.group !== 'live';
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const ms = (s: number | null) => (s === null ? null : round(s * 1000));

/** The figures of one interval of `seconds` ending at `t`: counters' increases `inc`, gauges' values `cur`. */
export function derivePoint(inc: Sample[], cur: Sample[], seconds: number, t: number): HistoryPoint {
  const requests = sum(inc, `${HTTP}_count`);
  const window = buckets(inc, HTTP, shortLived);
  const active = sum(cur, 'strom_qoe_active_sessions');
  const stalled = sum(inc, 'strom_qoe_rebuffer_seconds_total');
  const protocol = (p: string) => sum(cur, 'strom_live_viewers', (l) => l.protocol === p);
  return {
    t,
    rps: round(requests / seconds),
    p95Ms: ms(quantile(0.95, window)),
    p99Ms: ms(quantile(0.99, window)),
    errorRatio: requests > 0 ? round(sum(inc, `${HTTP}_count`, isServerError) / requests, 4) : null,
    viewers: {
      'http-flv': protocol('http-flv'),
      'ws-flv': protocol('ws-flv'),
      rtmp: protocol('rtmp'),
      hls: sum(cur, 'strom_qoe_active_sessions', (l) => l.type === 'live'),
      whep: sum(cur, 'strom_webrtc_sessions', (l) => l.role === 'whep'),
    },
    ingestBps: Math.round(sum(cur, 'strom_live_ingest_bitrate_bps')),
    qoeStartupP50Ms: ms(quantile(0.5, buckets(inc, QOE_STARTUP))),
    rebufferRatio: active > 0 ? round(Math.min(1, stalled / (active * seconds)), 4) : null,
  };
}

/** A fixed-capacity ring: once full, each push overwrites the oldest item. */
export class Ring<T> {
  private readonly items: T[] = [];
  private next = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`ring capacity ${capacity} must be at least 1`);
  }

  /** Add an item, dropping the oldest when full. */
  push(item: T): void {
    if (this.items.length < this.capacity) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Items held. */
  get length(): number {
    return this.items.length;
  }

  /** Items oldest first. */
  toArray(): T[] {
    return this.items.length < this.capacity ? [...this.items] : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }
}

/** What `GET /api/v1/metrics/history` answers. */
export interface HistorySnapshot {
  /** Sampling interval (ms); 0 when the history is off. */
  intervalMs: number;
  points: HistoryPoint[];
}

/** Options of the sampler. */
export interface MetricsHistoryOptions {
  /** The exposition text, as GET /metrics serves it. */
  read: () => Promise<string>;
  intervalMs: number;
  log?: Logger;
  /** Clock (epoch ms), for tests. */
  now?: () => number;
}

/** The sampler and its ring of points. */
export class MetricsHistory {
  /** Most points kept: ceil(15 min / interval). */
  readonly capacity: number;
  readonly intervalMs: number;
  private readonly ring: Ring<HistoryPoint>;
  private readonly now: () => number;
  private readonly increases = new CounterIncreases();
  private prevAt: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(private readonly o: MetricsHistoryOptions) {
    this.intervalMs = Math.max(0, o.intervalMs);
    this.capacity = this.intervalMs > 0 ? Math.ceil(HISTORY_WINDOW_MS / this.intervalMs) : 0;
    this.ring = new Ring(Math.max(1, this.capacity));
    this.now = o.now ?? Date.now;
  }

  /** Take a first sample now and then one every interval (no-op when disabled). */
  start(): this {
    if (this.intervalMs === 0 || this.timer !== null) return this;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Stop sampling (the points stay readable). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Read the exposition once and add the point since the previous sample; skipped while one runs. */
  async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const samples = parseProm(await this.o.read());
      const at = this.now();
      const inc = this.increases.next(samples.filter((s) => COUNTERS.has(s.name)));
      const gauges = samples.filter((s) => GAUGES.has(s.name));
      if (inc !== null && this.prevAt !== null && at > this.prevAt) this.ring.push(derivePoint(inc, gauges, (at - this.prevAt) / 1000, at));
      this.prevAt = at;
    } catch (err) {
      this.o.log?.warn({ err }, 'metrics history: sampling failed');
    } finally {
      this.busy = false;
    }
  }

  /** The points, oldest first; with `since` (epoch ms) only those after it. */
  snapshot(since?: number): HistorySnapshot {
    const points = this.ring.toArray();
    return { intervalMs: this.intervalMs, points: since === undefined ? points : points.filter((p) => p.t > since) };
  }
}
