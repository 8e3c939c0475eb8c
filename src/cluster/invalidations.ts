/**
 * Invalidations across the nodes of a cluster, over one Redis pub/sub channel
 * (`strom:invalidate`): a signing key added or revoked, a video's or live stream's visibility
 * changed (deleted = null), an asset's files changed or gone. Each message names its origin node,
 * which ignores its own. Messages carry ids only, never secrets: a node that hears of a new key
 * reloads it from the shared store. Receivers apply them through the same paths as local changes,
 * so they reach the node's delivery workers too; end to end well within a second.
 *
 * Pub/sub keeps nothing for a node that is not connected, so a node that (re)subscribes — after
 * Redis or the network came back — resyncs: it reloads keys and visibilities from the store and
 * drops its cached file metadata. A node that could not publish a change (Redis away on its side
 * only) asks every node to resync once it can publish again.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { RedisConnection } from './redis-connection.js';

/** The pub/sub channel of invalidations. */
export const INVALIDATION_CHANNEL = 'strom:invalidate';
/** After a failed publish, ask for a resync this long later if Redis is still (or again) there. */
const RETRY_MS = 1_000;

/** One change a node made that the others must apply. */
export type Invalidation =
  | { kind: 'visibility'; id: string; visibility: string | null }
  | { kind: 'key-added'; kid: string }
  | { kind: 'key-revoked'; kid: string }
  | { kind: 'asset'; id: string }
  /** "I may have missed telling you something": every node reloads from the store. */
  | { kind: 'resync' };

/** Options of the invalidation channel. */
export interface InvalidationOptions {
  redis: RedisConnection;
  nodeId: string;
  log: Logger;
  registry: Registry;
  /** Apply a change another node made. */
  apply(m: Invalidation): void | Promise<void>;
  /** Reload everything a missed message could have changed. */
  resync(): Promise<void>;
}

/** A message as received: checked field by field, never trusted. */
function parseMessage(text: string): { node: string; m: Invalidation } | null {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object' || typeof v.node !== 'string') return null;
  const str = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= 256;
  switch (v.kind) {
    case 'visibility':
      return str(v.id) && (v.visibility === null || str(v.visibility)) ? { node: v.node, m: { kind: 'visibility', id: v.id, visibility: v.visibility as string | null } } : null;
    case 'key-added':
    case 'key-revoked':
      return str(v.kid) ? { node: v.node, m: { kind: v.kind, kid: v.kid } } : null;
    case 'asset':
      return str(v.id) ? { node: v.node, m: { kind: 'asset', id: v.id } } : null;
    case 'resync':
      return { node: v.node, m: { kind: 'resync' } };
    default:
      return null;
  }
}

/** Publishes this node's changes and applies the other nodes' (see the file header). */
export class InvalidationChannel {
  private readonly log: Logger;
  private sub: Redis | null = null;
  private stopped = false;
  /** A publish failed: ask every node to resync once Redis takes publications again. */
  private missed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private resyncing: Promise<void> | null = null;
  private resyncAgain = false;
  private readonly sent: Counter<'kind'>;
  private readonly received: Counter<'kind'>;
  private readonly unsent: Counter;
  private readonly resyncs: Counter;
  private readonly onMessage = (channel: string, text: string) => this.handle(channel, text);
  private readonly onSubReady = () => void this.subscribed();
  private readonly onCmdReady = () => this.askResyncIfMissed();

  constructor(private readonly o: InvalidationOptions) {
    this.log = o.log.child({ component: 'cluster-invalidations', nodeId: o.nodeId });
    const registers = [o.registry];
    this.sent = new Counter({ name: 'strom_cluster_invalidations_sent_total', help: `Invalidations this node published on ${INVALIDATION_CHANNEL}, by kind`, labelNames: ['kind'] as const, registers });
    this.received = new Counter({ name: 'strom_cluster_invalidations_received_total', help: 'Invalidations from other nodes applied here, by kind', labelNames: ['kind'] as const, registers });
    this.unsent = new Counter({ name: 'strom_cluster_invalidations_unsent_total', help: 'Invalidations that could not be published (Redis unreachable); the nodes resync instead', registers });
    this.resyncs = new Counter({ name: 'strom_cluster_resyncs_total', help: 'Reloads of keys and visibilities from the store and drops of cached file metadata, after (re)subscribing or on request', registers });
  }

