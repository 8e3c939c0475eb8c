/**
 * What the edge stores per object, and the RFC 9111 rules that decide whether and how long.
 *
 * - Only complete 200 responses are stored (the edge always asks the origin for whole objects and
 *   cuts viewer ranges from them, RFC 9111 §3.3 allows but does not require storing partials).
 * - A shared cache must not store `no-store` or `private` (§5.2.2.5, §5.2.2.7); `s-maxage` wins
 *   over `max-age` (§5.2.2.10); `immutable` (RFC 8246) means a fresh hit never revalidates.
 * - The freshness lifetime is reduced by the origin's `Age` (§4.2.3), so an object that already
 *   spent time in another cache does not live longer here.
 * - Hop-by-hop fields (RFC 9110 §7.6.1) and the framing (Content-Length, Transfer-Encoding) are not
 *   stored: the edge frames each response it sends itself.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** One stored response. `headers` are the origin's end-to-end fields, lower-case names. */
export interface CachedObject {
  key: string;
  headers: Array<[string, string]>;
  body: Buffer;
  etag: string | null;
  /** Last-Modified in whole seconds since the epoch, NaN when absent. */
  lastModifiedS: number;
  /** When the response (or its last 304) was received, ms since the epoch. */
  storedAt: number;
  /** Age the origin reported at `storedAt`, seconds. */
  originAgeS: number;
  /** Freshness lifetime, ms (0 = must revalidate before every use). */
  lifetimeMs: number;
  immutable: boolean;
  /** Stored by cache warming and not yet requested: its first hit warms the segments after it. */
  prefetched?: boolean;
  /** The full-200 response head of the current second (fields, Age, Cache-Status), reused by hits. */
  head?: { second: number; fields: string[] };
  /** The same on the lean path: the serialised head, and head + body in one buffer for small objects. */
  lean?: { second: number; head: Buffer; whole: Buffer | null };
}

/** Origin response fields never copied to a viewer or stored (Accept-Ranges: the edge sends its own, it cuts ranges itself). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length', 'date', 'age', 'cache-status', 'x-cache-status', 'server', 'accept-ranges']);

/** Parsed Cache-Control of a response, only the directives a shared cache acts on. */
export interface CachePolicy {
  store: boolean;
  lifetimeMs: number;
  immutable: boolean;
}

/** Whether and how long a shared cache may keep a response with these fields (RFC 9111 §3, §4.2.1). */
export function cachePolicy(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): CachePolicy {
  const cc = String(headers['cache-control'] ?? '').toLowerCase();
  if (cc === '' || /(?:^|,)\s*(?:no-store|private)\b/.test(cc)) return { store: false, lifetimeMs: 0, immutable: false };
  const shared = /(?:^|,)\s*s-maxage\s*=\s*"?(\d+)/.exec(cc);
  const max = shared ?? /(?:^|,)\s*max-age\s*=\s*"?(\d+)/.exec(cc);
  const noCache = /(?:^|,)\s*no-cache\b/.test(cc);
  if (max === null && !noCache) return { store: false, lifetimeMs: 0, immutable: false }; // no explicit freshness: do not guess (§4.2.2)
  const lifetimeMs = noCache ? 0 : Number(max![1]) * 1000;
  const age = Number(headers.age ?? 0);
  const adjusted = Math.max(0, lifetimeMs - (Number.isFinite(age) ? age * 1000 : 0));
  return { store: true, lifetimeMs: adjusted, immutable: !noCache && /(?:^|,)\s*immutable\b/.test(cc) };
}

/** The end-to-end fields of an origin response, ready to store and to send on. */
export function endToEndHeaders(headers: Record<string, string | string[] | undefined>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (Array.isArray(value)) for (const v of value) out.push([name, v]);
    else out.push([name, value]);
  }
  return out;
}

/** The value of field `name` among stored headers, or undefined. */
export function headerOf(headers: Array<[string, string]>, name: string): string | undefined {
  for (const [n, v] of headers) if (n === name) return v;
  return undefined;
}

/** Build a stored object from a complete origin response. */
export function makeObject(key: string, headers: Record<string, string | string[] | undefined>, body: Buffer, policy: CachePolicy, now: number): CachedObject {
  const kept = endToEndHeaders(headers);
  const lm = headerOf(kept, 'last-modified');
  const age = Number(headers.age ?? 0);
  return {
    key,
    headers: kept,
    body,
    etag: headerOf(kept, 'etag') ?? null,
    lastModifiedS: lm === undefined ? NaN : Math.floor(Date.parse(lm) / 1000),
    storedAt: now,
    originAgeS: Number.isFinite(age) ? age : 0,
    lifetimeMs: policy.lifetimeMs,
    immutable: policy.immutable,
  };
}

/** Current age of a stored object in seconds (RFC 9111 §4.2.3, simplified: loopback-close origins). */
export function ageOf(o: CachedObject, now: number): number {
  return o.originAgeS + Math.max(0, Math.floor((now - o.storedAt) / 1000));
}

/** Milliseconds of freshness left (negative once stale). */
export function freshnessLeftMs(o: CachedObject, now: number): number {
  return o.lifetimeMs - (now - o.storedAt);
}
