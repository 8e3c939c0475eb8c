/**
 * The live origin map (OvenMediaEngine's OriginMapStore, the SRS proxy's stream pinning): which
 * node holds the publisher of each live stream, kept in Redis so a viewer on any node finds it.
 *
 *   key    strom:live:origin:<streamId>   value JSON {nodeId, url, since}   PX cluster.originTtlMs
 *   pub/sub strom:live:origin-claims      message <streamId>, sent after every claim
 *
 * The publishing node writes its entry when the publish starts and refreshes it every TTL/3 while
 * it holds the publisher, so the entry of a node that died disappears within one TTL. The refresh
 * is "SET with PX unless another node's entry is there" (a small Lua script), not `SET XX`: a Redis
 * that restarted empty is refilled by the next refresh instead of staying empty (the pitfall
 * OvenMediaEngine documents), while a takeover on another node — which overwrites the entry with a
 * plain SET — is noticed: this node forgets the stream and reports it lost (`onLost`), so its stale
 * publisher can be closed. Release is compare-and-delete, so a node never deletes the entry of the
 * node that took its stream over. Lookups and writes fail at once while Redis is away (see
 * redis-connection.ts); the refresh retries on its next tick and counts the failure.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { RedisConnection } from './redis-connection.js';

/** Where a stream is published. */
export interface OriginEntry {
  /** The node holding the publisher. */
  nodeId: string;
  /** Base URL of that node's HTTP port (its `cluster.advertiseUrl`). */
  url: string;
  /** When that node's publish started (epoch ms). */
  since: number;
}

/** What the live relay and wiring need of the origin map (the OriginMap below implements it). */
export interface OriginLookup {
  /** This node's id. */
  readonly nodeId: string;
  /** The node publishing `streamId`, or null; rejects while Redis is unreachable. */
  lookup(streamId: string): Promise<OriginEntry | null>;
  /** Call `fn` whenever some node claims `streamId` (a publish started there); returns the unsubscribe. */
  onClaim(streamId: string, fn: () => void): () => void;
}

const KEY_PREFIX = 'strom:live:origin:';
const CLAIMS_CHANNEL = 'strom:live:origin-claims';
/** Refreshes sent per pipeline (a node with very many publishers refreshes in slices). */
const REFRESH_BATCH = 500;

