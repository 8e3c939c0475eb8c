/**
 * The media delivery origin: `GET|HEAD|OPTIONS /v/<assetId>/<path>`. It runs in front of Fastify
 * (see server.ts) because it is the hot path: a cached object costs one map lookup, a few header
 * comparisons and one write — no router, no per-request objects. Everything else goes to Fastify.
 * The fast path keeps the same contracts as the API: catalog errors as JSON, request ids, CORS.
 * Assets are read from the process's media storage: files under the data directory, or a bucket
 * (`storage.kind = s3`) behind the same metadata and hot caches (file-catalog.ts).
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../../config.js';
import { fail, failWith, isStromError, type StromError } from '../../errors.js';
import { FileCatalog, type FileEntry } from './file-catalog.js';
import { parseAssetPath } from './safe-path.js';
import { sendObject, writeHead } from './send-object.js';
import type { AnyRequest, AnyResponse } from '../../http-message.js';
import { acceptsEarlyHints, defaultAudio, earlyHintLinks, firstVariant, resolveUri } from './early-hints.js';
import http2, { type Http2ServerResponse } from 'node:http2';
import type { MediaObserver } from '../../observability/media-accounting.js';
import { createStorage, type InstrumentedStorage } from '../../storage/create-storage.js';
import { ContentKeys, KEYS_DIR, LICENSE_PATH } from '../../vod/protection/content-keys.js';
import { protectionEndpoints, type ProtectionRoute } from './protection-routes.js';

/** URL prefix of published assets. */
export const ASSET_PREFIX = '/v/';

/** Checks a request may read an asset (signed playback plugs in here); throw a StromError to refuse. */
export type DeliveryGuard = (req: AnyRequest, assetId: string, rel: string, pathToken?: string | null, res?: AnyResponse) => void | Promise<void>;

// Signed playback (the guard itself is src/auth/playback-guard.ts).
/** URL prefix of signed playback: `/s/<token>/<assetId>/<path>` serves `/v/<assetId>/<path>` once the guard accepts the token. */
export const SIGNED_PREFIX = '/s/';
const MAX_TOKEN_CHARS = 2048;
const KEYS_PREFIX = `${KEYS_DIR}/`;
/** The protection endpoint a `/v/<id>/…` URL names, or null; no allocation (it runs on every media request). */
function protectionRouteOf(url: string): ProtectionRoute | null {
  const end = url.indexOf('/', ASSET_PREFIX.length);
  if (end < 0) return null;
  if (url.startsWith(KEYS_PREFIX, end + 1)) return 'key';
  const after = end + 1 + LICENSE_PATH.length;
  return url.startsWith(LICENSE_PATH, end + 1) && (url.length === after || url.charCodeAt(after) === 63 /* ? */) ? 'license' : null;
}

/** Asset id of a `/v/…` pathname, unvalidated (the guard only looks it up; serveSlow validates). */
function assetIdOf(pathname: string): string {
  const end = pathname.indexOf('/', ASSET_PREFIX.length);
  return end < 0 ? pathname.slice(ASSET_PREFIX.length) : pathname.slice(ASSET_PREFIX.length, end);
}

/** The delivery origin bound to one data directory. */
export interface Delivery {
  catalog: FileCatalog;
  /** The media storage assets are read from (shared with uploads, VOD and the API in the main process). */
  storage: InstrumentedStorage;
  /** Handle a request if its path is a delivery path; returns false to pass it on. */
  handle(req: AnyRequest, res: AnyResponse): boolean;
  /** Serve one asset file for a route outside /v/ (the original design's stream alias). */
  serveAssetFile(req: AnyRequest, res: AnyResponse, assetId: string, rel: string, forceStream: boolean): Promise<void>;
  /** Guard every request (set by the auth layer). */
  setGuard(guard: DeliveryGuard | null): void;
  /** Serve AES-128 keys and ClearKey licenses with keys derived from this secret (src/vod/protection). */
  setContentSecret(secret: Buffer): void;
  /** The secret given to setContentSecret (base64url), for delivery workers; null before. */
  contentSecret(): string | null;
  /** Count key and license answers in a metrics registry. */
  attachProtectionMetrics(registry: Registry): void;
  /** Tell the origin which assets are signed (their non-`/s/` responses get `private, no-store`). */
  setPrivacy(isPrivate: (assetId: string) => boolean): void;
  /** Requests currently being answered (for graceful shutdown and metrics). */
  inFlight(): number;
  /** Observe every finished media response (metrics, CMCD QoE, sampled access log). */
  setObserver(observer: MediaObserver | null): void;
  /** Compute what a first response of `e` prepares (a playlist's early hints), for the lean HTTP/1.1 path. */
  prepare(e: FileEntry): Promise<void>;
  /**
   * `Link` values (rel=preload) for what a player of asset `assetId` fetches first: its master
   * playlist and the master's hints; [] when the asset has no master. For player pages.
   */
  startupHints(assetId: string): Promise<string[]>;
}

