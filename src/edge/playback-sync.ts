/**
 * The edge's copy of its origin's signed-playback state, and the playback guard built on it. An
 * edge verifies playback tokens itself — an origin round trip per request would defeat the edge —
 * so it follows the origin's `GET /internal/edge/sync` (src/http/internal/edge-sync-routes.ts):
 * signing keys, signed ids and asset invalidations, applied the moment the origin has them, the
 * way a delivery worker applies its main's IPC messages (worker-main.ts).
 *
 * - Connection: one long-lived stream (sync-stream.ts) from the first origin of
 *   `OriginPool.candidates()` that accepts it, signed with `cluster.secret` as node `nodeId`. A
 *   connection error marks the origin failed in the pool and moves on to the next one.
 * - Reconnect: on end, error, or 45 s without a byte (three missed heartbeats), after a backoff
 *   of 100 ms doubling to 5 s (back to 100 ms once a stream delivered its snapshot).
 * - Snapshot: the first makes the edge `synced()`; until then the guard refuses playback with
 *   503 EDGE_NOT_SYNCED. Every snapshot REPLACES the state: keys absent from it are revoked, the
 *   signed set becomes exactly its list — so a revocation missed while disconnected still takes
 *   effect. A later snapshot calls the `onResync` listeners (invalidations may have been missed).
 * - Disconnected: the last known state stays in force (an origin blip does not stop playback).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { fail } from '../errors.js';
import type { AnyRequest, AnyResponse } from '../http-message.js';
import { createPlaybackGuard, PlaybackPolicy } from '../auth/playback-guard.js';
import { PlaybackTokens } from '../auth/playback-tokens.js';
import { MediaRateLimiter, StreamCap } from '../auth/rate-limits.js';
import type { SigningKeysRepo } from '../store/db/signing-keys-repo.js';
import type { SyncKey, SyncMessage } from '../http/internal/edge-sync-protocol.js';
import type { Origin, OriginPool } from './origin-pool.js';
import { followSyncStream } from './sync-stream.js';
import { PlaybackSyncMetrics, PlaybackSyncStats } from './playback-sync-metrics.js';

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;

/** The playback guard (`createPlaybackGuard`'s signature), refusing with 503 EDGE_NOT_SYNCED before the first snapshot. */
export type EdgePlaybackGuard = (req: AnyRequest, id: string, rel: string, pathToken?: string | null, res?: AnyResponse) => void | Promise<void>;

/** What the sync needs. */
export interface EdgePlaybackSyncOptions {
  origins: OriginPool;
  /** `cluster.secret`, shared with the origin. */
  secret: string;
  /** This edge's node id (the origin logs it). */
  nodeId: string;
  /** `rateLimit.*` and `playback.tokenCacheEntries` for the guard; `edge.upstreamTimeoutMs` for connecting. */
  config: Config;
  log: Logger;
}

/** How one attempt on one origin ended. */
type Outcome = 'unreachable' | 'ended' | 'synced';

/** The edge's playback policy, kept in sync with the origin. */
export class EdgePlaybackSync {
  /** Signed ids (videos and live streams). */
  readonly policy = new PlaybackPolicy();
  /** Signing keys and the verified-token cache. */
  readonly tokens: PlaybackTokens;
  readonly limiter: MediaRateLimiter;
  readonly cap: StreamCap;
  /** Signed playback + media rate limit + per-token stream cap, as on the origin. */
  readonly guard: EdgePlaybackGuard;
  private readonly log: Logger;
  private readonly stats = new PlaybackSyncStats();
  private readonly metrics: PlaybackSyncMetrics;
  private readonly invalidateListeners: Array<(assetId: string | null) => void> = [];
  private readonly resyncListeners: Array<() => void> = [];
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;
  private hasSnapshot = false;
  /** The origin whose stream is open, or null. */
  private current: Origin | null = null;
  private lastHeardAt = 0;
  private lastError: string | null = null;
  private opened = 0;

  constructor(private readonly o: EdgePlaybackSyncOptions) {
    const { config } = o;
    this.log = o.log.child({ component: 'edge-playback-sync', nodeId: o.nodeId });
    // An edge never signs and has no store: keys only arrive from the origin, so the repository is never used.
    this.tokens = new PlaybackTokens({} as SigningKeysRepo, config.playback.tokenCacheEntries);
    this.limiter = new MediaRateLimiter(config.rateLimit.media.perMinute, config.rateLimit.media.maxClients);
    this.cap = new StreamCap(config.rateLimit.maxStreamsPerToken);
    const inner = createPlaybackGuard({ policy: this.policy, tokens: this.tokens, limiter: this.limiter, cap: this.cap });
    this.guard = (req, id, rel, pathToken, res) => {
      if (!this.hasSnapshot) throw fail('EDGE_NOT_SYNCED', this.lastError ?? `connecting to ${o.origins.origins.map((x) => x.url).join(', ')}`);
      return inner(req, id, rel, pathToken, res);
    };
    this.metrics = new PlaybackSyncMetrics(this.stats, {
      connected: () => this.current !== null,
      lastHeard: () => this.lastHeardAt,
      signedIds: () => this.policy.signedIds().length,
      keys: () => this.tokens.activeKeys().length,
    });
  }

  /** True once a snapshot was applied (and from then on, through disconnections). */
  synced(): boolean {
    return this.hasSnapshot;
  }

