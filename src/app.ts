/**
 * The composition root. `buildStrom(config)` creates each subsystem through its own constructor,
 * wires them together, and returns the process without listening; `listen()` starts them in
 * dependency order and `close()` stops them in reverse. Tests call it and then listen on port 0;
 * `strom serve` does the same plus signals. Nothing below this file knows the whole process.
 *
 *   HTTP listener (http/http-server) ─▶ delivery fast path ─▶ Fastify (http/fastify-app)
 *   control plane (API, auth, store) · events (bus, SSE, webhooks) · VOD (uploads, jobs, ffmpeg)
 *   live (RTMP, WebRTC, HTTP-FLV, LL-HLS, LL-DASH) · observability (metrics, traces, QoE, health)
 *   delivery workers (extra processes that share player connections)
 */
import http from 'node:http';
import type http2 from 'node:http2';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createLogger } from './logger.js';
import { createCluster, type Cluster } from './cluster/cluster.js';
import { clusterApiRateLimitStore } from './cluster/api-rate-limit-store.js';
import { wireCluster, type ClusterLink } from './http/cluster-wiring.js';
import { createHttpServer } from './http/http-server.js';
import { createFastifyApp } from './http/fastify-app.js';
import { createDelivery, type Delivery } from './http/delivery/delivery-handler.js';
import { bucketCheck } from './storage/create-storage.js';
import { resolveTls } from './http/tls-self-signed.js';
import { DeliveryWorkers, ownConnectionsOnly } from './http/delivery/workers/delivery-workers.js';
import { healthRoutes, readinessRoutes } from './http/health.js';
import { streamAliasRoutes } from './http/stream-alias.js';
import { registerControlPlane, type ControlPlane } from './http/api/api.js';
import { registerMetricsHistory } from './http/api/metrics-history.js';
import { sseRoutes } from './http/events/sse.js';
import { edgeSyncRoutes } from './http/internal/edge-sync-routes.js';
import { webRoutes } from './http/web.js';
import { embedRoutes } from './http/embed-routes.js';
import { oembedRoutes } from './http/oembed-routes.js';
import { clipsRoutes } from './http/api/clips.js';
import { liveClipsRoutes } from './http/api/live-clips.js';
import { createMetricsListener, metricsRoutes, type MetricsListener } from './http/metrics.js';
import { registerUploads, type Uploads } from './http/uploads/index.js';
import { EventBus } from './events/event-bus.js';
import { WebhookDispatcher } from './events/webhook-dispatcher.js';
import { createLiveServer, type LiveServer } from './live/live-server.js';
import { wireLive } from './live/live-wiring.js';
import { RestreamService } from './live/restream/restream-service.js';
import { wirePull } from './live/pull/pull-wiring.js';
import type { PullManager } from './live/pull/pull-manager.js';
import { createLiveCluster, createRelayEndpoint } from './live/live-cluster.js';
import { VodService } from './vod/vod-service.js';
import { CLIP, ClipJobs } from './vod/clips/clip-jobs.js';
import { CONTENT_KEY_SECRET, ContentKeys } from './vod/protection/content-keys.js';
import { Observability } from './observability/observability.js';
import { readinessChecks } from './observability/readiness.js';
import { qoeRoutes } from './observability/qoe-routes.js';
import { ForecastService } from './observability/forecast/forecast-service.js';
import { ForecastShare } from './cluster/forecast-share.js';

