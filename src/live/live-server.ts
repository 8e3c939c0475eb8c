/**
 * The live subsystem as one object for app.ts: stream registry (+ lifecycle events and status),
 * RTMP listener, HTTP-FLV routes and the WS-FLV upgrade handler. `buildStrom` creates it,
 * registers `routes`, calls `attach(server)`, and starts/stops it with the HTTP server.
 */
import type http from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { attachWsFlv, httpFlvRoutes, type LivePlaybackGuard } from './http-flv.js';
import type { LiveEvents } from './live-events.js';
import { createRtmpServer, type RtmpServer } from './rtmp/rtmp-server.js';
import { staticKeyResolver, StreamRegistry, type LiveStreamStatus, type StreamKeyResolver } from './stream/stream-registry.js';

/** The live server of one Strom process. */
export interface LiveServer {
  registry: StreamRegistry;
  /** Lifecycle events (publish.start/stop/rejected, viewer.join/leave). */
  events: LiveEvents;
  rtmp: RtmpServer;
  /** Fastify plugin with `GET /live/<streamId>.flv`. */
  routes: (app: FastifyInstance) => Promise<void>;
  /** Hook WS-FLV into the HTTP server's upgrade event. */
  attach(server: http.Server): void;
  /** Start the RTMP listener (unless `rtmp.enabled` is false); resolves to its port or null. */
  listen(): Promise<number | null>;
  /** Close publishers, viewers and the RTMP listener. */
  close(): Promise<void>;
  /** Status of one live stream (idle when unknown). */
  status(streamId: string): LiveStreamStatus;
  /** Replace the stream-key resolver (e.g. with the metadata store's). */
  setResolver(resolver: StreamKeyResolver): void;
  /** Guard HTTP-FLV/WS-FLV playback (signed streams); null = open. RTMP play is not guarded. */
  setPlaybackGuard(guard: LivePlaybackGuard | null): void;
}

/** Create the live server; `resolver` defaults to `live.staticKeys`. */
export function createLiveServer(config: Config, log: Logger, resolver?: StreamKeyResolver): LiveServer {
  const llog = log.child({ component: 'live' });
  const registry = new StreamRegistry(config, resolver ?? staticKeyResolver(config.live.staticKeys), llog);
  const rtmp = createRtmpServer(config, registry, log);
  let detachWs: (() => void) | null = null;
  let guard: LivePlaybackGuard | null = null;
  return {
    registry,
    events: registry.events,
    rtmp,
    routes: httpFlvRoutes(registry, config.delivery.corsOrigin, () => guard),
    attach(server) {
      detachWs = attachWsFlv(server, registry, llog, () => guard);
    },
    async listen() {
      return config.rtmp.enabled ? rtmp.listen() : null;
    },
    async close() {
      registry.close();
      detachWs?.();
      detachWs = null;
      await rtmp.close();
    },
    status: (id) => registry.status(id),
    setResolver: (r) => registry.setResolver(r),
    setPlaybackGuard(g) {
      guard = g;
    },
  };
}
