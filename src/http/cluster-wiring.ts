/**
 * Connects a node's cluster membership (src/cluster, Redis) to the parts that move between nodes:
 *
 * - the event bus takes the Redis Stream as its transport (cluster-events.ts);
 * - playback policy, signing keys and the file catalog publish their changes as invalidations,
 *   and apply the other nodes' through their usual paths — so the change reaches this node's
 *   delivery workers as a local one does; a resync reloads keys and visibilities from the store
 *   and drops cached file metadata (invalidations.ts);
 * - the media limiter and stream cap of the main and of each delivery worker are counted
 *   cluster-wide (shared-limits.ts).
 *
 * `buildStrom` calls `wireCluster` once the control plane exists, and `addWorkers` once the
 * delivery workers do. Nothing here runs on a single node.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { Cluster } from '../cluster/cluster.js';
import { ClusterEventLog } from '../cluster/cluster-events.js';
import { InvalidationChannel, type Invalidation } from '../cluster/invalidations.js';
import { SharedLimits, type LimitParticipant } from '../cluster/shared-limits.js';
import type { BusEvent, EventBus } from '../events/event-bus.js';
import { limitParticipant } from '../auth/rate-limits.js';
import type { Visibility } from '../store/db/schema.js';
import type { ControlPlane } from './api/api.js';
import type { Delivery } from './delivery/delivery-handler.js';

/** The delivery workers as the limit sync sees them (delivery-workers.ts `limitParticipants`). */
export interface LimitedWorkers {
  limitParticipants(): LimitParticipant[];
}

/** The running cluster sync of one node. */
export interface ClusterLink {
  events: ClusterEventLog;
  invalidations: InvalidationChannel;
  limits: SharedLimits;
  /** Count the delivery workers' limiter usage too. */
  addWorkers(workers: LimitedWorkers): void;
  /** Stop syncing (before the cluster's connections close). */
  close(): Promise<void>;
}

/** What the wiring connects. */
export interface ClusterParts {
  config: Config;
  log: Logger;
  registry: Registry;
  bus: EventBus;
  control: ControlPlane;
  delivery: Delivery;
}

const VISIBILITIES: ReadonlySet<string> = new Set<Visibility>(['public', 'signed']);

/** Start the event stream, invalidations and shared limits of this node. */
export function wireCluster(cluster: Cluster, p: ClusterParts): ClusterLink {
  const { config, log, registry, bus, control, delivery } = p;
  const { policy, tokens, store } = control;
  const base = { redis: cluster.redis, nodeId: cluster.nodeId, log, registry };

  const events = new ClusterEventLog({
    ...base,
    historySize: config.events.historySize,
    backlog: config.events.clusterBacklog,
    sink: { deliver: (e) => bus.deliver(e as BusEvent), remember: (e) => bus.remember(e as BusEvent), lastId: () => bus.lastId() },
  });
  bus.useTransport(events);
  events.start();

  // Changes applied on behalf of another node must not be published again.
  let applying = false;
  const quietly = (f: () => void): void => {
    applying = true;
    try {
      f();
    } finally {
      applying = false;
    }
  };
  const invalidations = new InvalidationChannel({
    ...base,
    apply: async (m: Invalidation) => {
      switch (m.kind) {
        case 'visibility':
          if (m.visibility !== null && !VISIBILITIES.has(m.visibility)) return;
          return quietly(() => policy.set(m.id, m.visibility as Visibility | null));
        case 'key-revoked':
          return quietly(() => tokens.revokeKey(m.kid));
        case 'key-added': {
          const row = await store.signingKeys.get(m.kid); // secrets come from the shared store, never over Redis
          if (row === undefined) return void log.warn({ nodeId: cluster.nodeId, kid: m.kid }, 'signing key added on another node is not in this node\'s store: is store.url shared?');
          if (row.revoked_at === null) quietly(() => tokens.addKey(row));
          return;
        }
        case 'asset':
          return quietly(() => delivery.catalog.invalidateAsset(m.id));
        case 'resync':
          return;
      }
    },
    resync: async () => {
      const [videos, streams, keys] = await Promise.all([store.videos.visibilities(), store.liveStreams.visibilities(), store.signingKeys.active()]);
      quietly(() => {
        const visibility = new Map<string, Visibility>();
        for (const r of [...videos, ...streams]) visibility.set(r.id, r.visibility);
        for (const id of policy.signedIds()) if (visibility.get(id) !== 'signed') policy.set(id, visibility.get(id) ?? null);
        for (const [id, v] of visibility) if (v === 'signed' && !policy.isSigned(id)) policy.set(id, v);
        const active = new Set(keys.map((k) => k.kid));
        for (const { kid } of tokens.activeKeys()) if (!active.has(kid)) tokens.revokeKey(kid);
        const have = new Set(tokens.activeKeys().map((k) => k.kid));
        for (const row of [...keys].reverse()) if (!have.has(row.kid)) tokens.addKey(row); // oldest first: the newest signs
        delivery.catalog.invalidateAll();
      });
    },
  });
  policy.onChange((id, visibility) => applying || invalidations.publish({ kind: 'visibility', id, visibility }));
  tokens.onChange((c) => applying || invalidations.publish(c.type === 'added' ? { kind: 'key-added', kid: c.kid } : { kind: 'key-revoked', kid: c.kid }));
  delivery.catalog.onInvalidate((id) => applying || id === null || invalidations.publish({ kind: 'asset', id }));
  invalidations.start();

  const participants: LimitParticipant[] = [limitParticipant(control.mediaLimiter, control.streamCap)];
  const limits = new SharedLimits({
    ...base,
    syncMs: config.rateLimit.syncMs,
    mediaPerMinute: config.rateLimit.media.perMinute,
    maxStreams: config.rateLimit.maxStreamsPerToken,
    participants: () => participants,
  });
  limits.start();

  return {
    events, invalidations, limits,
    addWorkers: (workers) => void participants.push(...workers.limitParticipants()),
    async close() {
      await limits.close();
      await invalidations.close();
      await events.close();
    },
  };
}
