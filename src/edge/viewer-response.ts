/**
 * Writing an edge response to a viewer, from a stored object or from a fill in progress.
 *
 * - Stored objects get the full RFC 9110 treatment the origin gives: conditional requests
 *   (§13.1, 304/412 from the stored ETag and Last-Modified), single and multiple ranges are cut
 *   from the stored body (§14; one range → 206, several → the first only, which §14.2 allows),
 *   If-Range, 416 with `Content-Range: bytes *\/size`.
 * - Every response carries `Age` (RFC 9111 §5.1) and `Cache-Status` (RFC 9211) naming this edge.
 * - A fill is streamed: the head as soon as the origin's head arrives, then each chunk as it
 *   arrives, with backpressure per viewer (a viewer waits for 'drain' and resumes from its cursor).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { evaluatePreconditions, ifRangeAllows } from '../http/delivery/preconditions.js';
import { parseRange } from '../http/delivery/range.js';
import { ageOf, endToEndHeaders, type CachedObject } from './cached-object.js';
import type { StromError } from '../errors.js';
import type { Fill } from './fill.js';

/** The cache's name in `Cache-Status` (RFC 9211 §2: an identifier of the cache). */
export const CACHE_NAME = 'strom-edge';

/** Per-response options. */
export interface ViewerOptions {
  /** RFC 9211 parameters after the cache name, e.g. `hit; ttl=30` or `fwd=miss; stored`. */
  cacheStatus: string;
  /** Send `Cache-Control: private` (a signed asset requested without a path token). */
  privateCache: boolean;
  /** A fresh hit whose `cacheStatus` depends only on the object and the second (its head may be reused). */
  hit?: boolean;
}

function flat(headers: Array<[string, string]>, privateCache: boolean, extra: string[]): string[] {
  const out: string[] = [];
  for (const [n, v] of headers) {
    out.push(n, n === 'cache-control' && privateCache ? v.replace(/\bpublic\b/, 'private') : v);
  }
  for (const x of extra) out.push(x);
  return out;
}

/** Answer from a stored object (fresh hit, revalidated, or stale-if-error). */
export function sendStored(req: IncomingMessage, res: ServerResponse, o: CachedObject, now: number, opts: ViewerOptions): void {
  const h = req.headers;
  if (opts.hit && !opts.privateCache && h.range === undefined && h['if-none-match'] === undefined && h['if-modified-since'] === undefined && h['if-match'] === undefined && h['if-unmodified-since'] === undefined) {
    // The common hit: the same head for every viewer within a second (Age and ttl are in seconds).
    const second = Math.floor(now / 1000);
    if (o.head === undefined || o.head.second !== second) {
      o.head = { second, fields: flat(o.headers, false, ['Age', String(ageOf(o, now)), 'Cache-Status', `${CACHE_NAME}; ${opts.cacheStatus}`, 'Accept-Ranges', 'bytes', 'Content-Length', String(o.body.length)]) };
    }
    res.writeHead(200, o.head.fields);
    if (req.method === 'HEAD') return void res.end();
    return void res.end(o.body);
  }
  const size = o.body.length;
  const common = ['Age', String(ageOf(o, now)), 'Cache-Status', `${CACHE_NAME}; ${opts.cacheStatus}`];
  if (o.etag !== null || !Number.isNaN(o.lastModifiedS)) {
    const pre = evaluatePreconditions(req.method ?? 'GET', req.headers, { etag: o.etag ?? '', lastModifiedS: o.lastModifiedS });
    if (pre === 304) {
      res.writeHead(304, flat(o.headers.filter(([n]) => n !== 'content-type'), opts.privateCache, common));
      return void res.end();
    }
    if (pre === 412) {
      res.writeHead(412, ['Content-Length', '0', ...common]);
      return void res.end();
    }
  }
  let status = 200;
  let body = o.body;
  const extra = [...common, 'Accept-Ranges', 'bytes'];
  const range = req.headers.range;
  const ifRange = req.headers['if-range'];
  if (range !== undefined && (ifRange === undefined || ifRangeAllows(String(ifRange), { etag: o.etag ?? '', lastModifiedS: o.lastModifiedS }))) {
    const ranges = parseRange(range, size);
    if (ranges === 'unsatisfiable') {
      res.writeHead(416, ['Content-Range', `bytes */${size}`, 'Content-Length', '0', ...common]);
      return void res.end();
    }
    if (ranges !== null && ranges.length > 0) {
      const r = ranges[0]!;
      status = 206;
      body = o.body.subarray(r.start, r.end + 1);
      extra.push('Content-Range', `bytes ${r.start}-${r.end}/${size}`);
    }
  }
  extra.push('Content-Length', String(body.length));
  res.writeHead(status, flat(o.headers, opts.privateCache, extra));
  if (req.method === 'HEAD') return void res.end();
  res.end(body);
}

