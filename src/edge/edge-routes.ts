/**
 * The edge's fast path: which viewer requests the cache answers, under which key, after which
 * check. Everything else (HTTP-FLV, WS-FLV, WHEP, /healthz, /metrics) falls through to Fastify.
 *
 *   /v/<asset>/<path>            VOD, public: key = the path, filled from the same path
 *   /s/<token>/<asset>/<path>    VOD, signed: key = /v/<asset>/<path> (the origin serves the same
 *                                bytes for every token), filled through the viewer's token path
 *   /v/…?token= or Bearer        signed, token outside the path: same key, filled as /s/<token>/…,
 *                                answered `Cache-Control: private` like the origin does
 *   /live/<id>/<file>[?query]    LL-HLS / LL-DASH: key = path + query without `token`, so every
 *                                viewer's identical blocking request (_HLS_msn/_HLS_part) is one key
 *
 * Signed playback is verified here, locally (the guard mirrors the origin's keys and policy,
 * playback-sync.ts); the origin is asked only on a miss. Until the first policy snapshot arrives
 * the edge cannot tell signed from public and answers 503 EDGE_NOT_SYNCED.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { fail, failWith, isStromError, type StromError } from '../errors.js';
import { requestToken } from '../auth/playback-guard.js';
import type { DeliveryGuard } from '../http/delivery/delivery-handler.js';
import { parseAssetPath } from '../http/delivery/safe-path.js';
import type { EdgeCache, EdgeTarget, UpstreamHeaders } from './edge-cache.js';
import type { Prefetcher } from './prefetch.js';
import { sendErrorResponse } from './viewer-response.js';
import type { ViewerCounter } from './viewer-counter.js';

/** What the fast path needs from the rest of the edge. */
export interface EdgeRouteDeps {
  cache: EdgeCache;
  prefetcher: Prefetcher;
  /** The playback guard mirrored from the origin, and whether its first snapshot has arrived. */
  guard: DeliveryGuard;
  synced: () => boolean;
  isSigned: (id: string) => boolean;
  nodeId: string;
  /** Viewers per HTTP surface (optional: tests of the cache alone leave it out). */
  viewers?: ViewerCounter;
}

const STREAM_ID = /^[A-Za-z0-9_-]{1,64}$/;
const LIVE_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/;
const MAX_TOKEN_CHARS = 4096;
/**
 * The live MPD: the origin writes its UTCTiming URL from the request's Host (and, with `trustProxy`,
 * X-Forwarded-Proto), so the edge asks for it with the viewer's Host and scheme (what docs/CDN.md
 * tells a CDN to do) and keys it by both;
 * with the origin's own Host the viewers' players would sync their clocks on the origin, which
 * they may not be able to reach.
 */
const LIVE_MPD = /^\/live\/[A-Za-z0-9_-]{1,64}\/manifest\.mpd(?:\?|$)/;
const PREFLIGHT = ['Access-Control-Allow-Origin', '*', 'Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS', 'Access-Control-Allow-Headers', 'Range, If-None-Match, If-Modified-Since, CMCD-Object, CMCD-Request, CMCD-Session, CMCD-Status', 'Access-Control-Max-Age', '600', 'Content-Length', '0'];

