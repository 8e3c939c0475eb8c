/**
 * Who may publish or read what over RTSP. URLs keep the RTMP ingest shape:
 * `rtsp://host:port/live/<name>`, where a publisher's name is its stream key (as in
 * `rtmp://host/live/<key>`) and a reader's is the live stream id. A publisher may instead name
 * the stream id and give the key as its password (Basic, or Digest — the server knows keys, so it
 * can check a Digest response); a reader of a signed stream gives its playback token as
 * `?token=` or as the Basic password. Refusals are RTSP answers: 401 with challenges when
 * credentials are missing or wrong, otherwise the status of the refusing catalog error (403
 * expired token, 429 rate limit…).
 */
import type { IncomingMessage } from 'node:http';
import { isStromError } from '../../errors.js';
import { LIVE_STREAM_ID, type StreamRegistry } from '../stream/stream-registry.js';
import { parseAuthorization, type RtspAuth } from './rtsp-auth.js';
import type { RtspRequest } from './rtsp-message.js';
import type { RtspStats } from './rtsp-stats.js';

/** Looks up the stream key of a live stream id (the metadata store's), or null. */
export type StreamKeyLookup = (streamId: string) => Promise<string | null>;

/** What an RTSP URL names. */
export interface RtspTarget {
  /** Stream key or live stream id (the last path segment under /live/). */
  name: string;
  /** `?token=` value, or null. */
  token: string | null;
  /** The track control (`trackID=N`, `streamid=N`) a SETUP URL ends with, or null. */
  control: string | null;
  /** `?backup=1`: a backup publisher. */
  backup: boolean;
}

const CONTROL = /^(?:trackID|streamid|stream|track)=\d{1,3}$/i;

/**
 * Parse `rtsp://host[:port]/live/<name>[/<control>][?query]`. Clients append a relative control to
 * whatever base they hold, query included (`…/live/id?token=t/trackID=0`), so the control is
 * looked for at the very end first.
 */
export function parseRtspUrl(uri: string): RtspTarget | null {
  const m = /^rtsps?:\/\/[^/]+(\/.*)$/i.exec(uri);
  const path = m === null ? (uri.startsWith('/') ? uri : null) : m[1]!;
  if (path === null || !path.startsWith('/live/')) return null;
  let rest = path.slice('/live/'.length);
  let control: string | null = null;
  const slash = rest.lastIndexOf('/');
  if (slash >= 0 && CONTROL.test(rest.slice(slash + 1))) {
    control = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
  }
  const q = rest.indexOf('?');
  const name = decodeURIComponent(q < 0 ? rest : rest.slice(0, q)).replace(/\/+$/, '');
  const query = new URLSearchParams(q < 0 ? '' : rest.slice(q + 1));
  if (name === '' || name.includes('/')) return null;
  return { name, token: query.get('token'), control, backup: query.get('backup') === '1' || query.get('backup') === 'true' };
}

/** An access decision: the stream id, or the answer that refuses. */
export type AccessResult = { ok: true; streamId: string } | { ok: false; status: number; reason: string; challenge: string[] };

/** Publish and read decisions for one server. */
export class RtspAccess {
  constructor(
    private readonly registry: StreamRegistry,
    private readonly auth: RtspAuth,
    private readonly keyOf: () => StreamKeyLookup,
    private readonly stats: RtspStats,
  ) {}

  /** May this request publish to `t`? */
  async publish(req: RtspRequest, t: RtspTarget): Promise<AccessResult> {
    const byPath = await this.registry.resolveKey(t.name);
    if (byPath !== null) return { ok: true, streamId: byPath.streamId };
    const creds = parseAuthorization(req.headers.get('authorization'));
    if (creds !== null && LIVE_STREAM_ID.test(t.name)) {
      if (creds.scheme === 'basic') {
        const byPassword = await this.registry.resolveKey(creds.password);
        if (byPassword !== null && byPassword.streamId === t.name) return { ok: true, streamId: t.name };
      } else {
        const key = await this.keyOf()(t.name);
        const v = key === null ? 'bad' : this.auth.verify(creds, req.method, key);
        if (v === 'ok') return { ok: true, streamId: t.name };
        if (v === 'stale') return { ok: false, status: 401, reason: 'stale nonce', challenge: this.auth.challenges(true, true) };
      }
    }
    if (creds !== null) this.stats.authFailures.publish = (this.stats.authFailures.publish ?? 0) + 1; // a 401 to a first request without credentials is the challenge, not a failure
    return { ok: false, status: 401, reason: creds === null ? 'no stream key: publish to /live/<streamKey> or authenticate as the stream id with the key as password' : 'wrong stream key', challenge: this.auth.challenges(true) };
  }

  /** May this request read live stream `t.name`? (The playback guard decides, as for HTTP-FLV and SRT.) */
  async read(req: RtspRequest, t: RtspTarget, remoteAddress: string): Promise<AccessResult> {
    if (!LIVE_STREAM_ID.test(t.name)) return { ok: false, status: 404, reason: `bad live stream id ${JSON.stringify(t.name.slice(0, 64))}`, challenge: [] };
    const guard = this.registry.playbackGuard;
    if (guard === null) return { ok: true, streamId: t.name };
    const creds = parseAuthorization(req.headers.get('authorization'));
    const token = t.token ?? (creds?.scheme === 'basic' ? creds.password : null);
    // The guard reads an HTTP request; RTSP gets the fields it uses, as RTMP and SRT play do.
    const fake = { method: 'GET', url: `/live/${t.name}${token === null ? '' : `?token=${encodeURIComponent(token)}`}`, headers: {}, socket: { remoteAddress } } as unknown as IncomingMessage;
    try {
      await guard(fake, t.name);
      return { ok: true, streamId: t.name };
    } catch (err) {
      if (!isStromError(err)) throw err;
      if (err.statusCode === 403 && token !== null) this.stats.authFailures.read = (this.stats.authFailures.read ?? 0) + 1;
      if (err.statusCode === 403 && token === null) return { ok: false, status: 401, reason: err.message, challenge: this.auth.challenges(false) };
      return { ok: false, status: err.statusCode, reason: err.message, challenge: [] };
    }
  }
}