/** CORS headers on every media response (SPECS.md "CORS"). */
function corsHeaders(origin: string): string[] {
  if (origin === '') return [];
  const out = ['Access-Control-Allow-Origin', origin, 'Access-Control-Expose-Headers', 'Content-Range, Content-Length, Age, ETag, Accept-Ranges'];
  if (origin !== '*') out.push('Vary', 'Origin');
  return out;
}

const ALLOW_HEADERS = 'Range, If-Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, Authorization, CMCD-Object, CMCD-Request, CMCD-Session, CMCD-Status';

/** Build the delivery origin over `storage` (default: the one `config.storage` names, as in delivery workers). */
export function createDelivery(config: Config, log: Logger, storage: InstrumentedStorage = createStorage(config)): Delivery {
  const cors = corsHeaders(config.delivery.corsOrigin);
  const catalog = new FileCatalog({
    remote: storage.kind === 'fs' ? null : storage,
    assetsDir: `${config.dataDir}/assets`,
    cacheBytes: config.delivery.cacheBytes,
    maxObjectBytes: config.delivery.maxObjectBytes,
    metaTtlMs: config.delivery.metaTtlMs,
    metaEntries: config.delivery.metaEntries,
    playlistMaxAgeS: config.delivery.playlistMaxAgeS,
    // Optional CMSD-Static (CTA-5006) on every media response, exposed to player scripts
    commonHeaders: config.qoe.cmsd && cors.length > 0
      ? [...cors.slice(0, 3), `${cors[3]}, CMSD-Static`, ...cors.slice(4), 'CMSD-Static', 'v=1,st=v,n="strom"']
      : config.qoe.cmsd ? ['CMSD-Static', 'v=1,st=v,n="strom"'] : cors,
  });
  const preflight = [...cors, 'Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS', 'Access-Control-Allow-Headers', ALLOW_HEADERS, 'Access-Control-Max-Age', '86400', 'Content-Length', '0'];
  let guard: DeliveryGuard | null = null;
  /** Whether an asset needs a playback token (its responses outside /s/ must not be shared-cached). */
  let isPrivate: (assetId: string) => boolean = () => false;
  let active = 0;
  const chunkBytes = config.delivery.streamChunkBytes;

  function sendError(req: AnyRequest, res: AnyResponse, err: StromError): void {
    if (res.headersSent) return void res.destroy();
    const body = JSON.stringify(err.toJSON());
    const headers = [...cors, 'Content-Type', 'application/json; charset=utf-8', 'Cache-Control', 'no-store', 'Content-Length', String(Buffer.byteLength(body))];
    for (const [k, v] of Object.entries(err.headers)) headers.push(k, v);
    writeHead(req, res, err.statusCode, headers);
    if (req.method === 'HEAD') res.end();
    else res.end(body);
  }

  function onError(req: AnyRequest, res: AnyResponse, err: unknown): void {
    if (isStromError(err)) return sendError(req, res, err);
    log.error({ err, url: req.url, reqId: req.headers['x-request-id'] }, 'delivery failed');
    sendError(req, res, fail('INTERNAL', 'delivery failed'));
  }

  /** Object storage only: how a send answers a storage failure before its head (a 503, not a cut 200). */
  const remote = catalog.remote !== null;
  function failer(req: AnyRequest, res: AnyResponse): ((err: unknown) => void) | undefined {
    return remote ? (err) => onError(req, res, err) : undefined;
  }

  /**
   * Early hints (and optional HTTP/2 push) for a master playlist, computed once per entry: the
   * start variant's playlist, init and first segment, and the same for the default audio
   * rendition when audio is separate (what a player fetches next, in that order).
   */
  async function prepareHints(e: FileEntry): Promise<void> {
    if (e.hints !== undefined || !e.kind.playlist) return;
    const master = (await catalog.body(e)).toString('utf8');
    const hints: string[] = [];
    for (const uri of [firstVariant(master), defaultAudio(master)]) {
      const mediaPath = uri === null ? null : resolveUri(e.key, uri);
      let body: string | null = null;
      if (mediaPath !== null && mediaPath.startsWith(ASSET_PREFIX)) {
        const v = await lookup(mediaPath).catch(() => null);
        if (v && catalog.cacheable(v)) body = (await catalog.body(v)).toString('utf8');
      }
      hints.push(...earlyHintLinks(mediaPath, body));
    }
    e.hints = hints;
  }

  async function startupHints(assetId: string): Promise<string[]> {
    const master = `${ASSET_PREFIX}${assetId}/master.m3u8`;
    const e = await lookup(master).catch(() => null);
    if (e === null || !catalog.cacheable(e)) return [];
    await prepareHints(e);
    return [`<${master}>; rel=preload; as=fetch; crossorigin`, ...(e.hints ?? [])];
  }

  function hintsFor(req: AnyRequest, res: AnyResponse, e: FileEntry): (() => void) | undefined {
    if (!e.hints || e.hints.length === 0) return undefined;
    const links = e.hints;
    return () => {
      // RFC 8297 §3: no 1xx to HTTP/1.0 clients, nor to HTTP/1.1 clients that break on them.
      if (config.delivery.earlyHints && acceptsEarlyHints(req.httpVersionMajor, req.httpVersionMinor, req.headers['user-agent'])) {
        res.writeEarlyHints({ link: links });
      }
      if (config.delivery.http2Push && req.httpVersionMajor === 2) pushHinted(req, res as Http2ServerResponse, links);
    };
  }

  function pushHinted(req: AnyRequest, res: Http2ServerResponse, links: string[]): void {
    if (!res.stream.pushAllowed) return;
    for (const link of links) {
      const target = /^<([^>]+)>/.exec(link)?.[1];
      if (!target) continue;
      res.createPushResponse({ ':path': target }, (err, pushRes) => {
        if (err) return;
        // The init and first segment are usually not in the metadata cache yet (only the variant
        // playlist was read to compute the hints), so load them; a miss resets the pushed stream.
        lookup(target).then(async (e) => {
          if (!e || !catalog.cacheable(e)) return void pushRes.stream.close();
          if (guard) await guard(req, e.assetId, e.key.slice(ASSET_PREFIX.length + e.assetId.length + 1));
          const buf = await catalog.body(e);
          const obj: Record<string, string> = {};
          for (let i = 0; i < e.fullHeaders.length; i += 2) obj[e.fullHeaders[i]!.toLowerCase()] = e.fullHeaders[i + 1]!;
          pushRes.writeHead(200, obj);
          pushRes.end(buf);
        }).catch(() => pushRes.stream.close(http2.constants.NGHTTP2_CANCEL));
      });
    }
  }

  async function lookup(pathname: string): Promise<FileEntry | null> {
    const fresh = catalog.cached(pathname, Date.now());
    if (fresh) return fresh;
    const p = parseAssetPath(pathname, ASSET_PREFIX);
    return catalog.load(pathname, p);
  }

  /** `guarded`: the guard already accepted this request; `signed`: came in through /s/ (no early hints to /v/ URLs). */
  async function serveSlow(req: AnyRequest, res: AnyResponse, pathname: string, forceStream: boolean, guarded = false, signed = false): Promise<void> {
    const p = parseAssetPath(pathname, ASSET_PREFIX);
    if (guard && !guarded) await guard(req, p.assetId, p.rel, null, res);
    const e = await catalog.load(pathname, p);
    if (e === null) throw fail('OBJECT_NOT_FOUND', pathname);
    await serveEntry(req, res, e, forceStream, signed);
  }

  async function serveEntry(req: AnyRequest, res: AnyResponse, e: FileEntry, forceStream: boolean, signed = false): Promise<void> {
    if (e.kind.playlist && e.hints === undefined && catalog.cacheable(e)) await prepareHints(e);
    sendObject(req, res, e, catalog, { chunkBytes, forceStream, beforeBody: signed ? undefined : hintsFor(req, res, e), privateCache: !signed && isPrivate(e.assetId), fail: failer(req, res) });
  }

  // Content protection: AES-128 keys and ClearKey licenses, behind the same guard as the media.
  let keys: ContentKeys | null = null;
  let secret: string | null = null;
  const protection = protectionEndpoints({ catalog, lookup, cors, licenseMaxBytes: config.vod.licenseMaxBytes });
  const licensePreflight = [...cors, 'Access-Control-Allow-Methods', 'POST, OPTIONS', 'Access-Control-Allow-Headers', 'Content-Type, Authorization', 'Access-Control-Max-Age', '86400', 'Content-Length', '0'];
  function serveProtection(req: AnyRequest, res: AnyResponse, route: ProtectionRoute, url: string, token: string | null): void {
    if (req.method === 'OPTIONS') {
      writeHead(req, res, 204, route === 'license' ? licensePreflight : preflight);
      return void res.end();
    }
    const q = url.indexOf('?');
    const run = async (): Promise<void> => {
      const p = parseAssetPath(q < 0 ? url : url.slice(0, q), ASSET_PREFIX);
      if (guard) await guard(req, p.assetId, p.rel, token, res);
      await protection.serve(req, res, route, p.assetId, p.rel, keys!);
    };
    run().catch((err) => onError(req, res, err));
  }

  // Request tracking: the one close listener per response also feeds the observer.
  let observer: MediaObserver | null = null;
  /** Shared close listener when nobody observes: no closure allocated per request. */
  const onResponseClosed = () => {
    active--;
  };
  function track(req: AnyRequest, res: AnyResponse): void {
    active++;
    const obs = observer;
    if (obs === null) {
      res.once('close', onResponseClosed);
      return;
    }
    const t0 = performance.now();
    const sock = req.httpVersionMajor === 2 ? null : req.socket;
    const b0 = sock === null ? 0 : sock.bytesWritten;
    res.once('close', () => {
      active--;
      obs.done(req, res, t0, sock === null ? -1 : sock.bytesWritten - b0);
    });
  }

  return {
    catalog,
    storage,
    setGuard(g) {
      guard = g;
    },
    setPrivacy(fn) {
      isPrivate = fn;
    },
    setContentSecret(s) {
      keys = new ContentKeys(s);
      secret = s.toString('base64url');
    },
    contentSecret: () => secret,
    attachProtectionMetrics: (registry) => protection.attach(registry),
    inFlight: () => active,
    prepare: (e) => prepareHints(e),
    startupHints,
    setObserver(o) {
      observer = o;
    },
    handle(req, res) {
      let url = req.url ?? '/';
      // Signed playback: peel `/s/<token>` off, serve the `/v/` object (same cache entry).
      let token: string | null = null;
      if (url.startsWith(SIGNED_PREFIX)) {
        const end = url.indexOf('/', SIGNED_PREFIX.length);
        if (end < 0 || end - SIGNED_PREFIX.length > MAX_TOKEN_CHARS) {
          track(req, res);
          sendError(req, res, fail('BAD_PATH', url.slice(0, 64), 'expected /s/<token>/<assetId>/<path>'));
          return true;
        }
        token = url.slice(SIGNED_PREFIX.length, end);
        url = ASSET_PREFIX + url.slice(end + 1);
      }
      if (!url.startsWith(ASSET_PREFIX)) return false;
      const route = protectionRouteOf(url);
      // A delivery worker without content keys leaves key and license requests to the main.
      if (route !== null && keys === null) return false;
      track(req, res);
      const method = req.method;
      if (route !== null) {
        serveProtection(req, res, route, url, token);
        return true;
      }
      if (method === 'OPTIONS') {
        writeHead(req, res, 204, preflight);
        res.end();
        return true;
      }
      if (method !== 'GET' && method !== 'HEAD') {
        sendError(req, res, failWith('METHOD_NOT_ALLOWED', { Allow: 'GET, HEAD, OPTIONS' }, method ?? ''));
        return true;
      }
      const q = url.indexOf('?');
      const pathname = q < 0 ? url : url.slice(0, q);
      // Signed playback: the guard answers synchronously for public assets and cached tokens.
      if (guard !== null) {
        let verdict: void | Promise<void>;
        try {
          verdict = guard(req, assetIdOf(pathname), pathname.slice(pathname.indexOf('/', ASSET_PREFIX.length) + 1), token, res);
        } catch (err) {
          onError(req, res, err);
          return true;
        }
        if (verdict) {
          verdict.then(() => (res.destroyed ? undefined : serveSlow(req, res, pathname, false, true, token !== null))).catch((err) => onError(req, res, err));
          return true;
        }
      }
      const e = catalog.peek(pathname, Date.now());
      if (e !== undefined && (e.hints !== undefined || !e.kind.playlist)) {
        // Hot path: metadata known, guard (if any) passed synchronously, nothing to prepare.
        sendObject(req, res, e, catalog, { chunkBytes, beforeBody: token === null ? hintsFor(req, res, e) : undefined, privateCache: token === null && isPrivate(e.assetId), fail: failer(req, res) });
        return true;
      }
      serveSlow(req, res, pathname, false, true, token !== null).catch((err) => onError(req, res, err));
      return true;
    },
    async serveAssetFile(req, res, assetId, rel, forceStream) {
      track(req, res);
      await serveSlow(req, res, `${ASSET_PREFIX}${assetId}/${rel}`, forceStream).catch((err) => onError(req, res, err));
    },
  };
}
