/**
 * Observability of one Strom process, assembled once by `buildStrom`: metrics (metrics.ts), traces
 * (tracing.ts), CMCD QoE (qoe.ts) and access logs. Two entry points see traffic:
 * - `media` accounts for every media response (media-accounting.ts): its `observer` is called by
 *   the delivery handler's close listener, its `lean()` by the lean HTTP/1.1 path; O(1) work, CMCD
 *   parsed only when the request carries some;
 * - `installHooks(app)` adds Fastify onRequest/onResponse hooks for everything else: one access-log
 *   line per request (reqId, route, status, bytes, duration, token subject, trace id), request
 *   metrics by route group and an API span when tracing is on.
 * `attach` connects the scrape-time sources (hot cache, job table, live registry, sockets).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Span } from '@opentelemetry/api';
import type { Config } from '../config.js';
import type { EventBus } from '../events/event-bus.js';
import type { HotCacheStats } from '../store/hot-cache.js';
import type { LiveServer } from '../live/live-server.js';
import type { Store } from '../store/db/database.js';
import type { WorkerPool } from '../jobs/worker-pool.js';
import { cmcdOf, hasCmcd } from './cmcd.js';
import { contentIdOf, MediaAccounting, pathOnly } from './media-accounting.js';
import { MEDIA_GROUP, routeGroupIndex, ROUTE_GROUPS, StromMetrics, type MetricSources } from './metrics.js';
import { QoeTracker, type ContentType } from './qoe.js';
import { runChecks, type Check } from './readiness.js';
import { Tracing } from './tracing.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** performance.now() at onRequest */
    obsStart: number;
    /** socket bytesWritten at onRequest (HTTP/1), -1 on HTTP/2 */
    obsBytes0: number;
    /** the API request span when tracing is on */
    obsSpan: Span | null;
    /** route group index (metrics.ts ROUTE_GROUPS) */
    obsGroup: number;
  }
}

/** How long a passing run of the readiness checks answers `strom_ready` scrapes. */
const READY_METRIC_TTL_MS = 10_000;
const LIVE_GROUP = ROUTE_GROUPS.indexOf('live');
const EVENTS_GROUP = ROUTE_GROUPS.indexOf('events');

/** Components `attach` reads from. */
export interface ObservedParts {
  /** The delivery origin's scrape-time figures (it sits in the HTTP layer above this one). */
  delivery: { hotCache(): HotCacheStats; inFlight(): number };
  store: Store;
  bus: EventBus;
  live: LiveServer;
  pool: WorkerPool;
  openConnections: () => number;
}

