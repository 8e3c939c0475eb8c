/**
 * The key and license endpoints of protected videos (docs/VOD.md "Content protection"), served
 * by the delivery origin behind the same playback guard as the media: `/v/<id>/…` for public
 * videos, only `/s/<token>/<id>/…` (or `?token=`) for signed ones.
 *
 * - `GET keys/<n>.key`: the 16-byte AES-128 key of rotation period n of an `aes-128` video
 *   (RFC 8216 §4.3.2.4: the key file is the raw 16 octets).
 * - `POST license`: a ClearKey license (W3C EME §9.1.4): `{"kids":[b64url…],"type":"temporary"}`
 *   in, `{"keys":[{"kty":"oct","k":…,"kid":…}],"type":"temporary"}` out, only the keys of that
 *   video (JWK, RFC 7517, base64url without padding).
 *
 * Keys are derived on demand (src/vod/protection/content-keys.ts); nothing here is logged and
 * every answer is `Cache-Control: private, no-store`, so neither a CDN nor a shared cache keeps one.
 * Which scheme a video uses is read from its own first media playlist (its EXT-X-KEY), so a
 * delivery worker needs no database to tell an `aes-128` video from a `cenc` or clear one.
 * Answers are counted in `strom_content_key_requests_total{endpoint,outcome}`.
 */
import { Counter, type Registry } from 'prom-client';
import type { AnyRequest, AnyResponse } from '../../http-message.js';
import { fail, isStromError } from '../../errors.js';
import { ContentKeys, KEYS_DIR, MAX_KEY_INDEX } from '../../vod/protection/content-keys.js';
import { firstVariant, resolveUri } from './early-hints.js';
import type { FileCatalog, FileEntry } from './file-catalog.js';
import { writeHead } from './send-object.js';

/** A request the protection endpoints answer. */
export type ProtectionRoute = 'key' | 'license';

/** Most KIDs one license request may ask for (a Strom video has one). */
const MAX_KIDS = 16;
const KEY_PATH = new RegExp(`^${KEYS_DIR}/(\\d{1,6})\\.key$`);
const B64URL_16 = /^[A-Za-z0-9_-]{22}(==)?$/;

/** Parse a ClearKey license request body (EME §9.1.4) into its 16-byte KIDs; throws LICENSE_REQUEST_INVALID. */
export function parseLicenseRequest(body: Buffer): Buffer[] {
  let msg: unknown;
  try {
    msg = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw fail('LICENSE_REQUEST_INVALID', `body is not JSON (${(err as Error).message})`);
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) throw fail('LICENSE_REQUEST_INVALID', 'body must be a JSON object with "kids"');
  const { kids, type } = msg as { kids?: unknown; type?: unknown };
  if (type !== undefined && type !== 'temporary') throw fail('LICENSE_REQUEST_INVALID', `session type ${JSON.stringify(type).slice(0, 40)} is not supported (only "temporary")`);
  if (!Array.isArray(kids) || kids.length === 0 || kids.length > MAX_KIDS) throw fail('LICENSE_REQUEST_INVALID', `"kids" must be an array of 1 to ${MAX_KIDS} key ids`);
  return kids.map((k: unknown) => {
    if (typeof k !== 'string' || !B64URL_16.test(k)) throw fail('LICENSE_REQUEST_INVALID', `key id ${JSON.stringify(k).slice(0, 40)} is not 16 bytes of base64url`);
    return Buffer.from(k, 'base64url');
  });
}

/** What the endpoints need from the origin. */
export interface ProtectionDeps {
  catalog: FileCatalog;
  /** Metadata of a `/v/…` object, or null. */
  lookup(pathname: string): Promise<FileEntry | null>;
  /** CORS headers of every media response. */
  cors: readonly string[];
  licenseMaxBytes: number;
}