// SET with PX unless another node's entry is there; returns 1, or the other node's value.
const REFRESH_LUA = `local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
// Compare-and-delete: only the entry this node wrote.
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** The Redis key of a stream's origin entry. */
export function originKey(streamId: string): string {
  return `${KEY_PREFIX}${streamId}`;
}

/** Parse an entry as stored; null when it is not one. */
export function parseOrigin(value: string | null): OriginEntry | null {
  if (value === null) return null;
  try {
    const v = JSON.parse(value) as Partial<OriginEntry>;
    if (typeof v.nodeId !== 'string' || typeof v.url !== 'string' || typeof v.since !== 'number') return null;
    return { nodeId: v.nodeId, url: v.url, since: v.since };
  } catch {
    return null;
  }
}

/** The origin map as one node writes and reads it. */
export class OriginMap implements OriginLookup {
  /** Streams this node publishes → the exact value it wrote (compare-and-delete compares it). */
  private readonly owned = new Map<string, string>();
  private readonly watchers = new Map<string, Set<() => void>>();
  private listening = false;
  private subscribed = false;
  private timer: NodeJS.Timeout | null = null;
  private refreshing = false;
  /** Refresh or claim writes that failed (Redis away); retried on the next tick. */
  refreshErrors = 0;
  /** Streams another node took over while this node still refreshed them. */
  lost = 0;
  /** Lookups by result. */
  readonly lookups = { hit: 0, miss: 0, error: 0 };
  /** Called when another node's entry replaced one this node owned (a takeover there). */
  onLost: ((streamId: string, byNode: string) => void) | null = null;
  private readonly metrics: Array<Gauge | Counter<string>>;

  constructor(
    private readonly redis: RedisConnection,
    readonly nodeId: string,
    private readonly advertiseUrl: () => string,
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {
    const entries = () => this.owned.size;
    const totals = () => ({ refreshErrors: this.refreshErrors, lost: this.lost, lookups: this.lookups });
    this.metrics = [
      new Gauge({ name: 'strom_cluster_origin_entries', help: 'Live origin map entries this node owns (streams published here)', registers: [], collect() {
        this.set(entries());
      } }),
      new Counter({ name: 'strom_cluster_origin_refresh_errors_total', help: 'Origin map writes (claims, refreshes) that failed, mostly while Redis was away', registers: [], collect() {
        this.reset();
        this.inc(totals().refreshErrors);
      } }),
      new Counter({ name: 'strom_cluster_origin_lost_total', help: 'Streams whose origin entry another node took over while this node still published them', registers: [], collect() {
        this.reset();
        this.inc(totals().lost);
      } }),
      new Counter({ name: 'strom_cluster_origin_lookups_total', help: 'Origin map lookups by result (hit, miss, error)', labelNames: ['result'], registers: [], collect() {
        this.reset();
        for (const [result, n] of Object.entries(totals().lookups)) this.inc({ result }, n);
      } }),
    ];
  }

  /** Join the process registry (once). */
  register(registry: Registry): void {
    for (const m of this.metrics) registry.registerMetric(m);
  }

  /** Entries this node owns (tests, status). */
  get size(): number {
    return this.owned.size;
  }

  /** Start the periodic refresh (every TTL/3). */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.refresh(), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /** Record that this node publishes `streamId` (overwrites another node's entry: a takeover). */
  async claim(streamId: string): Promise<void> {
    const value = JSON.stringify({ nodeId: this.nodeId, url: this.advertiseUrl(), since: Date.now() } satisfies OriginEntry);
    this.owned.set(streamId, value);
    try {
      await this.redis.cmd.set(originKey(streamId), value, 'PX', this.ttlMs);
      await this.redis.cmd.publish(CLAIMS_CHANNEL, streamId);
    } catch (err) {
      this.refreshErrors++;
      this.log.warn({ streamId, err: (err as Error).message }, 'origin map claim failed; the refresh retries');
    }
  }

  /** This node no longer publishes `streamId`: delete its entry if it still names this node. */
  async release(streamId: string): Promise<void> {
    const value = this.owned.get(streamId);
    if (value === undefined) return;
    this.owned.delete(streamId);
    try {
      await this.redis.cmd.eval(RELEASE_LUA, 1, originKey(streamId), value);
    } catch (err) {
      // The entry expires within one TTL anyway.
      this.log.warn({ streamId, err: (err as Error).message }, 'origin map release failed; the entry expires by itself');
    }
  }

  /** True while this node owns the entry of `streamId`. */
  owns(streamId: string): boolean {
    return this.owned.has(streamId);
  }

  /** Re-write every owned entry (the TTL/3 tick; also refills a Redis that restarted empty). */
  async refresh(): Promise<void> {
    if (this.refreshing || this.owned.size === 0) return;
    this.refreshing = true;
    try {
      const all = [...this.owned];
      for (let i = 0; i < all.length; i += REFRESH_BATCH) {
        const slice = all.slice(i, i + REFRESH_BATCH);
        const p = this.redis.cmd.pipeline();
        for (const [id, value] of slice) p.eval(REFRESH_LUA, 1, originKey(id), value, this.ttlMs);
        const results = await p.exec();
        slice.forEach(([id, value], j) => {
          const [err, res] = results?.[j] ?? [new Error('no reply'), null];
          if (err) {
            this.refreshErrors++;
            return;
          }
          if (res === 1 || this.owned.get(id) !== value) return;
          // Another node's entry: the publisher moved there (takeover); this node lets go.
          this.owned.delete(id);
          this.lost++;
          const by = parseOrigin(typeof res === 'string' ? res : null)?.nodeId ?? 'another node';
          this.log.info({ streamId: id, byNode: by }, 'live stream taken over on another node');
          this.onLost?.(id, by);
        });
      }
    } catch (err) {
      this.refreshErrors++;
      this.log.warn({ err: (err as Error).message, entries: this.owned.size }, 'origin map refresh failed; retrying next tick');
    } finally {
      this.refreshing = false;
    }
  }

  /** The node publishing `streamId`, or null; rejects while Redis is unreachable. */
  async lookup(streamId: string): Promise<OriginEntry | null> {
    let value: string | null;
    try {
      value = await this.redis.cmd.get(originKey(streamId));
    } catch (err) {
      this.lookups.error++;
      throw err;
    }
    const entry = parseOrigin(value);
    if (entry === null) this.lookups.miss++;
    else this.lookups.hit++;
    return entry;
  }

  /** Call `fn` whenever some node claims `streamId`; returns the unsubscribe. */
  onClaim(streamId: string, fn: () => void): () => void {
    this.subscribe();
    let set = this.watchers.get(streamId);
    if (set === undefined) this.watchers.set(streamId, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0 && this.watchers.get(streamId) === set) this.watchers.delete(streamId);
    };
  }

  /** Stop refreshing and delete every entry this node still owns (shutdown). */
  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await Promise.all([...this.owned.keys()].map((id) => this.release(id)));
    this.watchers.clear();
  }

  private subscribe(): void {
    if (this.subscribed) return;
    this.subscribed = true;
    const sub = this.redis.subscriber();
    if (!this.listening) {
      this.listening = true;
      sub.on('message', (channel: string, message: string) => {
        if (channel !== CLAIMS_CHANNEL) return;
        for (const fn of [...(this.watchers.get(message) ?? [])]) fn();
      });
    }
    sub.subscribe(CLAIMS_CHANNEL).catch((err: unknown) => {
      this.subscribed = false; // the next watcher tries again; lookups poll meanwhile
      this.log.warn({ err: (err as Error).message }, 'origin claims subscription failed');
    });
  }
}
