/**
 * The edge's pull-through cache: what a viewer's request for one object turns into.
 *
 *   fresh in memory ──▶ answer (the synchronous hot path: one Map lookup)
 *   on disk, fresh  ──▶ read, promote, answer
 *   stale           ──▶ revalidate with If-None-Match / If-Modified-Since (RFC 9111 §4.3):
 *                       304 refreshes the stored object and keeps its body; 200 replaces it
 *   absent          ──▶ fill from the origin
 *
 * Fills are coalesced (fill.ts): while one is in flight for a key, every other request for that
 * key joins it instead of asking the origin again — N viewers, one origin request — and is
 * streamed the bytes as they arrive. When every origin fails (or answers 5xx) and a stored copy
 * exists within `edge.staleIfErrorMs` past its freshness, the stale copy is served (RFC 5861
 * stale-if-error) with `Cache-Status: …; fwd=stale; detail=stale-if-error`.
 * Bounded: `edge.maxWaiters` viewers per fill (more → 503 EDGE_BUSY), objects above
 * `edge.maxObjectBytes` are relayed but not stored, both tiers have byte budgets.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { fail, StromError } from '../errors.js';
import { cachePolicy, endToEndHeaders, freshnessLeftMs, headerOf, makeObject, type CachedObject } from './cached-object.js';
import { EdgeStats } from './edge-metrics.js';
import { Fill } from './fill.js';
import { ObjectStore } from './object-store.js';
import type { OriginPool } from './origin-pool.js';
import { sendErrorResponse, sendFill, sendStored } from './viewer-response.js';

/** One request resolved to a cache key and the origin URL path that fills it. */
export interface EdgeTarget {
  key: string;
  /** Path and query sent to the origin. */
  upstreamPath: string;
  /** Answer with `Cache-Control: private` (signed asset, token outside the path). */
  privateCache: boolean;
  /** Live object: the origin may hold the request (blocking playlist, preload hint) before answering. */
  live: boolean;
}

/** Headers of the viewer request passed to the origin (trace context, client address). */
export type UpstreamHeaders = Record<string, string>;

/** How long a live request may be held by the origin beyond the normal head timeout. */
const LIVE_HOLD_MS = 10_000;

/** The pull-through cache. */
export class EdgeCache {
  readonly store: ObjectStore;
  readonly stats = new EdgeStats();
  private readonly fills = new Map<string, Fill>();
  private readonly e: Config['edge'];

  constructor(private readonly pool: OriginPool, config: Config, private readonly log: Logger) {
    this.e = config.edge;
    this.store = new ObjectStore(this.e.cacheBytes, this.e.diskDir, this.e.diskBytes);
  }

  /** Fills in flight (coalesced origin requests). */
  inFlight(): number {
    return this.fills.size;
  }

  /** Viewers currently streamed from fills in flight. */
  waiting(): number {
    let n = 0;
    for (const f of this.fills.values()) n += f.watchers;
    return n;
  }

  /** True when `key` is stored (either tier) or being filled. */
  has(key: string): boolean {
    return this.fills.has(key) || this.store.memory.map.has(key) || (this.store.disk?.has(key) ?? false);
  }

  /**
   * Answer `req` for `t`. Returns 'hit' for a fresh hit from memory, 'warm' for the first hit on a
   * prefetched object (the caller warms the segments after it), 'miss' otherwise. `upstream` is
   * only called when the origin is asked.
   */
  serve(req: IncomingMessage, res: ServerResponse, t: EdgeTarget, upstream: () => UpstreamHeaders): 'hit' | 'warm' | 'miss' {
    const now = Date.now();
    const o = this.store.hot(t.key);
    if (o !== undefined && (o.immutable || freshnessLeftMs(o, now) > 0)) {
      this.stats.hit++;
      sendStored(req, res, o, now, { cacheStatus: `hit; ttl=${ttlSeconds(o, now)}`, privateCache: t.privateCache, hit: true });
      if (o.prefetched !== true) return 'hit';
      o.prefetched = false;
      return 'warm';
    }
    this.slow(req, res, t, upstream, o).catch((err: Error) => this.answerError(req, res, err));
    return 'miss';
  }

