/**
 * The media delivery origin: `GET|HEAD|OPTIONS /v/<assetId>/<path>`. It runs in front of Fastify
 * (see server.ts) because it is the hot path: a cached object costs one map lookup, a few header
 * comparisons and one write — no router, no per-request objects. Everything else goes to Fastify.
 * The fast path keeps the same contracts as the API: catalog errors as JSON, request ids, CORS.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { fail, failWith, isStromError, type StromError } from '../../errors.js';
import { FileCatalog, type FileEntry } from './file-catalog.js';
import { parseAssetPath } from './safe-path.js';
import { sendObject, writeHead, type AnyRequest, type AnyResponse } from './send-object.js';
import { earlyHintLinks, firstVariant, resolveUri } from './early-hints.js';
import type { Http2ServerResponse } from 'node:http2';

/** URL prefix of published assets. */
export const ASSET_PREFIX = '/v/';

/** Checks a request may read an asset (signed playback plugs in here); throw a StromError to refuse. */
export type DeliveryGuard = (req: AnyRequest, assetId: string, rel: string) => void | Promise<void>;

/** The delivery origin bound to one data directory. */
export interface Delivery {
  catalog: FileCatalog;
  /** Handle a request if its path is a delivery path; returns false to pass it on. */
  handle(req: AnyRequest, res: AnyResponse): boolean;
  /** Serve one asset file for a route outside /v/ (the original design's stream alias). */
  serveAssetFile(req: AnyRequest, res: AnyResponse, assetId: string, rel: string, forceStream: boolean): Promise<void>;
  /** Guard every request (set by the auth layer). */
  setGuard(guard: DeliveryGuard | null): void;
  /** Requests currently being answered (for graceful shutdown and metrics). */
  inFlight(): number;
}

/** CORS headers on every media response (SPECS.md "CORS"). */
function corsHeaders(origin: string): string[] {
  if (origin === '') return [];
  const out = ['Access-Control-Allow-Origin', origin, 'Access-Control-Expose-Headers', 'Content-Range, Content-Length, Age, ETag, Accept-Ranges'];
  if (origin !== '*') out.push('Vary', 'Origin');
  return out;
}

const ALLOW_HEADERS = 'Range, If-Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, Authorization, CMCD-Object, CMCD-Request, CMCD-Session, CMCD-Status';

/** Build the delivery origin. */
export function createDelivery(config: Config, log: Logger): Delivery {
  const cors = corsHeaders(config.delivery.corsOrigin);
  const catalog = new FileCatalog({
    assetsDir: `${config.dataDir}/assets`,
    cacheBytes: config.delivery.cacheBytes,
    maxObjectBytes: config.delivery.maxObjectBytes,
    metaTtlMs: config.delivery.metaTtlMs,
    metaEntries: config.delivery.metaEntries,
    playlistMaxAgeS: config.delivery.playlistMaxAgeS,
    commonHeaders: cors,
  });
  const preflight = [...cors, 'Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS', 'Access-Control-Allow-Headers', ALLOW_HEADERS, 'Access-Control-Max-Age', '86400', 'Content-Length', '0'];
  let guard: DeliveryGuard | null = null;
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

  /** Early hints (and optional HTTP/2 push) for a master playlist, computed once per entry. */
  async function prepareHints(e: FileEntry): Promise<void> {
    if (e.hints !== undefined || !e.kind.playlist) return;
    const master = (await catalog.body(e)).toString('utf8');
    const variantUri = firstVariant(master);
    const variantPath = variantUri === null ? null : resolveUri(e.key, variantUri);
    let variantBody: string | null = null;
    if (variantPath !== null && variantPath.startsWith(ASSET_PREFIX)) {
      const v = await lookup(variantPath).catch(() => null);
      if (v && catalog.cacheable(v)) variantBody = (await catalog.body(v)).toString('utf8');
    }
    e.hints = earlyHintLinks(variantPath, variantBody);
  }

  function hintsFor(req: AnyRequest, res: AnyResponse, e: FileEntry): (() => void) | undefined {
    if (!e.hints || e.hints.length === 0) return undefined;
    const links = e.hints;
    return () => {
      // RFC 8297 §3: 1xx responses must not go to HTTP/1.0 clients.
      if (config.delivery.earlyHints && !(req.httpVersionMajor === 1 && req.httpVersionMinor === 0)) {
        res.writeEarlyHints({ link: links });
      }
      if (config.delivery.http2Push && req.httpVersionMajor === 2) pushHinted(res as Http2ServerResponse, links);
    };
  }

  function pushHinted(res: Http2ServerResponse, links: string[]): void {
    if (!res.stream.pushAllowed) return;
    for (const link of links) {
      const target = /^<([^>]+)>/.exec(link)?.[1];
      if (!target) continue;
      res.createPushResponse({ ':path': target }, (err, pushRes) => {
        if (err) return;
        const e = catalog.cached(target, Date.now());
        if (!e || !catalog.cacheable(e)) return void pushRes.stream.close();
        catalog.body(e).then((buf) => {
          const obj: Record<string, string> = {};
          for (let i = 0; i < e.fullHeaders.length; i += 2) obj[e.fullHeaders[i]!.toLowerCase()] = e.fullHeaders[i + 1]!;
          pushRes.writeHead(200, obj);
          pushRes.end(buf);
        }, () => pushRes.stream.close());
      });
    }
  }

  async function lookup(pathname: string): Promise<FileEntry | null> {
    const fresh = catalog.cached(pathname, Date.now());
    if (fresh) return fresh;
    const p = parseAssetPath(pathname, ASSET_PREFIX);
    return catalog.load(pathname, p);
  }

  async function serveSlow(req: AnyRequest, res: AnyResponse, pathname: string, forceStream: boolean): Promise<void> {
    const p = parseAssetPath(pathname, ASSET_PREFIX);
    if (guard) await guard(req, p.assetId, p.rel);
    const e = await catalog.load(pathname, p);
    if (e === null) throw fail('OBJECT_NOT_FOUND', pathname);
    await serveEntry(req, res, e, forceStream);
  }

  async function serveEntry(req: AnyRequest, res: AnyResponse, e: FileEntry, forceStream: boolean): Promise<void> {
    if (e.kind.playlist && e.hints === undefined && catalog.cacheable(e)) await prepareHints(e);
    sendObject(req, res, e, catalog, { chunkBytes, forceStream, beforeBody: hintsFor(req, res, e) });
  }

  function track(res: AnyResponse): void {
    active++;
    res.once('close', () => active--);
  }

  return {
    catalog,
    setGuard(g) {
      guard = g;
    },
    inFlight: () => active,
    handle(req, res) {
      const url = req.url ?? '/';
      if (!url.startsWith(ASSET_PREFIX)) return false;
      track(res);
      const method = req.method;
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
      const e = guard === null ? catalog.cached(pathname, Date.now()) : undefined;
      if (e !== undefined && (e.hints !== undefined || !e.kind.playlist)) {
        // Hot path: metadata known, no guard, nothing to prepare.
        sendObject(req, res, e, catalog, { chunkBytes, beforeBody: hintsFor(req, res, e) });
        return true;
      }
      serveSlow(req, res, pathname, false).catch((err) => onError(req, res, err));
      return true;
    },
    async serveAssetFile(req, res, assetId, rel, forceStream) {
      track(res);
      await serveSlow(req, res, `${ASSET_PREFIX}${assetId}/${rel}`, forceStream).catch((err) => onError(req, res, err));
    },
  };
}
