/**
 * Prometheus metrics of one Strom process (prom-client, one Registry per process so tests can run
 * several). Request metrics go to typed arrays (http-stats.ts: `observeHttp(groupIndex, status, …)`
 * is a bucket search and three increments), so the delivery fast path pays no label hashing. Everything read from other components (hot cache, job table,
 * live registry, connections) is pulled in `collect()` at scrape time, not pushed per event.
 * Label values are bounded: route groups, status classes, job kinds/outcomes, content types,
 * live protocols and operator-provisioned live stream ids (capped at MAX_STREAM_LABELS).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { HotCacheStats } from '../store/hot-cache.js';
import { HttpStats } from './http-stats.js';
import type { LiveStreamStatus } from '../live/stream/stream-registry.js';
import type { AudioBridgeStats } from '../live/transcode/audio-bridge-pool.js';

/** Bounded route groups used as the `group` label. */
export const ROUTE_GROUPS = ['media', 'api', 'upload', 'live', 'events', 'health', 'metrics', 'other'] as const;
/** One route group. */
export type RouteGroup = (typeof ROUTE_GROUPS)[number];
/** Index of `media` in ROUTE_GROUPS (the fast path's group). */
export const MEDIA_GROUP = 0;
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
/** Live streams labelled individually; the rest are summed under stream="_other". */
export const MAX_STREAM_LABELS = 200;

/** Route group index of a request path (query string allowed). */
export function routeGroupIndex(url: string): number {
  if (url.startsWith('/v/') || url.startsWith('/s/')) return 0;
  if (url.startsWith('/api/')) {
    if (url.startsWith('/api/v1/uploads') || url.startsWith('/api/v1/video/upload')) return 2;
    if (url.startsWith('/api/v1/events')) return 4;
    if (url.startsWith('/api/v1/video/stream/')) return 0; // the original design's MP4 route
    return 1;
  }
  if (url.startsWith('/live/')) return 3;
  if (url === '/healthz' || url === '/readyz' || url.startsWith('/healthz?') || url.startsWith('/readyz?')) return 5;
  if (url === '/metrics' || url.startsWith('/metrics?')) return 6;
  return 7;
}

/** Where scrape-time figures come from; set by `attach` once the components exist. */
export interface MetricSources {
  hotCache?: () => HotCacheStats;
  jobCounts?: () => Promise<Record<string, number>>;
  openConnections?: () => number;
  mediaInFlight?: () => number;
  liveStreams?: () => LiveStreamStatus[];
  /** LL-HLS blocking playlist requests waiting (`_HLS_msn`); fed by the LL-HLS module when it exists. */
  llhlsBlocked?: () => number;
  /** Live ABR: transcodes running, restarts, refusals (cap) and segments over the fixed target duration. */
  liveAbr?: () => { running: number; restarts: number; refused: number; segmentsOverTarget: number };
  /** The live audio bridge's figures (children, restarts, units). */
  audioBridge?: () => AudioBridgeStats;
  /** Renders the exposition instead of the registry alone (delivery workers' metrics summed in). */
  exposition?: (own: Registry) => Promise<string>;
  /** The `/readyz` checks, run at scrape time for `strom_ready` (names of the failing ones). */
  readiness?: () => Promise<{ checks: Record<string, string>; failing: string[] }>;
}

/** The metrics of one process. */
export class StromMetrics {
  readonly registry = new Registry();
  readonly sources: MetricSources = {};
  private readonly http: HttpStats;
  private readonly jobDuration: Histogram<'kind' | 'outcome'>;
  private readonly jobsFinished: Counter<'kind' | 'outcome'>;
  private readonly speed: Histogram;
  private readonly videos: Counter<'outcome'>;
  private readonly readerDrops: Counter<'protocol'>;
  private readonly liveSessions: Counter<'event'>;
  private readonly bridgeLatency: Histogram;