/** Where a fill's bytes go: a node:http response or, on the lean path, the socket itself. */
export interface FillSink {
  write(chunk: Buffer): boolean;
  once(event: 'drain', listener: () => void): unknown;
  destroy(err?: Error): unknown;
}

/**
 * Copy a fill to `sink` chunk by chunk as they arrive, with backpressure (a slow viewer waits for
 * 'drain' and resumes from its own cursor). `writeHead` runs once, when the origin's head is in,
 * and returns false when no body follows (HEAD); `end(ok)` runs once when the body is complete
 * (ok) or the fill failed (the sink is destroyed first). Returns a function that stops the copy.
 */
export function pumpFill(fill: Fill, sink: FillSink, writeHead: () => boolean, end: (ok: boolean) => void): () => void {
  let cursor = 0;
  let headSent = false;
  let waitingDrain = false;
  let finished = false;
  const finish = (ok: boolean): void => {
    if (finished) return;
    finished = true;
    unwatch();
    end(ok);
  };
  const pump = (): void => {
    if (finished || waitingDrain) return;
    if (fill.state === 'failed') {
      sink.destroy(fill.error ?? new Error('origin response failed'));
      return finish(false);
    }
    if (fill.state === 'pending') return;
    if (!headSent) {
      headSent = true;
      if (!writeHead()) return finish(true);
    }
    while (cursor < fill.chunks.length) {
      if (!sink.write(fill.chunks[cursor++]!)) {
        waitingDrain = true;
        sink.once('drain', () => {
          waitingDrain = false;
          pump();
        });
        return;
      }
    }
    if (fill.state === 'done') finish(true);
  };
  const unwatch = fill.watch(pump);
  pump();
  return () => {
    finished = true;
    unwatch();
  };
}

/** The viewer-facing head fields of a fill's response (the origin's end-to-end fields + the edge's). */
export function fillHeaders(fill: Fill, opts: ViewerOptions): string[] {
  const extra = ['Cache-Status', `${CACHE_NAME}; ${opts.cacheStatus}`, 'Age', '0'];
  if (fill.length !== null) extra.push('Content-Length', String(fill.length));
  if (fill.status === 200) extra.push('Accept-Ranges', 'bytes');
  return flat(endToEndHeaders(fill.headers), opts.privateCache, extra);
}

/**
 * Stream a fill to a viewer from its first byte. `onDone` runs once when the viewer's response is
 * over (written, failed or aborted).
 */
export function sendFill(req: IncomingMessage, res: ServerResponse, fill: Fill, opts: ViewerOptions, onDone: () => void): void {
  let stop: (() => void) | null = null;
  let done = false;
  const over = (): void => {
    if (done) return;
    done = true;
    stop?.();
    onDone();
  };
  stop = pumpFill(fill, res, () => {
    res.writeHead(fill.status, fillHeaders(fill, opts));
    return req.method !== 'HEAD';
  }, (ok) => {
    if (ok) res.end();
    over();
  });
  res.once('close', over);
}


/** A catalog error as the origin renders it (JSON body, never cached, CORS open like media). */
export function sendErrorResponse(req: IncomingMessage, res: ServerResponse, err: StromError): void {
  if (res.headersSent) return void res.destroy();
  const body = JSON.stringify(err.toJSON());
  const headers = ['Access-Control-Allow-Origin', '*', 'Content-Type', 'application/json; charset=utf-8', 'Cache-Control', 'no-store', 'Content-Length', String(Buffer.byteLength(body))];
  for (const [k, v] of Object.entries(err.headers)) headers.push(k, v);
  res.writeHead(err.statusCode, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}
