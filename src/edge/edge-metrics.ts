/**
 * Metrics of the edge cache. The cache bumps plain integers (`EdgeStats`); prom-client reads them
 * at scrape time, so the hot path never touches a metric object (as in the relay's metrics).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { TierStats } from './object-store.js';
import type { OriginPool } from './origin-pool.js';
import type { Surface } from './viewer-counter.js';

/** Monotonic totals of the edge cache, bumped where things happen. */
export class EdgeStats {
  /** Viewer requests by how the cache answered them. */
  hit = 0;
  hitDisk = 0;
  miss = 0;
  collapsed = 0;
  revalidated = 0;
  staleIfError = 0;
  busy = 0;
  errors = 0;
  /** Requests the edge sent to origins, by why. */
  readonly originRequests = { fill: 0, revalidate: 0, prefetch: 0 };
  /** Body bytes received from origins. */
  originBytes = 0;
  /** Cache warming: prefetches started, dropped at the concurrency bound, skipped (stored or known missing). */
  prefetchStarted = 0;
  prefetchDropped = 0;
  prefetchSkipped = 0;
}

/** What the metrics read at scrape time besides the counters. */
export interface EdgeGauges {
  fills(): number;
  waiting(): number;
  tiers(): { memory: TierStats; disk: TierStats | null; diskSkipped: number };
  viewers(): Array<[Surface, number]>;
}

/** The edge cache's Prometheus metrics. */
export class EdgeMetrics {
  private readonly all: Array<Counter<string> | Gauge<string>>;

  constructor(st: EdgeStats, g: EdgeGauges) {
    const total = (name: string, help: string, read: () => Array<[Record<string, string>, number]>, labelNames: string[] = []) =>
      new Counter({ name, help, labelNames, registers: [], collect() {
        this.reset();
        for (const [labels, v] of read()) this.inc(labels, v);
      } });
    const gauge = (name: string, help: string, read: () => Array<[Record<string, string>, number]>, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers: [], collect() {
        this.reset();
        for (const [labels, v] of read()) this.set(labels, v);
      } });
    const tiers = () => {
      const t = g.tiers();
      return t.disk ? [['memory', t.memory], ['disk', t.disk]] as const : [['memory', t.memory]] as const;
    };
    this.all = [
      total('strom_edge_requests_total', 'Viewer requests the edge cache answered, by result (hit, hit-disk, miss = this request went to the origin, collapsed = joined a request already in flight, revalidated = 304 from the origin, stale-if-error, busy, error)', () => [
        [{ result: 'hit' }, st.hit], [{ result: 'hit-disk' }, st.hitDisk], [{ result: 'miss' }, st.miss], [{ result: 'collapsed' }, st.collapsed],
        [{ result: 'revalidated' }, st.revalidated], [{ result: 'stale-if-error' }, st.staleIfError], [{ result: 'busy' }, st.busy], [{ result: 'error' }, st.errors],
      ], ['result']),
      total('strom_edge_origin_requests_total', 'Requests the edge sent to its origins, by kind (fill, revalidate, prefetch)', () => Object.entries(st.originRequests).map(([kind, v]) => [{ kind }, v]), ['kind']),
      total('strom_edge_origin_bytes_total', 'Body bytes the edge received from its origins', () => [[{}, st.originBytes]]),
      total('strom_edge_prefetch_total', 'Cache warming of next VOD segments, by result (started, dropped at edge.prefetchConcurrency, skipped: stored, in flight or known missing)', () => [
        [{ result: 'started' }, st.prefetchStarted], [{ result: 'dropped' }, st.prefetchDropped], [{ result: 'skipped' }, st.prefetchSkipped],
      ], ['result']),
      gauge('strom_edge_viewers', 'Client addresses that fetched from an HTTP surface of the edge (vod, ll-hls, ll-dash) in the last 10 s; FLV, RTMP and WHEP viewers are strom_live_viewers', () => g.viewers().map(([surface, n]) => [{ surface }, n]), ['surface']),
      gauge('strom_edge_fills', 'Origin requests in flight (each shared by every viewer waiting for the same object)', () => [[{}, g.fills()]]),
      gauge('strom_edge_waiting_viewers', 'Viewers being streamed from origin requests in flight', () => [[{}, g.waiting()]]),
      gauge('strom_edge_cache_bytes', 'Body bytes stored per cache tier', () => tiers().map(([tier, s]) => [{ tier }, s.bytes]), ['tier']),
      gauge('strom_edge_cache_max_bytes', 'Byte budget per cache tier (edge.cacheBytes, edge.diskBytes)', () => tiers().map(([tier, s]) => [{ tier }, s.maxBytes]), ['tier']),
      gauge('strom_edge_cache_objects', 'Objects stored per cache tier', () => tiers().map(([tier, s]) => [{ tier }, s.objects]), ['tier']),
      total('strom_edge_cache_evictions_total', 'Objects evicted per tier to stay within its byte budget', () => tiers().map(([tier, s]) => [{ tier }, s.evictions]), ['tier']),
      total('strom_edge_disk_writes_skipped_total', 'Objects not written to the disk tier because its write queue was full or a write failed', () => [[{}, g.tiers().diskSkipped]]),
    ];
  }

  /** Join the process registry (once). */
  register(registry: Registry): void {
    for (const m of this.all) registry.registerMetric(m);
  }
}

/** Per-origin health and request counts of the edge's origin pool. */
export class OriginMetrics {
  private readonly all: Array<Counter<string> | Gauge<string>>;

  constructor(pool: OriginPool) {
    this.all = [
      new Gauge({ name: 'strom_edge_origin_healthy', help: 'Whether each origin passed its last health check or request (1) or not (0)', labelNames: ['origin'], registers: [], collect() {
        for (const o of pool.origins) this.set({ origin: o.url }, o.healthy ? 1 : 0);
      } }),
      new Counter({ name: 'strom_edge_origin_attempts_total', help: 'Requests sent to each origin (a failover sends one request to several), by result', labelNames: ['origin', 'result'], registers: [], collect() {
        this.reset();
        for (const o of pool.origins) {
          this.inc({ origin: o.url, result: 'answered' }, o.requests - o.failures);
          this.inc({ origin: o.url, result: 'failed' }, o.failures);
        }
      } }),
    ];
  }

  /** Join the process registry (once). */
  register(registry: Registry): void {
    for (const m of this.all) registry.registerMetric(m);
  }
}