/** The endpoints bound to one origin. */
export function protectionEndpoints(d: ProtectionDeps) {
  /** The scheme a video's HLS signals: the EXT-X-KEY METHOD of its first variant, or null. */
  async function schemeOf(assetId: string): Promise<string | null> {
    const master = await d.lookup(`/v/${assetId}/master.m3u8`);
    if (master === null) return null;
    const variant = firstVariant((await d.catalog.body(master)).toString('utf8'));
    const media = variant === null ? null : resolveUri(master.key, variant);
    const e = media === null ? null : await d.lookup(media);
    if (e === null) return null;
    return /#EXT-X-KEY:METHOD=([A-Z0-9-]+)/.exec((await d.catalog.body(e)).toString('utf8'))?.[1] ?? null;
  }

  function send(req: AnyRequest, res: AnyResponse, type: string, body: Buffer): void {
    writeHead(req, res, 200, [...d.cors, 'Content-Type', type, 'Content-Length', String(body.length), 'Cache-Control', 'private, no-store']);
    if (req.method === 'HEAD') res.end();
    else res.end(body);
  }

  async function key(req: AnyRequest, res: AnyResponse, assetId: string, rel: string, keys: ContentKeys): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw fail('METHOD_NOT_ALLOWED', req.method ?? '');
    const m = KEY_PATH.exec(rel);
    const index = m ? Number(m[1]) : -1;
    const where = `/v/${assetId}/${rel}`;
    if (index < 0 || index > MAX_KEY_INDEX) throw fail('CONTENT_KEY_NOT_FOUND', where, `expected keys/<0…${MAX_KEY_INDEX}>.key`);
    const scheme = await schemeOf(assetId);
    if (scheme !== 'AES-128') throw fail('CONTENT_KEY_NOT_FOUND', where, scheme === null ? 'no such video, or not published yet' : 'the video is not protected with aes-128');
    send(req, res, 'application/octet-stream', keys.aesKey(assetId, index));
  }

  async function license(req: AnyRequest, res: AnyResponse, assetId: string, keys: ContentKeys): Promise<void> {
    if (req.method !== 'POST') throw fail('METHOD_NOT_ALLOWED', req.method ?? '');
    const kids = parseLicenseRequest(await readBody(req, d.licenseMaxBytes));
    const scheme = await schemeOf(assetId);
    const where = `/v/${assetId}/license`;
    if (scheme !== 'SAMPLE-AES') throw fail('CONTENT_KEY_NOT_FOUND', where, scheme === null ? 'no such video, or not published yet' : 'the video is not protected with cenc');
    const c = keys.cenc(assetId);
    const found = kids.filter((k) => k.equals(c.kid));
    if (found.length === 0) throw fail('CONTENT_KEY_NOT_FOUND', where, `the video has none of the key ids ${kids.map((k) => k.toString('base64url')).join(', ')}`);
    const out = { keys: [{ kty: 'oct', k: c.key.toString('base64url'), kid: c.kid.toString('base64url') }], type: 'temporary' };
    send(req, res, 'application/json', Buffer.from(JSON.stringify(out)));
  }

  let counter: Counter<'endpoint' | 'outcome'> | null = null;
  const count = (endpoint: ProtectionRoute, outcome: 'ok' | 'refused' | 'error'): void => counter?.inc({ endpoint, outcome });

  return {
    /** Answer a key or license request the guard has admitted; rejects with a StromError. */
    serve(req: AnyRequest, res: AnyResponse, route: ProtectionRoute, assetId: string, rel: string, keys: ContentKeys): Promise<void> {
      const done = route === 'key' ? key(req, res, assetId, rel, keys) : license(req, res, assetId, keys);
      return done.then(() => count(route, 'ok'), (err: unknown) => {
        count(route, isStromError(err) && err.statusCode < 500 ? 'refused' : 'error');
        throw err;
      });
    },
    /** Count answers in `registry` (`strom_content_key_requests_total{endpoint,outcome}`; workers attach their own, which the main sums). */
    attach(registry: Registry): void {
      counter ??= (registry.getSingleMetric('strom_content_key_requests_total') as Counter<'endpoint' | 'outcome'> | undefined)
        ?? new Counter({ name: 'strom_content_key_requests_total', help: 'AES-128 key and ClearKey license requests of protected videos by endpoint (key, license) and outcome (ok, refused, error)', labelNames: ['endpoint', 'outcome'] as const, registers: [registry] });
    },
  };
}

/** Read a request body of at most `max` bytes (413 beyond, before reading when Content-Length says so). */
function readBody(req: AnyRequest, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > max) return Promise.reject(fail('PAYLOAD_TOO_LARGE', declared, max));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        return reject(fail('PAYLOAD_TOO_LARGE', size, max));
      }
      parts.push(c);
    });
    req.once('end', () => resolve(Buffer.concat(parts)));
    req.once('error', reject);
  });
}
