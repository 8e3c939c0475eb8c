/**
 * `buildStrom(config)` assembles the process without listening: the Fastify app (API, health,
 * aliases), the delivery origin in front of it, and the underlying HTTP/1.1 or HTTP/2 server.
 * Tests call it and then `listen({ port: 0 })`; `strom serve` does the same plus signals.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerFactory } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { fail, isStromError, StromError } from './errors.js';
import { createLogger } from './logger.js';
import { createDelivery, type Delivery } from './http/delivery/delivery-handler.js';
import { healthRoutes, readinessRoutes } from './http/health.js';
import { streamAliasRoutes } from './http/stream-alias.js';
// --- control API, auth, signed playback (issue 4) ---
import { registerControlPlane, type ControlPlane } from './http/api/api.js';
import { deadlineError } from './auth/deadlines.js';
import { EventBus } from './events/event-bus.js';
import { sseRoutes } from './http/events/sse.js';
// --- web UI (issue 8): the built single-page app at / and /assets/* ---
import { webRoutes } from './http/web.js';
// --- live (issue 5) ---
import { createLiveServer, type LiveServer } from './live/live-server.js';
import { wireLive } from './live/live-wiring.js';
// --- VOD (issue 3) ---
import { VodService } from './vod/vod-service.js';
// --- observability (issue 7) ---
import { Observability } from './observability/observability.js';
import { readinessChecks } from './observability/readiness.js';
import { qoeRoutes } from './observability/qoe-routes.js';
import { registerMetricsHistory } from './http/api/metrics-history.js';
import { createMetricsListener, metricsRoutes, type MetricsListener } from './http/metrics.js';
import { registerUploads, type Uploads } from './http/uploads/index.js';
// --- webhooks (issue 3, item 8) ---
import { WebhookDispatcher } from './events/webhook-dispatcher.js';
// --- delivery workers (issue 2) ---
import { DeliveryWorkers, forgetExitedWorkers } from './http/delivery/workers/delivery-workers.js';
import { answerClientError } from './http/client-error.js';

/** A built (not yet listening) Strom process. */
export interface Strom {
  config: Config;
  log: Logger;
  app: FastifyInstance;
  delivery: Delivery;
  /** Issue 4: metadata store (`control.store`), playback policy/tokens, media limiter, playback guard. */
  control: ControlPlane;
  /** The internal event bus (SSE, webhooks, metrics subscribe). */
  bus: EventBus;
  /** Live (issue 5): RTMP ingest, HTTP-FLV/WS-FLV/RTMP playback, `live.status(id)`, `live.events`; RTMP port: `live.rtmp.port()`. */
  live: LiveServer;
  /** VOD (issue 3): job queue + transcode engine; `vod.enqueue(videoId)` after a source is stored. */
  vod: VodService;
  /** Issue 7: metrics, tracing, CMCD QoE, access logs. */
  obs: Observability;
  /** Issue 7: the separate /metrics listener when `metrics.port` is set. */
  metricsListener: MetricsListener | null;
  /** Issue 2: delivery worker processes (`delivery.workers` > 0 on plain HTTP), null otherwise. */
  deliveryWorkers: DeliveryWorkers | null;
  /** Uploads (issue 3): tus + multipart; `uploads.sweep()` removes expired unfinished uploads. */
  uploads: Uploads;
  /** Webhooks (issue 3): delivers bus events to `/api/v1/webhooks` receivers; `dropped` counts queue overflow. */
  webhooks: WebhookDispatcher;
  server: http.Server | http2.Http2SecureServer;
  /** Start listening on config host/port; resolves to the bound address. */
  listen(): Promise<{ host: string; port: number; url: string }>;
  /** Graceful stop: stop accepting, let in-flight responses end within `timeouts.shutdownMs`. */
  close(): Promise<void>;
}

let reqCounter = 0;
/** Request ids: the caller's `x-request-id` when sane, else a short process-unique id. */
function requestId(raw: http.IncomingMessage): string {
  const given = raw.headers['x-request-id'];
  if (typeof given === 'string' && /^[A-Za-z0-9._:-]{1,64}$/.test(given)) return given;
  return `r${process.pid.toString(36)}-${(++reqCounter).toString(36)}`;
}

