/**
 * Connects the pulled sources to the process: stored sources come from `live_streams.source`,
 * demand from the stream hub (viewers of every protocol, other nodes' relays, recent HLS/DASH
 * requests), state changes go on the event bus as `live.source.state` (SSE, webhooks; other
 * nodes' events keep the last known state of sources pulled elsewhere), a source changed through
 * one node's API reaches the others as `live.source.changed`, and in cluster mode the pull lease
 * lives in Redis. app.ts builds it after wireLive; it is the registry's pulled source.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { Cluster } from '../../cluster/cluster.js';
import type { OriginLookup } from '../../cluster/origin-map.js';
import { RedisPullLock } from '../../cluster/pull-lock.js';
import type { EventBus, EventMap } from '../../events/event-bus.js';
import type { Store } from '../../store/db/database.js';
import type { LiveStreamRow } from '../../store/db/schema.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import { defaultConnectors } from './connectors.js';
import { PullManager, type SourceStatus } from './pull-manager.js';
import type { SourceSpec, SourceState } from './pulled-source.js';
import type { ConnectorRegistry } from './connector/source-connector.js';

/** What the pull wiring connects. */
export interface PullWiring {
  registry: StreamRegistry;
  /** How long ago an HLS/DASH request used a stream's muxer (LlHlsService.sinceLastAccess), null without one. */
  hlsSinceLastAccess(streamId: string): number | null;
  store: Store;
  bus: EventBus;
  /** Cluster mode: Redis (the pull lease) and the origin map. */
  cluster?: { cluster: Cluster; origins: OriginLookup };
  connectors?: ConnectorRegistry;
}

/** The stored source of a row, or null. */
export function sourceSpecOf(r: LiveStreamRow | undefined): SourceSpec | null {
  return r?.source ? { streamId: r.id, url: r.source, onDemand: r.source_on_demand !== 0 } : null;
}

/** Build the pull manager, install it in the registry and start the always-on sources. */
export async function wirePull(w: PullWiring, config: Config, log: Logger): Promise<PullManager> {
  const plog = log.child({ component: 'pull' });
  const recentHlsMs = Math.max(2000, 3 * config.llhls.segmentTargetMs);
  const lastKnown = new Map<string, SourceStatus>();
  const manager = new PullManager({
    registry: w.registry,
    connectors: w.connectors ?? defaultConnectors(),
    tuning: {
      connectTimeoutMs: config.live.sourceConnectTimeoutMs,
      lingerMs: config.live.sourceLingerMs,
      reconnectGraceMs: config.live.sourceReconnectGraceMs,
      retryMaxMs: config.live.sourceRetryMaxMs,
      maxBufferBytes: config.live.sourceMaxBufferBytes,
    },
    maxSources: config.live.maxPulledSources,
    log: plog,
    lookup: async (id) => sourceSpecOf(await w.store.liveStreams.get(id)),
    listAll: async () => (await w.store.liveStreams.withSources()).map((r) => sourceSpecOf(r)!),
    demand: (id) => {
      const v = w.registry.status(id).viewers;
      // LL-HLS/LL-DASH viewers are requests, not readers: the muxer's reader (also held by a
      // recording or DVR) does not count, a request within a few segments does.
      if (v.total - v['ll-hls'] + v.relay > 0) return true;
      const since = w.hlsSinceLastAccess(id);
      return since !== null && since < recentHlsMs;
    },
    onChanged: (streamId) => w.bus.publish('live.source.changed', { streamId }),
    onState: (streamId, s) => w.bus.publish('live.source.state', { streamId, state: s.state, reason: s.reason, url: s.url, since: s.since ?? new Date().toISOString() }),
    cluster: w.cluster && {
      origins: w.cluster.origins,
      lock: new RedisPullLock(w.cluster.cluster.redis, w.cluster.origins.nodeId, config.cluster.originTtlMs, plog),
      ttlMs: config.cluster.originTtlMs,
    },
  });
  manager.remoteStatus = (id) => lastKnown.get(id) ?? null;
  w.bus.subscribe((e) => {
    // Another node's API changed a source: this node may be the one pulling it.
    if (!e.local && e.type === 'live.source.changed') void manager.changed((e.data as EventMap['live.source.changed']).streamId, true);
    if (e.local || e.type !== 'live.source.state') return;
    const d = e.data as EventMap['live.source.state'];
    if (lastKnown.size > 10_000) lastKnown.clear(); // bounded
    lastKnown.set(d.streamId, { url: d.url, onDemand: true, state: d.state as SourceState, since: d.since, reason: d.reason, protocol: null });
  });
  w.registry.setPulledSource(manager);
  await manager.start();
  return manager;
}
