/**
 * Rate limits. The API (Fastify routes) uses @fastify/rate-limit, keyed by the token subject when
 * authenticated and by client IP otherwise, with the draft-ietf-httpapi-ratelimit-headers fields
 * (`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`) and `Retry-After` on 429
 * (RFC 6585 §4). Media delivery bypasses Fastify, so it has its own token bucket per IP here:
 * capacity = one minute's budget, refilled continuously; the bucket map is bounded
 * (`rateLimit.media.maxClients`, oldest-inserted evicted — an evicted client just starts full).
 * `StreamCap` bounds concurrent media responses per playback token.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
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
      return;
    }
    this.limited++;
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
}

/** Counts open media responses per playback token and refuses past `max` (0 = unlimited). */
export class StreamCap {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Count one response for `token` until `res` closes; throws TOO_MANY_STREAMS (429) at the cap. */
  acquire(token: string, res: { once(event: 'close', fn: () => void): unknown; destroyed?: boolean }): void {
    if (this.max === 0) return;
    if (res.destroyed) return; // closed while its token was verified: 'close' will never fire again
    const n = this.open.get(token) ?? 0;
    if (n >= this.max) throw failWith('TOO_MANY_STREAMS', { 'Retry-After': '1' }, this.max);
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
}

/** Register @fastify/rate-limit for `/api/` routes registered after this call. */
export async function registerApiRateLimit(app: FastifyInstance, config: Config): Promise<void> {
  await app.register(rateLimit, {
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