  /** Fill `t` in the background (cache warming); false when it is already stored or in flight. */
  warm(t: EdgeTarget, upstream: UpstreamHeaders): Fill | null {
    if (this.has(t.key)) return null;
    return this.start(t, upstream, undefined, 'prefetch');
  }

  private async slow(req: IncomingMessage, res: ServerResponse, t: EdgeTarget, upstream: () => UpstreamHeaders, hot: CachedObject | undefined): Promise<void> {
    let stored = hot ?? (await this.store.cold(t.key));
    if (res.destroyed) return;
    const now = Date.now();
    if (hot === undefined && stored !== undefined && (stored.immutable || freshnessLeftMs(stored, now) > 0)) {
      this.stats.hitDisk++;
      return sendStored(req, res, stored, now, { cacheStatus: `hit; ttl=${ttlSeconds(stored, now)}; detail=disk`, privateCache: t.privateCache });
    }
    const joined = this.join(t, upstream, stored);
    if (joined === null) throw fail('EDGE_BUSY', t.key, this.e.maxWaiters);
    const { fill, leader } = joined;
    await fill.headed;
    if (res.destroyed) return;
    stored ??= this.store.hot(t.key); // a 304 refreshed it, or it arrived meanwhile
    const originFailed = fill.state === 'failed' || fill.status >= 500;
    if (originFailed && stored !== undefined && freshnessLeftMs(stored, Date.now()) > -this.e.staleIfErrorMs) {
      this.stats.staleIfError++;
      return sendStored(req, res, stored, Date.now(), { cacheStatus: `fwd=stale; fwd-status=${fill.status || 502}; detail=stale-if-error`, privateCache: t.privateCache });
    }
    if (fill.state === 'failed') throw fill.error instanceof StromError ? fill.error : fail('EDGE_ORIGIN_UNREACHABLE', t.upstreamPath, fill.error?.message ?? 'failed');
    if (fill.status === 304 && stored !== undefined) {
      this.stats.revalidated++;
      return sendStored(req, res, stored, Date.now(), { cacheStatus: 'fwd=stale; fwd-status=304', privateCache: t.privateCache });
    }
    if (leader) this.stats.miss++;
    const cacheStatus = leader ? `fwd=${stored ? 'stale' : 'miss'}; fwd-status=${fill.status}${fill.storable ? '; stored' : ''}` : `fwd=miss; fwd-status=${fill.status}; collapsed`;
    if (req.headers.range !== undefined && fill.status === 200) {
      // Ranges are cut from the whole object (the origin is asked for whole objects only).
      await fill.settled;
      if (res.destroyed) return;
      if (fill.state !== 'done') throw fail('EDGE_ORIGIN_UNREACHABLE', t.upstreamPath, fill.error?.message ?? 'failed');
      const o = makeObject(t.key, fill.headers, fill.whole(), fill.policy, Date.now());
      return sendStored(req, res, o, Date.now(), { cacheStatus, privateCache: t.privateCache });
    }
    sendFill(req, res, fill, { cacheStatus, privateCache: t.privateCache }, () => undefined);
  }

  /**
   * The fill a viewer of `t` waits on: the one in flight for its key (coalesced) or a new one,
   * conditional when `stored` is a stale copy. Null when the fill already has `edge.maxWaiters`.
   */
  join(t: EdgeTarget, upstream: () => UpstreamHeaders, stored?: CachedObject): { fill: Fill; leader: boolean } | null {
    let fill = this.fills.get(t.key);
    const leader = fill === undefined;
    if (fill === undefined) fill = this.start(t, upstream(), stored, stored ? 'revalidate' : 'fill');
    else if (fill.viewers >= this.e.maxWaiters) {
      this.stats.busy++;
      return null;
    }
    fill.viewers++;
    if (!leader) this.stats.collapsed++;
    return { fill, leader };
  }

