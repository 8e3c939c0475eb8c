/**
 * Rate limits. The API (Fastify routes) uses @fastify/rate-limit, keyed by the token subject when
 * authenticated and by client IP otherwise, with the draft-ietf-httpapi-ratelimit-headers fields
 * (`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`) and `Retry-After` on 429
 * (RFC 6585 §4). Media delivery bypasses Fastify, so it has its own token bucket per IP here:
 * capacity = one minute's budget, refilled continuously; the bucket map is bounded
 * (`rateLimit.media.maxClients`, oldest-inserted evicted — an evicted client just starts full).
 * `StreamCap` bounds concurrent media responses per playback token.
 *
 * In cluster mode the API limit takes a Redis-backed store (src/cluster/api-rate-limit-store.ts),
 * and the media limiter and stream cap stay local and synchronous but report their usage and take
 * the rest of the cluster's back in batches (`limitParticipant`, src/cluster/shared-limits.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Config } from '../config.js';
import { failWith, type StromError } from '../errors.js';

/** One client's bucket. */
interface Bucket {
  tokens: number;
  last: number;
}

/** Token bucket per client IP for media requests. */
export class MediaRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  /** Admissions per IP since the last `report()`; null until `trackUsage()` (single process). */
  private usage: Map<string, number> | null = null;
  /** Requests let through / refused since start (metric-friendly counters). */
  allowed = 0;
  limited = 0;

  constructor(private readonly perMinute: number, private readonly maxClients: number) {
    this.perMs = perMinute / 60_000;
  }

  /** Take one token for `ip`; throws RATE_LIMITED (429, Retry-After, RateLimit-*) when empty. */
  take(ip: string, now = Date.now()): void {
    if (this.perMinute === 0) return;
    let b = this.buckets.get(ip);
    if (b === undefined) {
      if (this.buckets.size >= this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.perMinute, last: now };
      this.buckets.set(ip, b);
    } else {
      b.tokens = Math.min(this.perMinute, b.tokens + (now - b.last) * this.perMs);
      b.last = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      this.allowed++;
      if (this.usage !== null) this.usage.set(ip, (this.usage.get(ip) ?? 0) + 1);
      return;
    }
    this.limited++;
    if (this.usage !== null && !this.usage.has(ip)) this.usage.set(ip, 0);
    const retryS = Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000));
    throw failWith('RATE_LIMITED', {
      'Retry-After': String(retryS),
      'RateLimit-Limit': String(this.perMinute),
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': String(retryS),
    }, retryS);
  }

  /** Buckets currently tracked. */
  size(): number {
    return this.buckets.size;
  }

  /** Count admissions per IP for `report()` (the limit is shared with other processes). */
  trackUsage(): void {
    this.usage ??= new Map();
  }

  /** Admissions per IP since the last report (IPs only refused: 0); starts a new count. */
  report(): Array<[string, number]> {
    if (this.usage === null || this.usage.size === 0) return [];
    const out = [...this.usage];
    this.usage.clear();
    return out;
  }

  /** Set buckets to the cluster's tokens left per IP, minus what this process admitted since its report. */
  applyShared(left: Array<[string, number]>, now = Date.now()): void {
    if (this.perMinute === 0) return;
    for (const [ip, tokens] of left) {
      let b = this.buckets.get(ip);
      if (b === undefined) {
        if (this.buckets.size >= this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
        b = { tokens: this.perMinute, last: now };
        this.buckets.set(ip, b);
      }
      b.tokens = Math.min(this.perMinute, tokens - (this.usage?.get(ip) ?? 0));
      b.last = now;
    }
  }
}

/** Counts open media responses per playback token and refuses past `max` (0 = unlimited). */
export class StreamCap {
  private readonly open = new Map<string, number>();
  /** Responses each token holds open in other processes and nodes, as last synced. */
  private readonly elsewhere = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Count one response for `token` until `res` closes; throws TOO_MANY_STREAMS (429) at the cap. */
  acquire(token: string, res: { once(event: 'close', fn: () => void): unknown; destroyed?: boolean }): void {
    if (this.max === 0) return;
    if (res.destroyed) return; // closed while its token was verified: 'close' will never fire again
    const n = this.open.get(token) ?? 0;
    if (n + (this.elsewhere.get(token) ?? 0) >= this.max) throw failWith('TOO_MANY_STREAMS', { 'Retry-After': '1' }, this.max);
    this.open.set(token, n + 1);
    res.once('close', () => {
      const left = (this.open.get(token) ?? 1) - 1;
      if (left <= 0) this.open.delete(token);
      else this.open.set(token, left);
    });
  }

  /** Open responses of `token`. */
  count(token: string): number {
    return this.open.get(token) ?? 0;
  }

  /** Every token with open responses here, with their number. */
  report(): Array<[string, number]> {
    return [...this.open];
  }

  /** Replace what other processes and nodes hold open per token. */
  applyElsewhere(counts: Array<[string, number]>): void {
    this.elsewhere.clear();
    for (const [token, n] of counts) if (n > 0) this.elsewhere.set(token, n);
  }
}

/**
 * One process's side of cluster-wide limits: `report()` its usage, `apply()` the cluster's view
 * (shapes of src/cluster/shared-limits.ts `LimitParticipant`; plain arrays so they cross IPC).
 */
export function limitParticipant(limiter: MediaRateLimiter, cap: StreamCap) {
  limiter.trackUsage();
  return {
    report: () => ({ media: limiter.report(), streams: cap.report() }),
    apply(view: { media: Array<[string, number]>; streams: Array<[string, number]> }): void {
      limiter.applyShared(view.media);
      cap.applyElsewhere(view.streams);
    },
  };
}

/** Register @fastify/rate-limit for `/api/` routes registered after this call; `store`: the cluster's (default: in memory). */
export async function registerApiRateLimit(app: FastifyInstance, config: Config, store?: FastifyRateLimitStoreCtor): Promise<void> {
  await app.register(rateLimit, {
    ...(store ? { store } : {}),
    global: true,
    max: config.rateLimit.api.perMinute,
    timeWindow: 60_000,
    enableDraftSpec: true,
    allowList: (req: FastifyRequest) => !req.url.startsWith('/api/') || req.routeOptions.config.scope === 'playback',
    keyGenerator: (req: FastifyRequest) => (req.principal ? `sub:${req.principal.sub}` : `ip:${req.ip}`),
    errorResponseBuilder: (_req, ctx): StromError => {
      const retryS = Math.max(1, Math.ceil(ctx.ttl / 1000));
      return failWith('RATE_LIMITED', { 'Retry-After': String(retryS) }, retryS);
    },
  });
}