  constructor(o: { defaultMetrics: boolean }) {
    const registers = [this.registry];
    const src = this.sources;
    if (o.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.http = new HttpStats(ROUTE_GROUPS, STATUS_CLASSES, registers);

    new Gauge({ name: 'strom_http_open_connections', help: 'Open client connections (TCP/TLS sockets)', registers, collect() {
      this.set(src.openConnections?.() ?? 0);
    } });
    new Gauge({ name: 'strom_media_requests_in_flight', help: 'Media responses being sent now', registers, collect() {
      this.set(src.mediaInFlight?.() ?? 0);
    } });
    // Readiness as a metric: the same checks as GET /readyz, run when scraped, so alerts see a
    // failing check without anything polling /readyz. One series per check, 1 = passing.
    new Gauge({ name: 'strom_ready', help: 'Readiness checks of /readyz at scrape time by check: 1 passing, 0 failing', labelNames: ['check'] as const, registers, async collect() {
      const r = await src.readiness?.();
      this.reset();
      if (!r) return;
      for (const check of Object.keys(r.checks)) this.set({ check }, r.failing.includes(check) ? 0 : 1);
    } });

    // Hot cache: its own counters are cumulative; mirror the growth into Prometheus counters.
    const last = { hits: 0, misses: 0, evictions: 0 };
    // Registered before the other hot-cache metrics: its collect() runs first in a scrape and updates them all.
    const hits: Counter = new Counter({ name: 'strom_hot_cache_hits_total', help: 'Hot-cache lookups answered from memory', registers, collect() {
      const s = src.hotCache?.();
      if (!s) return;
      if (s.hits >= last.hits) hits.inc(s.hits - last.hits);
      if (s.misses >= last.misses) misses.inc(s.misses - last.misses);
      if (s.evictions >= last.evictions) evictions.inc(s.evictions - last.evictions);
      last.hits = s.hits;
      last.misses = s.misses;
      last.evictions = s.evictions;
      cacheBytes.set(s.bytes);
      cacheEntries.set(s.entries);
      cacheMax.set(s.maxBytes);
    } });
    const cacheBytes = new Gauge({ name: 'strom_hot_cache_bytes', help: 'Bytes held in the hot cache', registers });
    const cacheEntries = new Gauge({ name: 'strom_hot_cache_entries', help: 'Objects held in the hot cache', registers });
    const cacheMax = new Gauge({ name: 'strom_hot_cache_max_bytes', help: 'Byte budget of the hot cache (delivery.cacheBytes)', registers });
    const misses = new Counter({ name: 'strom_hot_cache_misses_total', help: 'Hot-cache lookups that read the file', registers });
    const evictions = new Counter({ name: 'strom_hot_cache_evictions_total', help: 'Objects evicted from the hot cache', registers });

    new Gauge({ name: 'strom_jobs', help: 'Jobs in the durable queue by state (queued = queue depth)', labelNames: ['state'] as const, registers, async collect() {
      const counts = (await src.jobCounts?.().catch(() => null)) ?? {};
      for (const state of ['queued', 'running', 'done', 'failed', 'cancelled']) this.set({ state }, counts[state] ?? 0);
    } });
    this.jobDuration = new Histogram({ name: 'strom_job_duration_seconds', help: 'Run time of one job attempt', labelNames: ['kind', 'outcome'] as const, buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200], registers });
    this.jobsFinished = new Counter({ name: 'strom_jobs_finished_total', help: 'Job attempts finished by outcome (completed, failed, retried)', labelNames: ['kind', 'outcome'] as const, registers });
    this.speed = new Histogram({ name: 'strom_transcode_speed_ratio', help: 'Transcode speed reported by ffmpeg (× realtime)', buckets: [0.25, 0.5, 1, 2, 4, 8, 16, 32], registers });
    this.videos = new Counter({ name: 'strom_videos_finished_total', help: 'Videos that became ready or errored', labelNames: ['outcome'] as const, registers });

    // Registered before the per-stream gauges: its collect() runs first in a scrape and fills them.
    new Gauge({ name: 'strom_live_streams_active', help: 'Live streams with a publisher', registers, collect() {
      const list = src.liveStreams?.() ?? [];
      bitrate.reset();
      fps.reset();
      drops.reset();
      viewers.reset();
      let active = 0;
      let labelled = 0;
      for (const s of list) {
        if (s.state === 'active') active++;
        if (s.state !== 'active' && s.viewers.total === 0) continue;
        const stream = labelled++ < MAX_STREAM_LABELS ? s.streamId : '_other';
        bitrate.inc({ stream }, s.ingestBitrate);
        fps.inc({ stream }, s.fps);
        drops.inc({ stream }, s.drops);
        for (const protocol of ['http-flv', 'ws-flv', 'rtmp'] as const) viewers.inc({ stream, protocol }, s.viewers[protocol]);
      }
      this.set(active);
    } });
    const streamGauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ['stream'] as const, registers });
    const bitrate = streamGauge('strom_live_ingest_bitrate_bps', 'Ingest bitrate of an active live stream (bits/s)');
    const fps = streamGauge('strom_live_ingest_fps', 'Ingest video frame rate of an active live stream');
    const drops = streamGauge('strom_live_stream_drops', 'Media units dropped for slow viewers since the stream was published');
    const viewers = new Gauge({ name: 'strom_live_viewers', help: 'Viewers of a live stream by protocol', labelNames: ['stream', 'protocol'] as const, registers });
    this.readerDrops = new Counter({ name: 'strom_live_reader_drops_total', help: 'Media units dropped for slow viewers, counted when the viewer leaves', labelNames: ['protocol'] as const, registers });
    this.liveSessions = new Counter({ name: 'strom_live_sessions_total', help: 'Live publish sessions and viewers by event', labelNames: ['event'] as const, registers });
    // Live ABR: cumulative figures of the LL-HLS service mirrored at scrape time.
    new Gauge({ name: 'strom_live_abr_transcodes', help: 'Live ABR ffmpeg children running (bounded by live.abrMaxStreams)', registers, collect() {
      this.set(src.liveAbr?.().running ?? 0);
    } });
    const abrLast = { restarts: 0, refused: 0, segmentsOverTarget: 0 };
    const abrCounter = (name: string, help: string, key: keyof typeof abrLast) => new Counter({ name, help, registers, collect() {
      const v = src.liveAbr?.()[key] ?? 0;
      if (v > abrLast[key]) this.inc(v - abrLast[key]);
      abrLast[key] = v;
    } });
    abrCounter('strom_live_abr_restarts_total', 'Live ABR ffmpeg children restarted after a crash', 'restarts');
    abrCounter('strom_live_abr_refused_total', 'Streams left passthrough because live.abrMaxStreams transcodes were running', 'refused');
    abrCounter('strom_llhls_segments_over_target_total', 'LL-HLS segments longer than their fixed EXT-X-TARGETDURATION (GOP grew)', 'segmentsOverTarget');
    new Gauge({ name: 'strom_llhls_blocked_requests', help: 'LL-HLS blocking playlist reloads waiting (0 until LL-HLS is enabled)', registers, collect() {
      this.set(src.llhlsBlocked?.() ?? 0);
    } });
    // Live audio bridge: the counters mirror the pool's cumulative figures at scrape time.
    const lastBridge = { restarts: 0, transcodedUnits: 0, droppedBytes: 0, refused: 0 };
    new Gauge({ name: 'strom_live_audio_bridge_children', help: 'ffmpeg children transcoding live audio (AAC<->Opus)', registers, collect() {
      const st = src.audioBridge?.();
      this.set(st?.children ?? 0);
      if (!st) return;
      for (const [k, c] of [['restarts', bridgeRestarts], ['transcodedUnits', bridgeUnits], ['droppedBytes', bridgeDropped], ['refused', bridgeRefused]] as const) {
        if (st[k] > lastBridge[k]) c.inc(st[k] - lastBridge[k]);
        lastBridge[k] = st[k];
      }
    } });
    const bridgeRestarts = new Counter({ name: 'strom_live_audio_bridge_restarts_total', help: 'Audio bridge children restarted after a crash or stall', registers });
    const bridgeUnits = new Counter({ name: 'strom_live_audio_bridge_units_total', help: 'Audio units transcoded by the audio bridge', registers });
    const bridgeDropped = new Counter({ name: 'strom_live_audio_bridge_dropped_bytes_total', help: 'Audio input bytes dropped by the bridge (ffmpeg behind, unusable packets)', registers });
    const bridgeRefused = new Counter({ name: 'strom_live_audio_bridge_refused_total', help: 'Viewers served the source audio because live.audioBridgeMaxChildren was reached', registers });
    this.bridgeLatency = new Histogram({ name: 'strom_live_audio_bridge_latency_seconds', help: 'Latency the audio bridge adds per packet (input written to output read)', buckets: [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56], registers });
  }

  /** One finished HTTP response: `group` from ROUTE_GROUPS (index), duration in seconds, bytes sent. */
  observeHttp(group: number, status: number, seconds: number, bytes: number): void {
    let c = (status / 100) | 0;
    if (c < 1) c = 1;
    else if (c > 5) c = 5;
    this.http.observe(group, c - 1, seconds, bytes);
  }

  /** A job attempt finished (WorkerPool.onSettled). */
  jobSettled(kind: string, outcome: 'completed' | 'failed' | 'retried', ms: number): void {
    this.jobDuration.observe({ kind, outcome }, ms / 1000);
    this.jobsFinished.inc({ kind, outcome });
  }

  /** ffmpeg reported a transcode speed (× realtime). */
  transcodeSpeed(speed: number): void {
    if (Number.isFinite(speed) && speed > 0) this.speed.observe(speed);
  }

  /** A video settled as ready or errored. */
  videoFinished(outcome: 'ready' | 'errored'): void {
    this.videos.inc({ outcome });
  }

  /** A live viewer left after `drops` dropped units. */
  liveViewerLeft(protocol: string, drops: number): void {
    this.liveSessions.inc({ event: 'viewer' });
    if (drops > 0) this.readerDrops.inc({ protocol }, drops);
  }

  /** Latency one audio bridge packet added (ms). */
  audioBridgeLatency(ms: number): void {
    this.bridgeLatency.observe(ms / 1000);
  }

  /** A publish session started. */
  livePublishStarted(): void {
    this.liveSessions.inc({ event: 'publish' });
  }

  /** The text exposition (Prometheus 0.0.4). */
  async exposition(): Promise<string> {
    if (this.sources.exposition) return this.sources.exposition(this.registry);
    return this.registry.metrics();
  }
}