  /** Start the origin request for `t` (conditional when a stale copy exists). */
  private start(t: EdgeTarget, upstream: UpstreamHeaders, stored: CachedObject | undefined, kind: 'fill' | 'revalidate' | 'prefetch'): Fill {
    const fill = new Fill(t.key, this.e.maxObjectBytes);
    this.fills.set(t.key, fill);
    const headers: Record<string, string> = { ...upstream };
    if (stored?.etag) headers['if-none-match'] = stored.etag;
    else if (stored && !Number.isNaN(stored.lastModifiedS)) headers['if-modified-since'] = new Date(stored.lastModifiedS * 1000).toUTCString();
    this.stats.originRequests[kind]++;
    void fill.run(this.pool, { path: t.upstreamPath, headers, extraWaitMs: t.live ? LIVE_HOLD_MS : 0 }, (n) => (this.stats.originBytes += n)).then(() => {
      if (this.fills.get(t.key) === fill) this.fills.delete(t.key);
      if (fill.state !== 'done') {
        if (fill.state === 'failed') this.log.warn({ key: t.key, err: fill.error?.message }, 'origin request failed');
        return;
      }
      const now = Date.now();
      if (fill.status === 304 && stored !== undefined) return this.refresh(stored, fill, now);
      if (fill.storable) {
        const o = makeObject(t.key, fill.headers, fill.whole(), fill.policy, now);
        if (kind === 'prefetch') o.prefetched = true;
        this.store.set(o);
      }
      else if (fill.status === 404 || fill.status === 410) this.forget(t.key);
    });
    return fill;
  }

  /** A 304 (RFC 9111 §4.3.4): the stored object is fresh again, with the 304's updated fields. */
  private refresh(o: CachedObject, fill: Fill, now: number): void {
    const policy = fill.headers['cache-control'] !== undefined ? cachePolicy(fill.headers) : { store: true, lifetimeMs: o.lifetimeMs, immutable: o.immutable };
    const updates = endToEndHeaders(fill.headers);
    const names = new Set(updates.map(([n]) => n));
    o.headers = [...o.headers.filter(([n]) => !names.has(n)), ...updates];
    o.etag = headerOf(o.headers, 'etag') ?? o.etag;
    o.storedAt = now;
    o.originAgeS = 0;
    o.lifetimeMs = policy.lifetimeMs;
    o.immutable = policy.immutable;
    o.head = undefined; // the reused heads carry the old fields
    o.lean = undefined;
    if (!this.store.memory.map.has(o.key)) this.store.set(o);
    this.store.refreshed(o);
  }

  /** An object the origin no longer has: drop the stored copy. */
  private forget(key: string): void {
    this.store.memory.delete(key);
    this.store.disk?.delete(key);
  }

  /** Drop stored objects of an asset (the origin deleted or re-published it); null = everything. */
  invalidate(prefix: string | null): number {
    return this.store.deletePrefix(prefix);
  }

  private answerError(req: IncomingMessage, res: ServerResponse, err: Error): void {
    if (res.headersSent) return void res.destroy(err);
    if (!(err instanceof StromError)) this.log.error({ err, url: req.url }, 'edge request failed');
    this.stats.errors++;
    sendErrorResponse(req, res, err instanceof StromError ? err : fail('INTERNAL', err.message));
  }

  /** Stop every fill in flight and drop the disk tier's files. */
  close(): void {
    for (const f of this.fills.values()) f.abort('edge closing');
    this.store.close();
  }
}

/** Seconds of freshness left, as `Cache-Status: hit; ttl=` reports it (RFC 9211 §2.5). */
export function ttlSeconds(o: CachedObject, now: number): number {
  return o.immutable ? Math.round(o.lifetimeMs / 1000) : Math.round(freshnessLeftMs(o, now) / 1000);
}
