/**
 * The delivery guard for signed playback. The delivery fast path calls it synchronously on every
 * media request, so the common cases stay synchronous: a public asset is one Set lookup plus the
 * per-IP token bucket; a signed asset with an already-verified token is one more Map lookup.
 * Only the first request carrying a new token awaits an HMAC verification.
 *
 * Tokens arrive (in order of preference) in the path — `/s/<token>/<id>/<file>` — so every
 * relative URI in HLS/DASH manifests carries the token to child playlists, init and media
 * segments, parts and thumbnails, and a CDN can cache per token; or as `?token=`; or as
 * `Authorization: Bearer` (for `/api/v1/video/stream/:id` and players that set headers).
 */
import type { Visibility } from '../store/db/schema.js';
import type { IncomingMessage } from 'node:http';
import type { AnyRequest, AnyResponse } from '../http-message.js';
import type { PlaybackTokens } from './playback-tokens.js';
import { checkBindings, clientIp, denied } from './playback-tokens.js';
import type { MediaRateLimiter, StreamCap } from './rate-limits.js';

/** Ids (videos and live streams) whose playback needs a token; everything else is public. */
export class PlaybackPolicy {
  private readonly signed = new Set<string>();
  private readonly listeners: Array<(id: string, visibility: Visibility | null) => void> = [];

  /** Record an id's visibility (`null` = deleted). */
  set(id: string, visibility: Visibility | null): void {
    if (visibility === 'signed') this.signed.add(id);
    else this.signed.delete(id);
    for (const l of this.listeners) l(id, visibility);
  }

  /** Call `listener` after every set() (delivery workers mirror the policy). */
  onChange(listener: (id: string, visibility: Visibility | null) => void): void {
    this.listeners.push(listener);
  }

  /** True when `id` needs a signed token (synchronous, O(1)). */
  isSigned(id: string): boolean {
    return this.signed.has(id);
  }

  /** Every signed id (the snapshot a delivery worker starts from). */
  signedIds(): string[] {
    return [...this.signed];
  }
}

/** A token from `?token=` or `Authorization: Bearer`, or null. */
export function requestToken(req: AnyRequest): string | null {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q >= 0) {
    const t = new URLSearchParams(url.slice(q + 1)).get('token');
    if (t) return t;
  }
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^Bearer /i.test(auth)) return auth.slice(7).trim();
  return null;
}

/** Dependencies of the guard. */
export interface GuardDeps {
  policy: PlaybackPolicy;
  tokens: PlaybackTokens;
  limiter: MediaRateLimiter;
  cap: StreamCap;
}

/**
 * Build the guard: `(req, id, rel, pathToken, res)`. Throws (or rejects with) a StromError to
 * refuse: 429 over the media budget or stream cap, 403 for a missing, tampered, expired, revoked
 * or other-video token. `id` is a video or live stream id.
 */
export function createPlaybackGuard(d: GuardDeps) {
  return function playbackGuard(req: AnyRequest, id: string, _rel: string, pathToken?: string | null, res?: AnyResponse): void | Promise<void> {
    const ip = clientIp(req.socket?.remoteAddress);
    d.limiter.take(ip);
    let token = pathToken ?? null;
    if (token === null) {
      if (!d.policy.isSigned(id)) return;
      token = requestToken(req);
      if (token === null) throw denied(id, 'this video needs a signed playback token (/s/<token>/… or ?token=)');
    }
    const referer = req.headers.referer;
    const admit = (c: Parameters<typeof checkBindings>[0]) => {
      checkBindings(c, id, ip, referer);
      if (res) d.cap.acquire(token!, res);
    };
    const hit = d.tokens.cached(token);
    if (hit) return admit(hit);
    return d.tokens.verify(token, id).then(admit);
  };
}

/**
 * Checks a viewer may watch live stream `streamId` (signed streams need a token, media rate limits
 * apply); throws a StromError to refuse. Every live playback protocol calls it before attaching.
 */
export type LivePlaybackGuard = (req: IncomingMessage, streamId: string) => void | Promise<void>;