  /** State for readiness checks and logs. */
  status(): { synced: boolean; connected: boolean; origin: string | null; lastError: string | null; signedIds: number; keys: number } {
    return { synced: this.hasSnapshot, connected: this.current !== null, origin: this.current?.url ?? null, lastError: this.lastError, signedIds: this.policy.signedIds().length, keys: this.tokens.activeKeys().length };
  }

  /** Call `listener` for every asset the origin invalidates (null: every asset). */
  onInvalidate(listener: (assetId: string | null) => void): void {
    this.invalidateListeners.push(listener);
  }

  /** Call `listener` after each snapshot that follows a reconnect (changes may have been missed meanwhile). */
  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  /** Join the edge's metrics registry (once). */
  register(registry: Registry): void {
    this.metrics.register(registry);
  }

  /** Connect, and keep reconnecting until `close()`. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stop syncing; the last known state stays readable. */
  async close(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    let delay = BACKOFF_MIN_MS;
    while (!signal.aborted) {
      let outcome: Outcome = 'unreachable';
      for (const origin of this.o.origins.candidates()) {
        if (signal.aborted) return;
        outcome = await this.attempt(origin);
        if (outcome !== 'unreachable') break;
      }
      if (outcome === 'synced') delay = BACKOFF_MIN_MS;
      try {
        await sleep(delay, undefined, { signal });
      } catch {
        return; // closed
      }
      delay = Math.min(BACKOFF_MAX_MS, delay * 2);
    }
  }

  /** One stream from `origin`, followed until it ends. */
  private async attempt(origin: Origin): Promise<Outcome> {
    let synced = false;
    const end = await followSyncStream(origin, {
      secret: this.o.secret,
      nodeId: this.o.nodeId,
      timeoutMs: this.o.config.edge.upstreamTimeoutMs,
      signal: this.stopping.signal,
      onOpen: () => {
        this.current = origin;
        if (++this.opened > 1) this.stats.reconnects++;
      },
      onBytes: () => void (this.lastHeardAt = Date.now()),
      onMessage: (m) => {
        this.apply(m, origin);
        synced = true;
      },
    });
    this.current = null;
    if (this.stopping.signal.aborted) return 'ended';
    if (!end.opened) {
      if (end.connectError) this.o.origins.markFailed(origin, end.connectError);
      this.failed(origin, end.why);
      return 'unreachable';
    }
    this.disconnected(origin, end.why);
    return synced ? 'synced' : 'ended';
  }

  private apply(m: SyncMessage, origin: Origin): void {
    if (m.type === 'snapshot') return this.replace(m.keys, m.signed, origin);
    this.stats.deltas.set(m.type, (this.stats.deltas.get(m.type) ?? 0) + 1);
    switch (m.type) {
      case 'key-added':
        return this.addKey(m.key);
      case 'key-revoked':
        return this.tokens.revokeKey(m.kid);
      case 'visibility':
        return this.policy.set(m.id, m.signed ? 'signed' : 'public');
      case 'invalidate':
        return this.notify(this.invalidateListeners, m.assetId);
    }
  }

  /** Make the state exactly the snapshot's. */
  private replace(keys: SyncKey[], signed: string[], origin: Origin): void {
    const want = new Map(keys.map((k) => [k.kid, k.secret]));
    const have = new Map(this.tokens.activeKeys().map((k) => [k.kid, k.secret]));
    for (const [kid, secret] of have) if (want.get(kid) !== secret) this.tokens.revokeKey(kid);
    for (const k of keys) if (have.get(k.kid) !== k.secret) this.addKey(k);
    const ids = new Set(signed);
    for (const id of this.policy.signedIds()) if (!ids.has(id)) this.policy.set(id, 'public');
    for (const id of ids) if (!this.policy.isSigned(id)) this.policy.set(id, 'signed');
    this.stats.snapshots++;
    const resync = this.hasSnapshot;
    this.hasSnapshot = true;
    this.lastError = null;
    this.log.info({ origin: origin.url, signedIds: ids.size, keys: keys.length }, resync ? 'playback sync: reconnected, state replaced by the origin\'s snapshot' : 'playback sync: synced with the origin');
    if (resync) this.notify(this.resyncListeners, undefined);
  }

  private addKey(k: SyncKey): void {
    if (k.alg !== 'HS256') return void this.log.warn({ kid: k.kid, alg: k.alg }, 'playback sync: signing key with an algorithm this edge does not verify, ignored');
    this.tokens.addKey({ kid: k.kid, secret: k.secret, alg: k.alg, created_at: 0, revoked_at: null });
  }

  private notify<A>(listeners: Array<(a: A) => void>, arg: A): void {
    for (const l of listeners) {
      try {
        l(arg);
      } catch (err) {
        this.log.error({ err }, 'playback sync: listener failed');
      }
    }
  }

  private failed(origin: Origin, why: string): void {
    const changed = this.lastError !== `${origin.url}: ${why}`;
    this.lastError = `${origin.url}: ${why}`;
    const state = this.hasSnapshot ? 'serving the last known policy' : 'playback refused until the first snapshot';
    this.log[changed ? 'warn' : 'debug']({ origin: origin.url, err: why }, `playback sync: cannot follow the origin (${state}); retrying`);
  }

  private disconnected(origin: Origin, why: string): void {
    this.lastError = `${origin.url}: ${why}`;
    this.log.warn({ origin: origin.url, err: why, signedIds: this.policy.signedIds().length, keys: this.tokens.activeKeys().length }, 'playback sync: disconnected from the origin; serving the last known policy while reconnecting');
  }
}
