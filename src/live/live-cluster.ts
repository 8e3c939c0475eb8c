/**
 * Live from any node (cluster mode): connects this node's live server to the others.
 *
 * - Origin map (src/cluster/origin-map.ts): a publish on this node claims its stream, its end
 *   releases it (not when a takeover on this node keeps it live), and a takeover on another node
 *   (noticed by the refresh) closes the stale publisher here, which also ends the relays other
 *   nodes hold to it so they follow the stream to its new node.
 * - Relay (src/live/relay): the registry's remote source, so a viewer here of a stream published
 *   elsewhere gets it through one upstream connection per stream; and the internal endpoint that
 *   serves this node's streams to the other nodes.
 * Relay publishers are internal: they never claim the origin map (only real publishers do).
 * app.ts builds it only when `cluster.redisUrl` is set. A single node with `cluster.secret` gets
 * the internal endpoint alone (`createRelayEndpoint`), so `strom edge` nodes can pull from it.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { defaultNodeId, type Cluster } from '../cluster/cluster.js';
import { OriginMap } from '../cluster/origin-map.js';
import type { LiveServer } from './live-server.js';
import { RelayIngest } from './relay/relay-ingest.js';
import { RelayMetrics, RelayStats } from './relay/relay-metrics.js';
import { relayPlaybackRoutes } from './relay/relay-playback.js';

/** The cluster side of the live server. */
export interface LiveCluster {
  /** Where each stream is published (this node writes the entries of its own publishers). */
  origins: OriginMap;
  /** Streams pulled from other nodes. */
  relay: RelayIngest;
  /** Fastify plugin with the internal relay endpoint `GET /internal/live/<id>.flv`. */
  routes: (app: FastifyInstance) => Promise<void>;
  /** Join the origin map's and relay's metrics to the process registry. */
  register(registry: Registry): void;
  /** Stop relaying, stop refreshing and release this node's origin entries (after live.close). */
  close(): Promise<void>;
}

/** Connect `live` to `cluster`: origin map claims, the relay as the registry's remote source, the internal endpoint. */
export function createLiveCluster(live: LiveServer, cluster: Cluster, config: Config, log: Logger): LiveCluster {
  const { nodeId, secret } = cluster;
  const clog = log.child({ component: 'live-cluster', nodeId });
  const registry = live.registry;
  const origins = new OriginMap(cluster.redis, nodeId, () => cluster.advertiseUrl(), config.cluster.originTtlMs, clog);
  const relay = new RelayIngest(registry, origins, {
    nodeId, secret,
    connectTimeoutMs: config.cluster.relayConnectTimeoutMs,
    idleMs: config.cluster.relayIdleMs,
    maxStreams: config.cluster.relayMaxStreams,
  }, log.child({ component: 'relay', nodeId }));
  registry.setRemoteSource(relay);

  // Redis writes in flight, awaited by close() so none outlives the connection.
  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const offs = [
    live.events.on('publish.start', (e) => {
      if (!e.relay) track(origins.claim(e.streamId));
    }),
    live.events.on('publish.stop', (e) => {
      if (e.relay) return;
      // A takeover on this node emits publish.stop and attaches the new publisher in the same tick.
      queueMicrotask(() => {
        const s = registry.active(e.streamId);
        if (s === null || s.publisher?.relayFrom !== undefined) track(origins.release(e.streamId));
      });
    }),
  ];
  // Another node took the stream over while this node still had a publisher: that one is stale.
  origins.onLost = (streamId, byNode) => {
    const s = registry.get(streamId);
    const p = s?.publisher;
    if (s === undefined || p == null || p.relayFrom !== undefined) return;
    const reason = `taken over on node ${byNode}`;
    const standby = s.standby?.publisher;
    if (standby !== undefined) {
      registry.stopPublish(s, standby, reason); // first: the stream ends here, nothing to switch to
      standby.close(reason);
    }
    registry.stopPublish(s, p, reason, true, false); // no slate: the stream lives on the other node
    p.close(reason);
  };
  origins.start();

  return {
    origins,
    relay,
    routes: relayPlaybackRoutes(registry, nodeId, secret, clog, origins), // a stream published on another node: 307 there
    register(reg) {
      origins.register(reg);
      relay.metrics.register(reg);
    },
    async close() {
      for (const off of offs.splice(0)) off();
      relay.close();
      await Promise.all([...pending]);
      await origins.close();
    },
  };
}

/**
 * The internal relay endpoint of a single node (no Redis) with `cluster.secret` set: edges pull
 * its live streams from it. Its relay metrics are registered too (`strom_live_relay_served` counts
 * the edges' connections; the pulling side's figures stay 0: a single node pulls nothing).
 */
export function createRelayEndpoint(live: LiveServer, config: Config, secret: string, log: Logger): Pick<LiveCluster, 'routes' | 'register'> {
  const nodeId = config.cluster.nodeId ?? defaultNodeId();
  const registry = live.registry;
  const metrics = new RelayMetrics(new RelayStats(), () => 0, () => registry.list().reduce((n, s) => n + s.viewers.relay, 0));
  return {
    routes: relayPlaybackRoutes(registry, nodeId, secret, log.child({ component: 'live-relay', nodeId })),
    register: (reg) => metrics.register(reg),
  };
}
