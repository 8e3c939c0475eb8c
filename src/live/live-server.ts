/**
 * The live subsystem as one object for app.ts: stream registry (+ lifecycle events and status),
 * RTMP, SRT and RTSP listeners, HTTP-FLV routes and the WS-FLV upgrade handler. `buildStrom` creates it,
 * registers `routes`, calls `attach(server)`, and starts/stops it with the HTTP server.
 * An edge (src/edge) builds the same server without ingest (RTMP publish refused, no WHIP) and
 * without the CMAF outputs (LL-HLS and LL-DASH are proxied from its origin, not muxed there).
 */
import type http from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { attachWsFlv, httpFlvRoutes } from './http-flv/http-flv-playback.js';
import type { LivePlaybackGuard } from '../auth/playback-guard.js';
import type { LiveEvents } from './stream/live-events.js';
import { createRtmpServer, type RtmpServer } from './rtmp/rtmp-server.js';
import { createSrtServer, type SrtServer } from './srt/srt-server.js';
import { createRtspServer, type RtspServer } from './rtsp/rtsp-server.js';
import { llHlsRoutes } from './ll-hls/ll-hls-playback.js';
import { llDashRoutes } from './ll-dash/ll-dash-playback.js';
import { LlHlsService } from './ll-hls/ll-hls-service.js';
import type { LiveRecorder } from './recording/live-recorder.js';
import type { LiveDvrClips } from './live-dvr-clips.js';
import { WebRtcService } from './webrtc/webrtc-service.js';
import { webrtcRoutes } from './webrtc/webrtc-routes.js';
import { AudioBridgePool } from './transcode/audio-bridge-pool.js';
import { fail } from '../errors.js';
import { LiveThumbnails } from './thumbnail/live-thumbnails.js';
import { thumbnailRoutes } from './thumbnail/thumbnail-routes.js';
import { SlateRenderer } from './slate/slate-renderer.js';
import { SlateMetrics } from './slate/slate-metrics.js';
import { staticKeyResolver, StreamRegistry, type LiveStreamStatus, type StreamKeyResolver } from './stream/stream-registry.js';

/** The live server of one Strom process. */
export interface LiveServer {
  registry: StreamRegistry;
  /** Audio bridges (AAC↔Opus, one ffmpeg child per stream and target codec) the registry uses. */
  bridges: AudioBridgePool;
  /** Lifecycle events (publish.start/stop/rejected, viewer.join/leave). */
  events: LiveEvents;
  rtmp: RtmpServer;
  /** SRT publish/read over MPEG-TS (`srt.enabled`), else null. */
  srt: SrtServer | null;
  /** RTSP publish/read over RTP (`rtsp.enabled`), else null. */
  rtsp: RtspServer | null;
  /** Fastify plugin: HTTP-FLV `GET /live/<streamId>.flv`, thumbnails, LL-HLS and LL-DASH (with `cmafOutputs`), WHIP (with `ingest`) and WHEP. */
  routes: (app: FastifyInstance) => Promise<void>;
  /** Hook WS-FLV into the HTTP server's upgrade event. */
  attach(server: http.Server): void;
  /** Start the RTMP listener (unless `rtmp.enabled` is false), the SRT one (with `srt.enabled`) and the RTSP one (with `rtsp.enabled`); resolves to the RTMP port or null. */
  listen(): Promise<number | null>;
  /** Close publishers, viewers and the RTMP, SRT and RTSP listeners. */
  close(): Promise<void>;
  /** Status of one live stream (idle when unknown). */
  status(streamId: string): LiveStreamStatus;
  /** Replace the stream-key resolver (e.g. with the metadata store's; ignored without ingest). */
  setResolver(resolver: StreamKeyResolver): void;
  /** Guard HTTP-FLV, WS-FLV and RTMP playback (signed streams); null = open. */
  setPlaybackGuard(guard: LivePlaybackGuard | null): void;
  /** LL-HLS muxers: started by the first HLS request of a stream, stopped when idle. */
  llhls: LlHlsService;
  /** Live recording → VOD, set by live-wiring when the store is available. */
  recorder: LiveRecorder | null;
  /** Clips of the DVR window as videos (set by live-wiring with the store). */
  dvrClips: LiveDvrClips | null;
  /** WHIP ingest and WHEP playback. */
  webrtc: WebRtcService;
  /** JPEGs of streams' latest keyframes (`GET /live/<id>/thumbnail.jpg`). */
  thumbnails: LiveThumbnails;
  /** Metrics of the slate (reconnect window), null when `live.reconnectWindowS` is 0 or without ingest. */
  slateMetrics: SlateMetrics | null;
}