/** The observability of one process. */
export class Observability {
  readonly metrics: StromMetrics;
  readonly tracing: Tracing;
  readonly qoe: QoeTracker;
  /** Media responses of this process (both delivery paths; Delivery.setObserver(media.observer)). */
  readonly media: MediaAccounting;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly config: Config, private readonly log: Logger) {
    this.metrics = new StromMetrics({ defaultMetrics: config.metrics.defaultMetrics });
    this.tracing = new Tracing(config.tracing);
    this.qoe = new QoeTracker(this.metrics.registry, config.qoe);
    const qoe = this.qoe;
    this.media = new MediaAccounting(this.metrics, log.child({ component: 'access' }), config.log.accessMediaEvery, (c, id) => qoe.record(c, id, 'vod'));
  }

  /** Fastify hooks: access log, request metrics and API spans for every request Fastify answers. */
  installHooks(app: FastifyInstance): void {
    app.decorateRequest('obsStart', 0);
    app.decorateRequest('obsBytes0', -1);
    app.decorateRequest('obsSpan', null);
    app.decorateRequest('obsGroup', 7);
    const tracing = this.tracing;
    app.addHook('onRequest', (req, reply, done) => {
      req.obsStart = performance.now();
      req.obsBytes0 = req.raw.httpVersionMajor === 2 ? -1 : req.raw.socket.bytesWritten;
      const group = (req.obsGroup = routeGroupIndex(req.url));
      // Live (HTTP-FLV) and event streams hijack the reply, so Fastify's onResponse never runs for
      // them: observe the raw response's close instead (one listener, only for these groups).
      if (group === LIVE_GROUP || group === EVENTS_GROUP) {
        const raw = reply.raw;
        raw.once('close', () => this.onResponse(req, raw.statusCode, raw.getHeader('content-length')));
      }
      if (tracing.enabled) {
        const tp = req.headers.traceparent;
        req.obsSpan = tracing.startRequest(req.method, req.routeOptions.url ?? 'unmatched', typeof tp === 'string' ? tp : undefined);
      }
      done();
    });
    app.addHook('onResponse', (req, reply, done) => {
      if (req.obsGroup !== LIVE_GROUP && req.obsGroup !== EVENTS_GROUP) this.onResponse(req, reply.statusCode, reply.getHeader('content-length'));
      done();
    });
  }

  private onResponse(req: FastifyRequest, status: number, contentLength: unknown): void {
    const ms = performance.now() - req.obsStart;
    const group = req.obsGroup;
    let bytes = req.obsBytes0 >= 0 ? req.raw.socket.bytesWritten - req.obsBytes0 : Number(contentLength) || 0;
    if (!(bytes >= 0)) bytes = 0;
    // Media routes behind Fastify (the MP4 alias) are already counted by the delivery observer.
    if (group !== MEDIA_GROUP) this.metrics.observeHttp(group, status, ms / 1000, bytes);
    if (group === LIVE_GROUP && hasCmcd(req.raw)) {
      const c = cmcdOf(req.raw);
      const id = contentIdOf(req.url);
      if (c !== null && id !== null) this.qoe.record(c, id, 'live' as ContentType);
    }
    const span = req.obsSpan;
    const traceId = span ? span.spanContext().traceId : undefined;
    const sub = (req as { principal?: { sub?: string } | null }).principal?.sub;
    if (span) this.tracing.endRequest(span, status, { 'strom.route_group': ROUTE_GROUPS[group]!, ...(sub ? { 'enduser.id': sub } : {}) });
    req.log.info({
      method: req.method, route: req.routeOptions.url ?? null, group: ROUTE_GROUPS[group], path: pathOnly(req.url), status, bytes,
      durationMs: Math.round(ms * 1000) / 1000, sub, traceId,
    }, 'access');
  }

  /** Connect scrape-time sources and event subscriptions once the components exist. */
  attach(p: ObservedParts): void {
    const s: MetricSources = this.metrics.sources;
    s.hotCache = () => p.delivery.hotCache();
    s.jobCounts = () => p.store.jobs.countByState();
    s.openConnections = p.openConnections;
    s.mediaInFlight = () => p.delivery.inFlight();
    s.liveStreams = () => p.live.registry.list();
    s.liveAbr = () => ({ running: p.live.llhls.abr.running, restarts: p.live.llhls.abr.restarts, refused: p.live.llhls.abr.refused, segmentsOverTarget: p.live.llhls.segmentsOverTarget });
    s.audioBridge = () => p.live.bridges.stats();
    p.live.bridges.observeLatency = (ms) => this.metrics.audioBridgeLatency(ms);
    p.pool.onSettled = (kind, outcome, ms) => this.metrics.jobSettled(kind, outcome, ms);
    this.unsubscribe.push(p.bus.subscribe((e) => {
      // In a cluster every node sees every event; each counts and traces its own, so sums over nodes hold.
      if (!e.local) return;
      if (e.type === 'video.progress') {
        const speed = (e.data as { speed?: number; phase: string }).speed;
        if (speed !== undefined && (e.data as { phase: string }).phase === 'done') this.metrics.transcodeSpeed(speed);
      } else if (e.type === 'video.ready') this.metrics.videoFinished('ready');
      else if (e.type === 'video.errored') this.metrics.videoFinished('errored');
      this.tracing.onBusEvent(e);
    }));
    const llog = this.log.child({ component: 'live-access' });
    const ev = p.live.events;
    this.unsubscribe.push(
      ev.on('publish.start', (e) => {
        this.metrics.livePublishStarted();
        llog.info({ streamId: e.streamId, sessionId: e.sessionId, remote: e.remote, takeover: e.takeover }, 'live publish started');
        this.tracing.onLiveEvent('publish.start', e);
      }),
      ev.on('publish.stop', (e) => {
        llog.info({ streamId: e.streamId, sessionId: e.sessionId, reason: e.reason, durationMs: e.durationMs, bytesIn: e.bytesIn }, 'live publish stopped');
        this.tracing.onLiveEvent('publish.stop', e);
      }),
      ev.on('publish.switch', (e) => {
        llog.info({ streamId: e.streamId, from: e.from, to: e.to, reason: e.reason, configChanged: e.configChanged }, 'live publisher switched');
      }),
      ev.on('publish.interrupted', (e) => {
        llog.info({ streamId: e.streamId, sessionId: e.sessionId, reason: e.reason, reconnectWindowS: e.reconnectWindowS }, 'live publisher left: slate until it returns');
      }),
      ev.on('publish.resumed', (e) => {
        llog.info({ streamId: e.streamId, sessionId: e.sessionId, previousSessionId: e.previousSessionId, afterMs: e.afterMs }, 'live publisher returned within the reconnect window');
      }),
      ev.on('viewer.join', (e) => {
        llog.info({ streamId: e.streamId, sessionId: e.viewerId, protocol: e.protocol }, 'live viewer joined');
        this.tracing.onLiveEvent('viewer.join', e);
      }),
      ev.on('viewer.leave', (e) => {
        this.metrics.liveViewerLeft(e.protocol, e.drops);
        llog.info({ streamId: e.streamId, sessionId: e.viewerId, protocol: e.protocol, reason: e.reason, drops: e.drops, durationMs: e.durationMs }, 'live viewer left');
        this.tracing.onLiveEvent('viewer.leave', e);
      }),
    );
  }

  /** Feed the LL-HLS blocked-requests gauge (for the LL-HLS module). */
  setLlHlsBlockedSource(fn: () => number): void {
    this.metrics.sources.llhlsBlocked = fn;
  }

  /**
   * Export the `/readyz` checks as `strom_ready{check}`, run at scrape time; returns the checks for
   * the route. Scrapes share a run in progress, and a passing run answers for READY_METRIC_TTL_MS;
   * a failing one is run again at the next scrape, so a recovery shows at once.
   */
  readiness(checks: Record<string, Check>): Record<string, Check> {
    let last: { at: number; run: ReturnType<typeof runChecks>; ready: boolean | null } | null = null;
    this.metrics.sources.readiness = () => {
      const now = Date.now();
      if (last !== null && (last.ready === null || (last.ready && now - last.at < READY_METRIC_TTL_MS))) return last.run;
      const entry: NonNullable<typeof last> = { at: now, run: runChecks(checks), ready: null };
      void entry.run.then((r) => { entry.ready = r.ready; });
      last = entry;
      return entry.run;
    };
    return checks;
  }

  /** Unsubscribe and flush traces. */
  async close(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    await this.tracing.shutdown();
  }
}
