/**
 * The live subsystem as one object for app.ts: stream registry (+ lifecycle events and status),
 * RTMP listener, HTTP-FLV routes and the WS-FLV upgrade handler. `buildStrom` creates it,
 * registers `routes`, calls `attach(server)`, and starts/stops it with the HTTP server.
 */
import type http from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { attachWsFlv, httpFlvRoutes } from './http-flv/http-flv-playback.js';
import type { LivePlaybackGuard } from '../auth/playback-guard.js';
import type { LiveEvents } from './stream/live-events.js';
import { createRtmpServer, type RtmpServer } from './rtmp/rtmp-server.js';
import { llHlsRoutes } from './ll-hls/ll-hls-playback.js';
import { llDashRoutes } from './ll-dash/ll-dash-playback.js';
import { LlHlsService } from './ll-hls/ll-hls-service.js';
import type { LiveRecorder } from './recording/live-recorder.js';
import { WebRtcService } from './webrtc/webrtc-service.js';
import { webrtcRoutes } from './webrtc/webrtc-routes.js';
import { AudioBridgePool } from './transcode/audio-bridge-pool.js';
import { staticKeyResolver, StreamRegistry, type LiveStreamStatus, type StreamKeyResolver } from './stream/stream-registry.js';

/** The live server of one Strom process. */
export interface LiveServer {
  registry: StreamRegistry;
  /** Audio bridges (AAC↔Opus, one ffmpeg child per stream and target codec) the registry uses. */
  bridges: AudioBridgePool;
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
  /** LL-HLS muxers: started by the first HLS request of a stream, stopped when idle. */
  llhls: LlHlsService;
  /** Live recording → VOD, set by live-wiring when the store is available. */
  recorder: LiveRecorder | null;
  /** WHIP ingest and WHEP playback. */
  webrtc: WebRtcService;
}

/** Create the live server; `resolver` defaults to `live.staticKeys`. */
export function createLiveServer(config: Config, log: Logger, resolver?: StreamKeyResolver): LiveServer {
  const llog = log.child({ component: 'live' });
  const bridges = new AudioBridgePool(config, llog);
  const registry = new StreamRegistry(config, resolver ?? staticKeyResolver(config.live.staticKeys), llog, bridges);
  const rtmp = createRtmpServer(config, registry, log);
  let detachWs: (() => void) | null = null;
  let guard: LivePlaybackGuard | null = null;
  // LL-HLS: /live/<streamId>/{index,master,plain}.m3u8, init.mp4, seg_N.m4s, part_N.m4s
  const llhls = new LlHlsService(registry, config, llog);
  const hlsRoutes = llHlsRoutes(registry, llhls, config.delivery.corsOrigin, () => guard);
  const dashRoutes = llDashRoutes(registry, llhls, config.delivery.corsOrigin, () => guard); // LL-DASH: /live/<id>/manifest.mpd, /live/time
  const flvRoutes = httpFlvRoutes(registry, config.delivery.corsOrigin, () => guard);
  // WebRTC: POST /whip, POST /live/<id>/whep, /whip/<id>, /whep/<id>
  const webrtc = new WebRtcService(config, registry, llog);
  const rtcRoutes = webrtcRoutes(webrtc, () => guard);
  const server: LiveServer = {
    recorder: null, // set by live-wiring when the store is available
    registry,
    bridges,
    events: registry.events,
    rtmp,
    routes: async (app) => {
      await flvRoutes(app);
      await dashRoutes(app); // LL-DASH
      await hlsRoutes(app); // LL-HLS
      await rtcRoutes(app); // WHIP/WHEP
    },
    webrtc,
    llhls,
    attach(server) {
      detachWs = attachWsFlv(server, registry, llog, () => guard);
    },
    async listen() {
      return config.rtmp.enabled ? rtmp.listen() : null;
    },
    async close() {
      llhls.close(); // release held LL-HLS blocking requests first
      const webrtcReleased = webrtc.close(); // end WHIP/WHEP sessions and fan-outs
      await registry.close();
      await server.recorder?.close(); // publish what was recorded before the store closes
      detachWs?.();
      detachWs = null;
      await rtmp.close();
      await webrtcReleased; // werift sockets/timers released (bounded) before close resolves
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