/** A built (not yet listening) Strom process. */
export interface Strom {
  config: Config;
  log: Logger;
  /** Cluster membership (Redis, node id) when `cluster.redisUrl` is set; null on a single node. */
  cluster: Cluster | null;
  /** What moves between nodes through Redis (events, invalidations, shared limits); null on a single node. */
  clusterLink: ClusterLink | null;
  app: FastifyInstance;
  delivery: Delivery;
  /** Metadata store (`control.store`), playback policy and tokens, media limiter, playback guard. */
  control: ControlPlane;
  /** The internal event bus (SSE, webhooks, metrics subscribe). */
  bus: EventBus;
  /** Live: RTMP and WHIP ingest, every playback protocol, `live.status(id)`, `live.events`; RTMP port: `live.rtmp.port()`. */
  live: LiveServer;
  /** VOD: job queue + transcode engine; `vod.enqueue(videoId)` after a source is stored. */
  vod: VodService;
  /** Metrics, tracing, CMCD QoE, access logs. */
  obs: Observability;
  /** The separate /metrics listener when `metrics.port` is set. */
  metricsListener: MetricsListener | null;
  /** Delivery worker processes (`delivery.workers` > 0 on plain HTTP), null otherwise. */
  deliveryWorkers: DeliveryWorkers | null;
  /** Uploads: tus + multipart; `uploads.sweep()` removes expired unfinished uploads. */
  uploads: Uploads;
  /** Webhooks: this node's events into the store's outbox, and the outbox's due deliveries to `/api/v1/webhooks` receivers. */
  webhooks: WebhookDispatcher;
  /** Live streams pulled from their source URLs (cameras, other servers). */
  pull: PullManager;
  server: http.Server | http2.Http2SecureServer;
  /** Start listening on config host/port; resolves to the bound address. */
  listen(): Promise<{ host: string; port: number; url: string }>;
  /** Graceful stop: stop accepting, let in-flight responses end within `timeouts.shutdownMs`. */
  close(): Promise<void>;
}

