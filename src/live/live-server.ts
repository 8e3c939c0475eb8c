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
// --- LL-HLS (issue 6) ---
import { llHlsRoutes } from './ll-hls-routes.js';
import { llDashRoutes } from './ll-dash-routes.js';
import { LlHlsService } from './ll-hls-service.js';
import type { LiveRecorder } from './recording/live-recorder.js';
// --- end LL-HLS ---
// --- WebRTC (issue 9) ---
import { WebRtcService } from '../webrtc/webrtc-service.js';
// --- end WebRTC ---
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
  /** Guard HTTP-FLV, WS-FLV and RTMP playback (signed streams); null = open. */
  setPlaybackGuard(guard: LivePlaybackGuard | null): void;
  /** LL-HLS muxers (issue 6): started by the first HLS request of a stream, stopped when idle. */
  llhls: LlHlsService;
  /** Live recording → VOD (issue 6 item 5), set by live-wiring when the store is available. */
  recorder: LiveRecorder | null;
  /** WHIP ingest and WHEP playback (issue 9). */
  webrtc: WebRtcService;
}

/** Create the live server; `resolver` defaults to `live.staticKeys`. */
export function createLiveServer(config: Config, log: Logger, resolver?: StreamKeyResolver): LiveServer {
  const llog = log.child({ component: 'live' });
  const registry = new StreamRegistry(config, resolver ?? staticKeyResolver(config.live.staticKeys), llog);
  const rtmp = createRtmpServer(config, registry, log);
  let detachWs: (() => void) | null = null;
  let guard: LivePlaybackGuard | null = null;
  // --- LL-HLS (issue 6): /live/<streamId>/{index,master,plain}.m3u8, init.mp4, seg_N.m4s, part_N.m4s ---
  const llhls = new LlHlsService(registry, config, llog);
  const hlsRoutes = llHlsRoutes(registry, llhls, config.delivery.corsOrigin, () => guard);
  const dashRoutes = llDashRoutes(registry, llhls, config.delivery.corsOrigin, () => guard); // LL-DASH: /live/<id>/manifest.mpd, /live/time
  const flvRoutes = httpFlvRoutes(registry, config.delivery.corsOrigin, () => guard);
  // --- end LL-HLS ---
  // --- WebRTC (issue 9): POST /whip, POST /live/<id>/whep, /whip/<id>, /whep/<id> ---
  const webrtc = new WebRtcService(config, registry, llog);
  const webrtcRoutes = webrtc.routes(() => guard);
  // --- end WebRTC ---
  const server: LiveServer = {
    recorder: null, // recording (issue 6 item 5)
    registry,
    events: registry.events,
    rtmp,
    routes: async (app) => {
      await flvRoutes(app);
      await dashRoutes(app); // LL-DASH (issue 6)
      await hlsRoutes(app); // LL-HLS (issue 6)
      await webrtcRoutes(app); // WebRTC (issue 9)
    },
    webrtc, // WebRTC (issue 9)
    llhls,
    attach(server) {
      detachWs = attachWsFlv(server, registry, llog, () => guard);
    },
    async listen() {
      return config.rtmp.enabled ? rtmp.listen() : null;
    },
    async close() {
      llhls.close(); // LL-HLS (issue 6): release held blocking requests first
      const webrtcReleased = webrtc.close(); // WebRTC (issue 9): end WHIP/WHEP sessions and fan-outs
      await registry.close();
      await server.recorder?.close(); // recording (issue 6): publish what was recorded before the store closes
      detachWs?.();
      detachWs = null;
      await rtmp.close();
      await webrtcReleased; // issue 9: werift sockets/timers released (bounded) before close resolves
    },
    status: (id) => registry.status(id),
    setResolver: (r) => registry.setResolver(r),
    setPlaybackGuard(g) {
      guard = g;
      registry.playbackGuard = g; // RTMP play asks the registry
    },
  };
  return server;
}