  /** Subscribe; every (re)subscription resyncs. */
  start(): void {
    const sub = (this.sub = this.o.redis.subscriber());
    sub.on('message', this.onMessage);
    sub.on('ready', this.onSubReady);
    this.o.redis.cmd.on('ready', this.onCmdReady);
    if (sub.status === 'ready') void this.subscribed();
  }

  /** Tell the other nodes about a change made here; never throws, never waits. */
  publish(m: Invalidation): void {
    if (this.stopped) return;
    this.sent.inc({ kind: m.kind });
    if (!this.o.redis.ready()) return this.failed(m, 'Redis unreachable');
    this.o.redis.cmd.publish(INVALIDATION_CHANNEL, JSON.stringify({ node: this.o.nodeId, ...m })).catch((err: Error) => this.failed(m, err.message));
  }

  /** Reload from the store now (also what a `resync` message or a resubscription does). */
  resync(): Promise<void> {
    if (this.resyncing) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    this.resyncing = (async () => {
      do {
        this.resyncAgain = false;
        this.resyncs.inc();
        try {
          await this.o.resync();
        } catch (err) {
          this.log.error({ err }, 'resync from the store failed');
        }
      } while (this.resyncAgain && !this.stopped);
      this.resyncing = null;
    })();
    return this.resyncing;
  }

  /** Stop listening (the connections are closed by the cluster). */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.o.redis.cmd.off('ready', this.onCmdReady);
    // No UNSUBSCRIBE: the connection is the cluster's to quit, and a reply may never come while it reconnects.
    this.sub?.off('message', this.onMessage);
    this.sub?.off('ready', this.onSubReady);
    await this.resyncing;
  }

  private async subscribed(): Promise<void> {
    if (this.stopped || this.sub === null) return;
    try {
      await this.sub.subscribe(INVALIDATION_CHANNEL); // idempotent; ioredis also resubscribes by itself
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'subscribing to invalidations failed; retried on reconnect');
      return;
    }
    this.log.info('subscribed to invalidations; resyncing from the store');
    await this.resync();
  }

  private handle(channel: string, text: string): void {
    if (channel !== INVALIDATION_CHANNEL || this.stopped) return;
    const msg = parseMessage(text);
    if (msg === null) return void this.log.warn({ text: text.slice(0, 200) }, 'malformed invalidation ignored');
    if (msg.node === this.o.nodeId) return;
    this.received.inc({ kind: msg.m.kind });
    if (msg.m.kind === 'resync') return void this.resync();
    Promise.resolve()
      .then(() => this.o.apply(msg.m))
      .catch((err: unknown) => this.log.error({ err, kind: msg.m.kind, from: msg.node }, 'applying an invalidation failed'));
  }

  private failed(m: Invalidation, why: string): void {
    this.unsent.inc();
    if (!this.missed) this.log.warn({ kind: m.kind, why }, 'invalidation not published; the nodes will resync once Redis is back');
    this.missed = true;
    if (this.retryTimer === null && !this.stopped) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.askResyncIfMissed();
      }, RETRY_MS);
      this.retryTimer.unref();
    }
  }

  private askResyncIfMissed(): void {
    if (!this.missed || this.stopped || !this.o.redis.ready()) return;
    this.missed = false;
    this.o.redis.cmd.publish(INVALIDATION_CHANNEL, JSON.stringify({ node: this.o.nodeId, kind: 'resync' })).then(
      () => this.log.info('asked every node to resync after invalidations went unpublished'),
      (err: Error) => this.failed({ kind: 'resync' }, err.message),
    );
  }
}
