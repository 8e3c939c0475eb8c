/**
 * Live playback on an edge: HTTP-FLV, WS-FLV, RTMP play and WHEP. Each watched stream is pulled
 * ONCE from the origin over the internal relay (`GET /internal/live/<id>.flv`, signed with
 * `cluster.secret`, src/live/relay) into the edge's own stream hub, and every viewer on the edge
 * is served from that hub — the pattern cluster nodes already use between themselves, with the
 * edge's configured origins (edge-relay-origins.ts) in place of the origin map:
 *
 *   origin hub ──1 relay reader per stream──▶ edge hub ──▶ N HTTP-FLV / WS-FLV / RTMP / WHEP viewers
 *
 * - Reuses the live server (src/live/live-server.ts) rather than rebuilding its outputs, without
 *   ingest (an RTMP publish to the edge is refused with a logged reason; no WHIP route) and
 *   without the CMAF outputs: LL-HLS and LL-DASH URLs are served by the edge's HTTP cache from the
 *   origin's own muxer, so every edge serves the same parts and playlists.
 * - Failover: an origin that is unreachable, failing or without the stream makes the relay try
 *   the next one at once; an origin lost while viewers watch is looked for again (backoff) until
 *   `cluster.relayConnectTimeoutMs`, and a stream found on another origin meanwhile continues as
 *   a takeover — viewers keep their connections. Relay bounds are the cluster's:
 *   `cluster.relayConnectTimeoutMs`, `cluster.relayIdleMs`, `cluster.relayMaxStreams`.
 * - Signed streams: `guard` (the playback guard synced from the origin) checks HTTP-FLV, WS-FLV,
 *   WHEP and RTMP play; without one playback is open.
 * The composition (edge-node.ts) mounts `routes`, calls `attach(server)`, `listen()`, `register`
 * and `close()`, like app.ts does for the origin's live server.
 */
import type http from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { LivePlaybackGuard } from '../auth/playback-guard.js';
import type { Config } from '../config.js';
import { createLiveServer, type LiveServer } from '../live/live-server.js';
import { RelayIngest } from '../live/relay/relay-ingest.js';
import { PoolRelayOrigins } from './edge-relay-origins.js';
import type { OriginPool } from './origin-pool.js';

/** What the edge's live playback is built from. */
export interface EdgeLiveOptions {
  config: Config;
  /** The edge's origins, in failover order (shared with its HTTP cache). */
  origins: OriginPool;
  /** `cluster.secret`, shared with the origin: signs relay requests. */
  secret: string;
  /** This edge's id (in relay signatures and the origin's logs). */
  nodeId: string;
  log: Logger;
  /** The origin's live playback guard as synced to the edge (signed streams); absent = open. */
  guard?: LivePlaybackGuard;
}

/** The edge's live playback. */
export interface EdgeLive {
  /** The edge's live server: hub, status, RTMP listener (play only), WHEP sessions. */
  live: LiveServer;
  /** Streams pulled from the origins (one upstream connection each). */
  relay: RelayIngest;
  /** Fastify plugin: `GET /live/<id>.flv` and WHEP (`POST/OPTIONS /live/<id>/whep`, `PATCH/DELETE/OPTIONS /whep/<id>`). */
  routes: (app: FastifyInstance) => Promise<void>;
  /** Accept WS-FLV upgrades on `/live/<id>.flv` on `server`. */
  attach(server: http.Server): void;
  /** Start the RTMP listener for `play` (unless `rtmp.enabled` is false); resolves to its port or null. */
  listen(): Promise<number | null>;
  /** Join the relay's, WHEP's and the edge's failover metrics to `registry` (once). */
  register(registry: Registry): void;
  /** End viewers and relays, stop the RTMP listener and the audio bridges. */
  close(): Promise<void>;
}

/** Why a publish to an edge is refused (logged, and sent to the publisher as its NetStream status). */
export const EDGE_INGEST_REFUSAL = 'this node is an edge (strom edge): publish to its origin';

/** Build the edge's live playback over `opts.origins`. */
export function createEdgeLive(opts: EdgeLiveOptions): EdgeLive {
  const { config, nodeId } = opts;
  const log = opts.log.child({ nodeId });
  const live = createLiveServer(config, log, { ingest: false, ingestRefusal: EDGE_INGEST_REFUSAL, cmafOutputs: false });
  live.setPlaybackGuard(opts.guard ?? null);
  const origins = new PoolRelayOrigins(nodeId, opts.origins);
  const relay = new RelayIngest(live.registry, origins, {
    nodeId,
    secret: opts.secret,
    connectTimeoutMs: config.cluster.relayConnectTimeoutMs,
    idleMs: config.cluster.relayIdleMs,
    maxStreams: config.cluster.relayMaxStreams,
  }, log.child({ component: 'relay' }));
  live.registry.setRemoteSource(relay);
  const failovers = new Counter({
    name: 'strom_edge_live_origin_failovers_total',
    help: 'Live relay searches that moved on to the next origin because one could not serve the stream (unreachable, failing or not live there)',
    registers: [],
    collect() {
      this.reset();
      this.inc(origins.failovers);
    },
  });

  return {
    live,
    relay,
    routes: live.routes,
    attach: (server) => live.attach(server),
    listen: () => live.listen(),
    register(registry) {
      relay.metrics.register(registry);
      live.webrtc.metrics.register(registry);
      registry.registerMetric(failovers);
    },
    async close() {
      await live.close(); // viewers end, relayed streams stop (their upstreams close)
      relay.close(); // pulls still looking for an origin stop
    },
  };
}