/** Build the Strom process for `config`. */
export async function buildStrom(given: Config, log: Logger = createLogger(given.logLevel)): Promise<Strom> {
  const config = await resolveTls(given, log);
  const cluster = createCluster(config, log);
  // HTTP: the listener, the delivery fast path in front, Fastify behind it.
  const delivery = createDelivery(config, log);
  const listener = createHttpServer(config, (req, res) => delivery.handle(req, res));
  const app = createFastifyApp(config, log, listener.factory);
  const server = listener.server();
  const obs = new Observability(config, log);
  obs.installHooks(app); // before any route, so every route is measured and traced
  delivery.setObserver(obs.media.observer);
  delivery.storage.metrics.attach(obs.metrics.registry); // media storage operations (fs or s3)
  delivery.attachProtectionMetrics(obs.metrics.registry); // content key and license requests

  // Control plane: store, auth, rate limits, deadlines, /api/v1, the delivery guard; events.
  const bus = new EventBus(config.events.historySize);
  await app.register(healthRoutes);
  await app.register(streamAliasRoutes(delivery));
  const control = await registerControlPlane(app, config, delivery, { rateLimitStore: cluster ? clusterApiRateLimitStore(cluster.redis, obs.metrics.registry) : undefined });
  // Cluster: events through a Redis Stream, invalidations through pub/sub, limits counted in Redis.
  const clusterLink = cluster ? wireCluster(cluster, { config, log, registry: obs.metrics.registry, bus, control, delivery }) : null;
  await app.register(sseRoutes({ bus }));
  // Edges (`strom edge`) follow signed playback from here: signing keys, signed ids, invalidations.
  if (config.cluster.secret !== null) await app.register(edgeSyncRoutes({ policy: control.policy, tokens: control.tokens, catalog: delivery.catalog, secret: config.cluster.secret, maxEdges: config.cluster.maxEdges, log, registry: obs.metrics.registry }));
  await app.register(webRoutes());
  await app.register(embedRoutes({ config, delivery, control }));
  await app.register(oembedRoutes({ config, control })); // GET /oembed (discovery links on the embed page)

  // Content protection: one secret in the store (the same on every node) derives every content key.
  const contentSecret = await control.store.serverSecrets.getOrCreate(CONTENT_KEY_SECRET);
  delivery.setContentSecret(contentSecret);
  // VOD: uploads store a source and queue a transcode job; deleting a video stops its job.
  // Clips run on the VOD pool as jobs of their own kind (src/vod/clips).
  const clips: ClipJobs = new ClipJobs({
    config, store: control.store, bus, storage: delivery.storage, invalidate: (id) => delivery.catalog.invalidateAsset(id), captions: control.captions,
    enqueue: (clipId, payload) => vod.enqueueJob(CLIP, clipId, payload),
    settleFailure: (job, videoId, err, ctx) => vod.settleFailure(job, videoId, err, ctx),
  });
  const vod = new VodService({ config, store: control.store, bus, log, invalidate: (id) => delivery.catalog.invalidateAsset(id), storage: delivery.storage, captions: control.captions, keys: new ContentKeys(contentSecret), handlers: { [CLIP]: (job, ctx) => clips.run(job, ctx) } });
  await app.register(clipsRoutes({ store: control.store, clips })); // POST /api/v1/videos/:id/clips
  clips.register(obs.metrics.registry);
  const uploads = await registerUploads(app, { config, store: control.store, bus, onUploaded: (videoId) => vod.enqueue(videoId), storage: delivery.storage });
  onVideoDeleted(control, (id) => {
    vod.cancel(id);
    bus.publish('video.deleted', { videoId: id });
  });
  const webhooks = new WebhookDispatcher({ config, store: control.store, bus, log });
  webhooks.start();

  // Live: ingest and playback routes, WS-FLV upgrades, stream keys and status from the store.
  const live = createLiveServer(config, log);
  const liveCluster = cluster ? createLiveCluster(live, cluster, config, log) : null; // live from any node: origin map, internal relay
  // The internal relay endpoint: other nodes (cluster mode) and edges (any node with cluster.secret) pull live streams there.
  const relayEndpoint = liveCluster ?? (config.cluster.secret !== null ? createRelayEndpoint(live, config, config.cluster.secret, log) : null);
  await app.register(live.routes);
  await app.register(liveClipsRoutes({ store: control.store, clips: () => live.dvrClips })); // POST /api/v1/live-streams/:id/clips (set by wireLive)
  if (relayEndpoint) await app.register(relayEndpoint.routes);
  if (server instanceof http.Server) live.attach(server);
  control.setRtmpPort(() => live.rtmp.port()); // ingest URLs name the bound RTMP port
  control.setSrtPort(() => live.srt?.port() ?? null); // and the bound SRT port
  control.setRtspPort(() => live.rtsp?.port() ?? null); // and the bound RTSP port
  await wireLive(live, {
    store: control.store,
    bus,
    guard: (req, streamId) => control.guard(req, streamId, '', null),
    setLiveStatus: (f) => control.setLiveStatus(f),
    storage: delivery.storage, // recordings are published into media storage
    origins: liveCluster?.origins,
  }, config, log);
  // Restreaming: a live stream's outputs are pushed from the node its publisher is connected to.
  const restream = new RestreamService(live.registry, control.store, bus, config, log);
  control.setRestream(restream);
  // Pulled sources: streams with a source URL are connected on demand (or always), one node per source in a cluster.
  const pull = await wirePull({
    registry: live.registry, hlsSinceLastAccess: (id) => live.llhls.sinceLastAccess(id), store: control.store, bus,
    cluster: cluster && liveCluster ? { cluster, origins: liveCluster.origins } : undefined,
  }, config, log);
  control.setPull(pull);

  // Observability: scrape-time sources, /metrics, /readyz, QoE, the dashboard's history.
  live.webrtc.metrics.register(obs.metrics.registry);
  live.thumbnails.metrics.register(obs.metrics.registry); // live thumbnail renders
  live.registry.switchMetrics.register(obs.metrics.registry); // primary/backup publisher switches, slates
  live.slateMetrics?.register(obs.metrics.registry); // slate renders, streams on a slate
  live.rtsp?.metrics.register(obs.metrics.registry); // RTSP connections, sessions, requests, bytes, RTP losses, auth failures
  live.srt?.metrics.register(obs.metrics.registry); // SRT connections, handshakes, bytes, repaired and lost packets
  restream.metrics.register(obs.metrics.registry); // restreaming outputs by state, bytes, reconnects
  pull.metrics.register(obs.metrics.registry); // pulled sources by state, connects, bytes
  webhooks.metrics.register(obs.metrics.registry); // outbox by state, attempts, drops
  relayEndpoint?.register(obs.metrics.registry);
  obs.attach({
    delivery: { hotCache: () => delivery.catalog.hot.stats(), inFlight: () => delivery.inFlight() },
    store: control.store, bus, live, pool: vod.pool, openConnections: listener.openConnections,
  });
  const metricsListener = config.metrics.enabled && config.metrics.port !== null ? createMetricsListener(obs.metrics, config, log) : null;
  if (config.metrics.enabled && metricsListener === null) await app.register(metricsRoutes(obs.metrics, config));
  await app.register(readinessRoutes(obs.readiness(readinessChecks({ // obs: strom_ready{check} at scrape time
    dataDir: config.dataDir,
    db: () => control.store.db as never,
    dbWhere: control.store.where,
    ffmpegPath: config.vod.ffmpegPath,
    ffprobePath: config.vod.ffprobePath,
    toolCacheMs: config.health.toolCacheMs,
    httpListening: () => server.listening,
    rtmpListening: config.rtmp.enabled ? () => live.rtmp.port() !== null : null,
    metricsListening: metricsListener ? () => metricsListener.listening() : null,
    redisReady: cluster ? () => cluster.redis.ready() : null,
    bucket: bucketCheck(delivery.storage), // storage.kind=s3: the bucket answers
  }))));
  await app.register(qoeRoutes(obs.qoe, control.store));
  const metricsHistory = await registerMetricsHistory(app, () => obs.metrics.exposition(), config, log);
  // Predictive scaling: viewers and egress 5 and 15 minutes ahead, shared between nodes through Redis.
  const forecast = new ForecastService(config.forecast, {
    exposition: () => obs.metrics.exposition(),
    scheduled: (from, to, limit) => control.store.liveStreams.scheduled(from, to, limit),
    streamViewers: () => new Map(live.registry.list().map((s) => [s.streamId, s.viewers.total])),
    // Entries older than three intervals belong to a node that stopped sampling (or died).
    share: cluster ? new ForecastShare(cluster.redis, cluster.nodeId, 3 * config.forecast.sampleIntervalMs) : undefined,
    log: log.child({ component: 'forecast' }),
  });
  forecast.register(obs.metrics.registry);
  forecast.start();

  // Delivery workers share player connections on plain HTTP; TLS/HTTP/2 stays in one process.
  const deliveryWorkers = config.delivery.workers > 0 && server instanceof http.Server ? new DeliveryWorkers({ config, log, delivery, control, obs }) : null;
  if (deliveryWorkers) clusterLink?.addWorkers(deliveryWorkers); // their limiter usage counts cluster-wide

  async function close(): Promise<void> {
    metricsHistory.stop();
    await forecast.stop(); // withdraws this node's shared forecast while Redis is still open
    const workersStopped = deliveryWorkers?.stop(); // workers finish their in-flight responses meanwhile
    restream.close(); // stop pushes and their reconnect timers before the streams end
    pull.close(); // stop source connections and their reconnect timers; live.close ends the streams
    await live.close(); // end publishers and never-ending FLV responses first
    await liveCluster?.close(); // release this node's origin entries while Redis is still open
    await vod.stop(); // running jobs go back to the queue for the next start
    await webhooks.stop(); // abort in-flight deliveries, clear retry timers (before the store closes)
    await clusterLink?.close(); // stop the event reader, invalidations and limit sync (they use the store)
    await listener.drain(async () => {
      // net.Server#close must not count sockets sent to workers (see ownConnectionsOnly): the
      // main's own responses finish here, the workers' ones before `workersStopped` resolves.
      if (deliveryWorkers) ownConnectionsOnly(server);
      await app.close(); // stops accepting; closes the store and uploads through their onClose hooks
    });
    await workersStopped;
    await metricsListener?.close();
    await obs.close(); // flush traces
    await cluster?.close(); // last: every user of Redis has stopped
    delivery.storage.close(); // media storage connections (nothing reads or writes media any more)
  }

  return {
    config, log, cluster, clusterLink, app, delivery, control, bus, live, vod, webhooks, pull, uploads, obs, metricsListener, deliveryWorkers, server,
    async listen() {
      await app.listen({ host: config.host, port: config.port });
      deliveryWorkers?.start(server as http.Server);
      await live.listen(); // RTMP on rtmp.host/rtmp.port
      await vod.start(); // run queued jobs (and those a killed process left behind)
      await metricsListener?.listen();
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.port;
      const scheme = config.tls.cert ? 'https' : 'http';
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      const url = `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
      cluster?.setBoundUrl(url);
      return { host: config.host, port, url };
    },
    close,
  };
}

/** Call `then(id)` after a video is deleted, keeping the store's existing visibility listener. */
function onVideoDeleted(control: ControlPlane, then: (id: string) => void): void {
  const previous = control.store.videos.onVisibility;
  control.store.videos.onVisibility = (id, visibility) => {
    previous?.(id, visibility);
    if (visibility === null) then(id);
  };
}
