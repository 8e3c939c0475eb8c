/**
 * Signed playback tokens: compact JWS (RFC 7515/7519) with a `kid` header naming a signing key
 * (HS256, secret in `signing_keys`), claims `sub` = video or live stream id, `exp`, and optional
 * `ip` / `referrer` bindings. Only HS256 is accepted and `exp` is required (RFC 8725 §3.1, §3.10).
 * Verified tokens are remembered in a bounded map (`playback.tokenCacheEntries`, oldest evicted
 * first) so the segment requests of a session cost a map lookup, not an HMAC; entries still
 * expire at their own `exp`, and revoking a key clears the map.
 */
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { fail, type StromError } from '../errors.js';
import type { SigningKeysRepo } from '../store/db/signing-keys-repo.js';
import type { SigningKeyRow } from '../store/db/schema.js';

/** What a verified playback token grants. */
export interface PlaybackClaims {
  kid: string;
  /** Video or live stream id. */
  sub: string;
  /** Expiry, epoch seconds. */
  exp: number;
  ip?: string;
  referrer?: string;
}

/** Options of a token to sign. */
export interface PlaybackTokenOptions {
  ttlMs: number;
  ip?: string;
  referrer?: string;
}

/** A change to the keyring: a key made active (with its base64url secret) or revoked. */
export type SigningKeyChange = { type: 'added'; kid: string; secret: string } | { type: 'revoked'; kid: string };

/** Keyring of active signing keys plus the verified-token cache. */
export class PlaybackTokens {
  private readonly keys = new Map<string, Uint8Array>();
  private newestKid: string | null = null;
  private readonly cache = new Map<string, PlaybackClaims>();
  private readonly listeners: Array<(change: SigningKeyChange) => void> = [];

  constructor(private readonly repo: SigningKeysRepo, private readonly cacheEntries: number) {}

  /** Call `listener` after every key added or revoked (delivery workers mirror the keyring). */
  onChange(listener: (change: SigningKeyChange) => void): void {
    this.listeners.push(listener);
  }

  /** Load the active keys from the store (at start). */
  async load(): Promise<void> {
    const rows = await this.repo.active();
    for (const r of rows.reverse()) this.addKey(r);
  }

  /** Make a key usable for signing and verification (newest signs). */
  addKey(row: SigningKeyRow): void {
    if (row.revoked_at !== null) return;
    this.keys.set(row.kid, Buffer.from(row.secret, 'base64url'));
    this.newestKid = row.kid;
    for (const l of this.listeners) l({ type: 'added', kid: row.kid, secret: row.secret });
  }

  /** Active keys as `{kid, secret}` (base64url), oldest first (the snapshot a delivery worker starts from). */
  activeKeys(): Array<{ kid: string; secret: string }> {
    return [...this.keys].map(([kid, key]) => ({ kid, secret: Buffer.from(key).toString('base64url') }));
  }

  /** Stop accepting a key's tokens at once. */
  revokeKey(kid: string): void {
    this.keys.delete(kid);
    this.cache.clear();
    if (this.newestKid === kid) this.newestKid = [...this.keys.keys()].at(-1) ?? null;
    for (const l of this.listeners) l({ type: 'revoked', kid });
  }

  /** Sign a token for `sub` with the newest active key (creating the first key when none exists). */
  async sign(sub: string, o: PlaybackTokenOptions): Promise<{ token: string; kid: string; expiresAt: number }> {
    if (this.newestKid === null) this.addKey(await this.repo.create());
    const kid = this.newestKid!;
    const exp = Math.floor((Date.now() + o.ttlMs) / 1000);
    const extra: Record<string, string> = {};
    if (o.ip) extra.ip = o.ip;
    if (o.referrer) extra.referrer = o.referrer;
    const token = await new SignJWT(extra).setProtectedHeader({ alg: 'HS256', kid, typ: 'JWT' }).setSubject(sub).setIssuedAt().setExpirationTime(exp).sign(this.keys.get(kid)!);
    return { token, kid, expiresAt: exp * 1000 };
  }

  /** Claims of an already-verified, unexpired token, or undefined (synchronous: the hot path). */
  cached(token: string, nowMs = Date.now()): PlaybackClaims | undefined {
    const c = this.cache.get(token);
    if (c === undefined) return undefined;
    if (c.exp * 1000 <= nowMs) {
      this.cache.delete(token);
      return undefined;
    }
    return c;
  }

  /** Verify signature, `kid` and `exp`; throws PLAYBACK_DENIED (403) naming the reason. */
  async verify(token: string, forId: string): Promise<PlaybackClaims> {
    const hit = this.cached(token);
    if (hit) return hit;
    let kid: unknown;
    try {
      const h = decodeProtectedHeader(token);
      if (h.alg !== 'HS256') throw denied(forId, `algorithm ${JSON.stringify(h.alg)} is not accepted`);
      kid = h.kid;
    } catch (err) {
      if ((err as StromError).name === 'StromError') throw err;
      throw denied(forId, 'token is not a JWS');
    }
    const key = typeof kid === 'string' ? this.keys.get(kid) : undefined;
    if (key === undefined) throw denied(forId, `signing key ${JSON.stringify(kid)} is unknown or revoked`);
    let payload;
    try {
      payload = (await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] })).payload;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw denied(forId, 'token expired');
      if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw denied(forId, 'signature does not verify');
      if (err instanceof joseErrors.JOSEError) throw denied(forId, err.message);
      throw err;
    }
    const claims: PlaybackClaims = { kid: kid as string, sub: payload.sub!, exp: payload.exp! };
    if (typeof payload.ip === 'string') claims.ip = payload.ip;
    if (typeof payload.referrer === 'string') claims.referrer = payload.referrer;
    if (this.cacheEntries > 0) {
      if (this.cache.size >= this.cacheEntries) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(token, claims);
    }
    return claims;
  }

  /** Number of cached verified tokens (for metrics and tests). */
  cacheSize(): number {
    return this.cache.size;
  }
}

/** 403 for a playback refusal. */
export function denied(id: string, why: string): StromError {
  return fail('PLAYBACK_DENIED', id, why);
}

/** Client address without the IPv4-mapped IPv6 prefix. */
export function clientIp(remote: string | undefined): string {
  const ip = remote ?? '';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** Check a token's claims against the requested id and the request's address and Referer. */
export function checkBindings(c: PlaybackClaims, id: string, ip: string, referer: string | undefined): void {
  if (c.sub !== id) throw denied(id, 'the token is for another video or stream');
  if (c.ip !== undefined && c.ip !== ip) throw denied(id, `the token is bound to another client address`);
  if (c.referrer !== undefined && !(referer ?? '').startsWith(c.referrer)) throw denied(id, 'the Referer does not match the token');
}