/** Build the Strom process for `config`. */
export async function buildStrom(config: Config, log: Logger = createLogger(config.logLevel)): Promise<Strom> {
  const delivery = createDelivery(config, log);
  const bus = new EventBus();
  const sockets = new Set<Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  let server!: http.Server | http2.Http2SecureServer;

  const serverFactory: FastifyServerFactory = (fastifyHandler) => {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (!delivery.handle(req, res)) fastifyHandler(req, res);
    };
    if (config.tls.cert && config.tls.key) {
      const h2 = http2.createSecureServer({ cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key), allowHTTP1: true });
      h2.on('request', onRequest as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
      h2.on('session', (s) => {
        sessions.add(s);
        s.once('close', () => sessions.delete(s));
      });
      h2.setTimeout(config.timeouts.idleMs);
      server = h2;
    } else {
      const h1 = http.createServer({
        headersTimeout: config.timeouts.headersMs,
        requestTimeout: config.timeouts.requestMs,
        keepAliveTimeout: config.timeouts.keepAliveMs,
        // Node enforces headersTimeout only when this sweep runs (default every 30 s), so a
        // slowloris client would get 30 s, not headersMs; sweep at a quarter of the limit.
        connectionsCheckingInterval: Math.max(25, Math.min(30_000, Math.floor(config.timeouts.headersMs / 4))),
      }, onRequest);
      h1.setTimeout(config.timeouts.idleMs);
      server = h1;
    }
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    // Fastify's types model an HTTP/1 server here; both kinds satisfy what it uses (listen/close/address).
    return server as http.Server;
  };

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    serverFactory,
    genReqId: requestId,
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: false,
    logController: new LogController({ disableRequestLogging: true }), // issue 7: one access line per request from src/observability instead
    clientErrorHandler: (err, socket) => answerClientError(err, socket, log, config.timeouts), // same bytes as a delivery worker's
  });
  // --- observability (issue 7): hooks first so they cover every route; sources attached below ---
  const obs = new Observability(config, log);
  obs.installHooks(app);
  delivery.setObserver(obs.media.observer);
  // --- end observability ---
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown; code?: string }, req, reply) => {
    let e: StromError;
    if (isStromError(err)) e = err;
    else if (err.code === 'FST_ERR_HANDLER_TIMEOUT') e = deadlineError(err, req)!; // issue 4: request deadline → 504
    else if (err.validation) e = fail('VALIDATION_FAILED', (err as { validationContext?: string }).validationContext ?? 'request', err.message);
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = fail('PAYLOAD_TOO_LARGE', Number(req.headers['content-length'] ?? 0), app.initialConfig.bodyLimit ?? 0);
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') e = fail('UNSUPPORTED_MEDIA_TYPE', String(req.headers['content-type']));
    else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) e = new StromError('BAD_REQUEST', err.message, err.statusCode);
    else {
      req.log.error({ err }, 'request failed');
      e = fail('INTERNAL', 'unexpected error, see the server log for the request id');
    }
    void reply.code(e.statusCode).headers(e.headers).type('application/json; charset=utf-8').send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = fail('NOT_FOUND', `route ${req.method} ${req.url.split('?')[0]}`);
    void reply.code(404).send(e.toJSON());
  });

  await app.register(healthRoutes);
  await app.register(streamAliasRoutes(delivery));
  // --- issue 4: store, deadlines, authenticate → log → rate-limit, /api/v1 routes, delivery guard ---
  const control = await registerControlPlane(app, config, delivery);
  await app.register(sseRoutes({ bus }));
  await app.register(webRoutes()); // issue 8: web UI from web/dist (docs/WEB.md)
  // --- VOD (issue 3): transcode jobs; deleting a video stops its running job ---
  const vod = new VodService({ config, store: control.store, bus, log, invalidate: (id) => delivery.catalog.invalidateAsset(id) });
  // --- uploads (issue 3): tus /api/v1/uploads + multipart /api/v1/video/upload → transcode job ---
  const uploads = await registerUploads(app, { config, store: control.store, bus, onUploaded: (videoId) => vod.enqueue(videoId) });
  const onVisibility = control.store.videos.onVisibility;
  control.store.videos.onVisibility = (id, visibility) => {
    onVisibility?.(id, visibility);
    if (visibility === null) {
      vod.cancel(id);
      bus.publish('video.deleted', { videoId: id });
    }
  };

  // --- webhooks (issue 3): signed POSTs of bus events, retried, logged in webhook_deliveries ---
  const webhooks = new WebhookDispatcher({ config, store: control.store, bus, log });
  webhooks.start();

  // --- live (issue 5): RTMP listener, GET /live/<streamId>.flv (HTTP-FLV, or WS-FLV on upgrade) ---
  const live = createLiveServer(config, log);
  await app.register(live.routes);
  if (server instanceof http.Server) live.attach(server);
  control.setRtmpPort(() => live.rtmp.port()); // issue 4: ingest URLs name the bound RTMP port
  await wireLive(live, control, bus, config, log);
  // --- end live ---

  // --- observability (issue 7): /metrics, /readyz, QoE API, scrape-time sources ---
  live.webrtc.metrics.register(obs.metrics.registry); // issue 9: WebRTC sessions, RTP, NACK/PLI, setup time
  obs.attach({ delivery, store: control.store, bus, live, pool: vod.pool, openConnections: () => sockets.size + sessions.size });
  const metricsListener = config.metrics.enabled && config.metrics.port !== null ? createMetricsListener(obs.metrics, config, log) : null;
  if (config.metrics.enabled && metricsListener === null) await app.register(metricsRoutes(obs.metrics, config));
  await app.register(readinessRoutes(obs.readiness(readinessChecks({ // obs: strom_ready{check} at scrape time
    dataDir: config.dataDir,
    db: () => control.store.db as never,
    ffmpegPath: config.vod.ffmpegPath,
    ffprobePath: config.vod.ffprobePath,
    toolCacheMs: config.health.toolCacheMs,
    httpListening: () => server.listening,
    rtmpListening: config.rtmp.enabled ? () => live.rtmp.port() !== null : null,
    metricsListening: metricsListener ? () => metricsListener.listening() : null,
  }))));
  await app.register(qoeRoutes(obs.qoe, control.store));
  const metricsHistory = await registerMetricsHistory(app, () => obs.metrics.exposition(), config, log); // dashboard charts: 15 min sampled from /metrics
  // --- end observability ---

  // --- delivery workers (issue 2): player connections handed to worker processes; TLS/HTTP2 stays single-process ---
  const deliveryWorkers = config.delivery.workers > 0 && server instanceof http.Server ? new DeliveryWorkers({ config, log, delivery, control, obs }) : null;
  // --- end delivery workers ---

  async function close(): Promise<void> {
    metricsHistory.stop();
    const workersStopped = deliveryWorkers?.stop(); // issue 2: workers finish their in-flight responses meanwhile
    await live.close(); // live: end publishers and never-ending FLV responses first
    await vod.stop(); // VOD: running jobs go back to the queue for the next start
    await webhooks.stop(); // webhooks: abort in-flight deliveries, clear retry timers (before the store closes)
    const deadline = setTimeout(() => {
      for (const s of sockets) s.destroy();
      for (const s of sessions) s.destroy();
    }, config.timeouts.shutdownMs);
    deadline.unref();
    for (const s of sessions) s.close(); // GOAWAY: finish open streams, accept no new ones
    // server.close() drops the connections idle at that moment only; a keep-alive connection whose
    // in-flight response ends later would hold the exit for keepAliveMs. Sweep until closed.
    const h1 = server;
    const sweep = 'closeIdleConnections' in h1 ? setInterval(() => h1.closeIdleConnections(), 50) : undefined;
    if ('closeIdleConnections' in h1) h1.closeIdleConnections();
    try {
      // Workers that already exited (a crash, or a slow live.close) would make net.Server#close
      // wait forever (see forgetExitedWorkers); one still alive answers it or disconnects.
      if (deliveryWorkers) forgetExitedWorkers(server);
      await app.close();
    } finally {
      clearInterval(sweep);
    }
    clearTimeout(deadline);
    await workersStopped; // issue 2
    await metricsListener?.close(); // issue 7
    await obs.close(); // issue 7: flush traces
  }

  return {
    config, log, app, delivery, control, bus, live, vod, webhooks, uploads, obs, metricsListener, deliveryWorkers,
    get server() {
      return server;
    },
    async listen() {
      await app.listen({ host: config.host, port: config.port });
      deliveryWorkers?.start(server as http.Server); // issue 2
      await live.listen(); // live: RTMP on rtmp.host/rtmp.port
      await vod.start(); // VOD: run queued jobs (and those a killed process left behind)
      await metricsListener?.listen(); // issue 7: separate /metrics listener
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.port;
      const scheme = config.tls.cert ? 'https' : 'http';
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      return { host: config.host, port, url: `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}` };
    },
    close,
  };
}
