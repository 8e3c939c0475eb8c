/**
 * The composition root of `strom edge`: a stateless node in front of the origin. No database, no
 * uploads, no transcoding — everything it serves it pulls from `edge.origins`:
 *
 *   HTTP listener ─▶ edge fast path (edge-routes: VOD, LL-HLS, LL-DASH through the cache)
 *                 └▶ Fastify: /live/<id>.flv (HTTP-FLV, WS-FLV), WHEP, /healthz, /readyz, /metrics
 *   RTMP (play only) ─▶ the edge's live hub, fed by one relay pull per stream (edge-live)
 *   policy sync (playback-sync): signing keys, signed ids, invalidations from the origin
 *
 * `cluster.secret` authenticates the edge to the origin (the relay and the policy sync), so an edge
 * needs the same secret as its origin. Build, then `listen()`; `close()` stops in reverse order.
 */
import http from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { fail } from '../errors.js';
import { createLogger } from '../logger.js';
import { defaultNodeId } from '../cluster/cluster.js';
import { createHttpServer } from '../http/http-server.js';
import { createFastifyApp } from '../http/fastify-app.js';
import { healthRoutes, readinessRoutes } from '../http/health.js';
import { metricsRoutes } from '../http/metrics.js';
import { Observability } from '../observability/observability.js';
import { installConnectionRouter } from '../http/delivery/workers/connection-router.js';
import { EdgeCache } from './edge-cache.js';
import { EdgeLean, type EdgeLeanDeps } from './edge-lean.js';
import { createEdgeLive, type EdgeLive } from './edge-live.js';
import { EdgeMetrics, OriginMetrics } from './edge-metrics.js';
import { createEdgeHandler } from './edge-routes.js';
import { OriginPool } from './origin-pool.js';
import { EdgePlaybackSync } from './playback-sync.js';
import { Prefetcher } from './prefetch.js';
import { ViewerCounter } from './viewer-counter.js';

/** A built (not yet listening) edge. */
export interface StromEdge {
  config: Config;
  log: Logger;
  nodeId: string;
  origins: OriginPool;
  cache: EdgeCache;
  sync: EdgePlaybackSync;
  live: EdgeLive;
  app: FastifyInstance;
  obs: Observability;
  /** Start listening (HTTP on host/port, RTMP play on rtmp.port); resolves to the HTTP URL and RTMP port. */
  listen(): Promise<{ url: string; port: number; rtmpPort: number | null }>;
  /** Graceful stop within `timeouts.shutdownMs`. */
  close(): Promise<void>;
}

/** Build an edge for `config` (`edge.origins` and `cluster.secret` must be set). */
export async function buildEdge(config: Config, log: Logger = createLogger(config.logLevel)): Promise<StromEdge> {
  const secret = config.cluster.secret;
  if (secret === null) throw fail('CONFIG_INVALID', 'cluster.secret', null, 'an edge authenticates to its origin with the origin\'s cluster.secret: set the same value on both');
  const nodeId = config.cluster.nodeId ?? `edge-${defaultNodeId()}`;
  const elog = log.child({ component: 'edge', nodeId });
  const origins = new OriginPool(config.edge.origins, { connections: config.edge.upstreamConnections, healthIntervalMs: config.edge.healthIntervalMs, timeoutMs: config.edge.upstreamTimeoutMs }, elog);

  // Signed playback verified here, with the origin's keys; invalidations follow the origin's.
  const sync = new EdgePlaybackSync({ origins, secret, nodeId, config, log });
  const cache = new EdgeCache(origins, config, elog);
  sync.onInvalidate((assetId) => cache.invalidate(assetId === null ? null : `/v/${assetId}/`));
  sync.onResync(() => cache.store.expireAll()); // invalidations may have been missed: revalidate before reuse
  const prefetcher = new Prefetcher(cache, config.edge.prefetchSegments, config.edge.prefetchConcurrency);
  const viewers = new ViewerCounter();
  const fastPath = createEdgeHandler({ cache, prefetcher, guard: sync.guard, synced: () => sync.synced(), isSigned: (id) => sync.policy.isSigned(id), nodeId, viewers });

  const listener = createHttpServer(config, fastPath);
  const app = createFastifyApp(config, log, listener.factory);
  const server = listener.server();
  // Plain HTTP: player connections start on the lean path (edge-lean.ts); TLS/HTTP/2 stays on node's servers.
  const lean = server instanceof http.Server ? installLeanPath(server, config, { cache, prefetcher, synced: () => sync.synced(), isSigned: (id) => sync.policy.isSigned(id), admit: (ip, now) => sync.limiter.take(ip, now), viewers, via: `1.1 ${nodeId}` }) : null;
  const obs = new Observability(config, log);
  obs.installHooks(app);
  const live = createEdgeLive({ config, origins, secret, nodeId, log, guard: (req, streamId) => sync.guard(req, streamId, '', null) });
  await app.register(healthRoutes);
  await app.register(live.routes);
  if (server instanceof http.Server) live.attach(server);

  const reg = obs.metrics.registry;
  new EdgeMetrics(cache.stats, { fills: () => cache.inFlight(), waiting: () => cache.waiting(), tiers: () => cache.store.stats(), viewers: () => viewers.active() }).register(reg);
  new OriginMetrics(origins).register(reg);
  sync.register(reg);
  live.register(reg);
  obs.metrics.sources.openConnections = () => listener.openConnections() + (lean?.size() ?? 0);
  obs.metrics.sources.liveStreams = () => live.live.registry.list();
  if (config.metrics.enabled) await app.register(metricsRoutes(obs.metrics, config));
  await app.register(readinessRoutes(obs.readiness({
    policy: async () => {
      const s = sync.status();
      return s.synced ? null : `no policy snapshot from the origin yet${s.lastError ? `: ${s.lastError}` : ''}`;
    },
    origins: async () => (origins.origins.some((o) => o.healthy) ? null : `no origin healthy: ${origins.origins.map((o) => `${o.url} ${o.lastError ?? ''}`.trim()).join('; ')}`),
    http: async () => (server.listening ? null : 'HTTP listener not listening'),
  })));

  return {
    config, log, nodeId, origins, cache, sync, live, app, obs,
    async listen() {
      origins.start();
      sync.start();
      await app.listen({ host: config.host, port: config.port });
      const rtmpPort = await live.listen();
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.port;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      const url = `${config.tls.cert ? 'https' : 'http'}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
      elog.info({ url, rtmpPort, origins: config.edge.origins }, 'edge listening');
      return { url, port, rtmpPort };
    },
    async close() {
      await live.close(); // end FLV viewers and relays first: their responses never end by themselves
      await sync.close();
      lean?.close(config.timeouts.shutdownMs);
      await listener.drain(() => app.close());
      cache.close();
      await origins.close();
      await obs.close();
    },
  };
}

/** Route player connections of `server` to a lean path (falling back to node:http per connection). */
function installLeanPath(server: http.Server, config: Config, deps: Omit<EdgeLeanDeps, 'keepAliveMs' | 'idleMs' | 'fallback'>): EdgeLean {
  const lean: EdgeLean = new EdgeLean({ ...deps, keepAliveMs: config.timeouts.keepAliveMs, idleMs: config.timeouts.idleMs, fallback: (socket, rest) => router.keep(socket, rest.length > 0 ? rest : null) });
  const router = installConnectionRouter(server, { ready: () => (lean.isClosing ? 0 : 1), handOff: () => false, serveHere: (socket, head) => lean.serve(socket, head) }, config.timeouts.headersMs);
  return lean;
}