/** Build the fast path: returns false for requests it does not answer. */
export function createEdgeHandler(d: EdgeRouteDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const via = `1.1 ${d.nodeId}`;

  function upstreamHeaders(req: IncomingMessage): UpstreamHeaders {
    const xff = req.headers['x-forwarded-for'];
    const h = forwardHeaders(req.socket.remoteAddress ?? '', typeof xff === 'string' ? xff : undefined, String(req.headers.traceparent ?? ''), via);
    if (LIVE_MPD.test(req.url ?? '')) {
      const host = viewerHost(req);
      if (host !== undefined) h.host = host;
      h['x-forwarded-proto'] = viewerScheme(req); // an origin with trustProxy writes this scheme
    }
    return h;
  }

  /** Resolve a VOD or live request to its target and the id the guard checks. */
  function target(req: IncomingMessage, url: string): { t: EdgeTarget; id: string; rel: string; pathToken: string | null; vod: boolean } | null {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path.startsWith('/v/') || path.startsWith('/s/')) {
      let pathToken: string | null = null;
      let vpath = path;
      if (path.startsWith('/s/')) {
        const end = path.indexOf('/', 3);
        if (end < 0 || end - 3 > MAX_TOKEN_CHARS) throw fail('BAD_PATH', path.slice(0, 64), 'expected /s/<token>/<assetId>/<path>');
        pathToken = path.slice(3, end);
        vpath = `/v${path.slice(end)}`;
      }
      const { assetId, rel } = parseAssetPath(vpath, '/v/');
      const token = pathToken ?? (d.isSigned(assetId) ? requestToken(req) : null);
      const upstreamPath = token === null ? vpath : `/s/${token}${vpath.slice(2)}`;
      return { t: { key: vpath, upstreamPath, privateCache: pathToken === null && token !== null, live: false }, id: assetId, rel, pathToken, vod: true };
    }
    if (!path.startsWith('/live/')) return null;
    const parts = path.slice(6).split('/');
    if (parts.length === 1) return parts[0] === 'time' ? { t: { key: path, upstreamPath: path, privateCache: false, live: true }, id: '', rel: '', pathToken: null, vod: false } : null;
    const [id, ...files] = parts as [string, ...string[]];
    if (files.length > 2 || files[files.length - 1] === 'whep' || files.includes('whep')) return null; // WHEP and its sessions: the live routes
    if (!STREAM_ID.test(id) || !files.every((f) => LIVE_FILE.test(f))) throw fail('BAD_PATH', path, 'expected /live/<streamId>/[<rendition>/]<file>');
    const query = q < 0 ? '' : stripToken(url.slice(q + 1));
    const mpd = LIVE_MPD.test(url);
    const host = mpd ? viewerHost(req) : undefined;
    // A space never occurs in a request target: the MPD's key also names the Host and scheme it was written for.
    const key = `${path}${query === '' ? '' : `?${query}`}${host === undefined ? '' : ` host=${host}`}${mpd ? ` ${viewerScheme(req)}` : ''}`;
    return { t: { key, upstreamPath: url, privateCache: false, live: true }, id, rel: '', pathToken: null, vod: false };
  }

  return function handle(req, res) {
    const url = req.url ?? '/';
    let r: ReturnType<typeof target>;
    try {
      r = target(req, url);
    } catch (err) {
      sendErrorResponse(req, res, err as StromError);
      return true;
    }
    if (r === null) return false;
    const method = req.method;
    if (method === 'OPTIONS') {
      res.writeHead(204, PREFLIGHT);
      res.end();
      return true;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      sendErrorResponse(req, res, failWith('METHOD_NOT_ALLOWED', { Allow: 'GET, HEAD, OPTIONS' }, method ?? ''));
      return true;
    }
    if (!d.synced()) {
      sendErrorResponse(req, res, failWith('EDGE_NOT_SYNCED', { 'Retry-After': '1' }, 'waiting for the first policy snapshot'));
      return true;
    }
    const { t, id, rel, pathToken, vod } = r;
    if (d.viewers && id !== '') {
      // A live viewer is counted by its manifest polls (parts and segments are shared by both).
      const surface = vod ? 'vod' : t.key.includes('.m3u8') ? 'll-hls' : t.key.includes('.mpd') ? 'll-dash' : null;
      if (surface !== null) d.viewers.saw(req.socket.remoteAddress ?? '', surface, Date.now());
    }
    const go = (): void => {
      if (res.destroyed) return;
      const up = () => upstreamHeaders(req);
      // Warm after a miss, or after the first hit on a prefetched segment (keeps the chain ahead of the viewer).
      if (d.cache.serve(req, res, t, up) !== 'hit' && vod) d.prefetcher.after(t, up());
    };
    let verdict: void | Promise<void>;
    try {
      verdict = id === '' ? undefined : d.guard(req, id, rel, pathToken, res);
    } catch (err) {
      refuse(req, res, err);
      return true;
    }
    if (verdict instanceof Promise) verdict.then(go, (err: unknown) => refuse(req, res, err));
    else go();
    return true;
  };
}

function refuse(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  sendErrorResponse(req, res, isStromError(err) ? err : fail('INTERNAL', (err as Error).message));
}

/**
 * The fields an edge adds to a request it forwards: the viewer's address appended to
 * X-Forwarded-For, Via, and a traceparent that keeps the viewer's trace id with this hop as a new
 * parent span (W3C Trace Context §3.2), or starts a trace.
 */
export function forwardHeaders(ip: string, xff: string | undefined, traceparent: string | undefined, via: string): UpstreamHeaders {
  const tp = TRACEPARENT.exec(traceparent ?? '');
  const trace = tp ? tp[1]! : randomBytes(16).toString('hex');
  return {
    'x-forwarded-for': xff !== undefined && xff !== '' ? `${xff}, ${ip}` : ip,
    via,
    traceparent: `00-${trace}-${randomBytes(8).toString('hex')}-${tp ? tp[2]! : '01'}`,
  };
}

/** The Host the viewer asked for (HTTP/2: :authority). */
function viewerHost(req: IncomingMessage): string | undefined {
  const host = req.headers.host ?? req.headers[':authority'];
  return typeof host === 'string' && host !== '' ? host : undefined;
}

/** The scheme the viewer reached the edge with. */
function viewerScheme(req: IncomingMessage): 'https' | 'http' {
  return (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
}

/** The query without `token` parameters (auth is checked here, never part of the object's identity). */
function stripToken(query: string): string {
  if (!query.includes('token=')) return query;
  return query.split('&').filter((p) => !p.startsWith('token=')).join('&');
}