/** What the live server takes in and serves (all of it by default). */
export interface LiveServerOptions {
  /** Stream keys; defaults to `live.staticKeys`. */
  resolver?: StreamKeyResolver;
  /** false: no ingest — RTMP publish is refused with `ingestRefusal` as its reason, no WHIP route. */
  ingest?: boolean;
  /** Why a publish is refused when `ingest` is false (logged and sent to the publisher). */
  ingestRefusal?: string;
  /** false: no LL-HLS / LL-DASH routes, so no CMAF muxing (an edge proxies them from its origin). */
  cmafOutputs?: boolean;
}

/** Create the live server (see LiveServerOptions for what can be left out). */
export function createLiveServer(config: Config, log: Logger, opts: LiveServerOptions = {}): LiveServer {
  const llog = log.child({ component: 'live' });
  const bridges = new AudioBridgePool(config, llog);
  const ingest = opts.ingest !== false;
  const refusal = opts.ingestRefusal ?? 'this node takes no live ingest';
  const resolver: StreamKeyResolver = ingest ? opts.resolver ?? staticKeyResolver(config.live.staticKeys) : () => Promise.reject(fail('FORBIDDEN', refusal));
  const registry = new StreamRegistry(config, resolver, llog, bridges);
  // Reconnect window: a slate stands in for a publisher that left (only where publishers connect).
  const slates = ingest && config.live.reconnectWindowS > 0 ? new SlateRenderer(config.live.slateImage, llog.child({ component: 'slate' })) : null;
  registry.setSlateSource(slates);
  const rtmp = createRtmpServer(config, registry, log);
  const srt = config.srt.enabled ? createSrtServer(config, registry, log) : null;
  const rtsp = config.rtsp.enabled ? createRtspServer(config, registry, log) : null;
  let detachWs: (() => void) | null = null;
  let guard: LivePlaybackGuard | null = null;
  // LL-HLS: /live/<streamId>/{index,master,plain}.m3u8, init_<run>.mp4, seg_<run>_N.m4s, part_<run>_N.m4s
  const llhls = new LlHlsService(registry, config, llog);
  const hlsRoutes = llHlsRoutes(registry, llhls, config.delivery.corsOrigin, () => guard);
  const dashRoutes = llDashRoutes(registry, llhls, config.delivery.corsOrigin, () => guard); // LL-DASH: /live/<id>/manifest.mpd, /live/time
  const flvRoutes = httpFlvRoutes(registry, config.delivery.corsOrigin, () => guard);
  // WebRTC: POST /whip, POST /live/<id>/whep, /whip/<id>, /whep/<id>
  const webrtc = new WebRtcService(config, registry, llog);
  const rtcRoutes = webrtcRoutes(webrtc, () => guard, { whip: ingest });
  const cmaf = opts.cmafOutputs !== false;
  // Thumbnails: /live/<id>/thumbnail.jpg, the latest keyframe as a JPEG (one ffmpeg run per interval)
  const thumbnails = new LiveThumbnails(registry, { ...config.live, ffmpegPath: config.vod.ffmpegPath }, llog.child({ component: 'live-thumbnail' }));
  const thumbRoutes = thumbnailRoutes(thumbnails, config.live.thumbnailIntervalMs, config.delivery.corsOrigin, () => guard);
  const server: LiveServer = {
    recorder: null, // set by live-wiring when the store is available
    dvrClips: null, // likewise
    registry,
    bridges,
    events: registry.events,
    rtmp,
    srt,
    rtsp,
    routes: async (app) => {
      await flvRoutes(app);
      await thumbRoutes(app); // before LL-HLS's /live/:streamId/:file (a static segment wins anyway)
      if (cmaf) await dashRoutes(app); // LL-DASH
      if (cmaf) await hlsRoutes(app); // LL-HLS
      await rtcRoutes(app); // WHIP (with ingest) / WHEP
    },
    webrtc,
    llhls,
    thumbnails,
    slateMetrics: slates === null ? null : new SlateMetrics(slates.stats, registry),
    attach(server) {
      detachWs = attachWsFlv(server, registry, llog, () => guard);
    },
    async listen() {
      await srt?.listen();
      await rtsp?.listen();
      return config.rtmp.enabled ? rtmp.listen() : null;
    },
    async close() {
      llhls.close(); // release held LL-HLS blocking requests first
      thumbnails.close();
      const webrtcReleased = webrtc.close(); // end WHIP/WHEP sessions and fan-outs
      await registry.close();
      await server.recorder?.close(); // publish what was recorded before the store closes
      detachWs?.();
      detachWs = null;
      await rtmp.close();
      await srt?.close();
      await rtsp?.close();
      await webrtcReleased; // werift sockets/timers released (bounded) before close resolves
    },
    status: (id) => registry.status(id),
    setResolver(r) {
      if (ingest) registry.setResolver(r); // without ingest every publish stays refused
    },
    setPlaybackGuard(g) {
      guard = g;
      registry.playbackGuard = g; // RTMP play asks the registry
    },
  };
  return server;
}
