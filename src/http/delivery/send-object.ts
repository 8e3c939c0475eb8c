/**
 * Writing one object response: preconditions, ranges, 304/412/416, HEAD, whole or partial bodies
 * from memory or streamed from disk with backpressure. Works on Node's `ServerResponse` and on the
 * HTTP/2 compatibility response alike. This is hand-written rather than `@fastify/static` because
 * it is the hot path: a cache hit here is a map lookup and one `end(buffer)` (DESIGN.md numbers).
 * With object storage (`catalog.remote`), a body not in memory is fetched — or the first range's
 * GetObject opened — before the response head is written, so a storage failure is answered as a
 * catalog 503 (`opts.fail`) rather than a truncated 200; ranges then stream with backpressure.
 */
import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { open } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import type { FileCatalog, FileEntry } from './file-catalog.js';
import { evaluatePreconditions, ifRangeAllows } from './preconditions.js';
import { parseRange, type ByteRange } from './range.js';
import { planMultipart } from './multipart.js';
import type { AnyRequest, AnyResponse } from '../../http-message.js';

/** Headers that HTTP/2 forbids (RFC 9113 §8.2.2); never set by us, listed for safety. */
const H2_FORBIDDEN = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

/** writeHead with a flat [name, value, …] list, converted to an object for HTTP/2. */
export function writeHead(req: AnyRequest, res: AnyResponse, status: number, headers: string[]): void {
  if (req.httpVersionMajor === 2) {
    const obj: Record<string, string> = {};
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!.toLowerCase();
      if (!H2_FORBIDDEN.has(name)) obj[name] = headers[i + 1]!;
    }
    (res as Http2ServerResponse).writeHead(status, obj);
  } else {
    (res as ServerResponse).writeHead(status, headers);
  }
}

/** Options for one send. */
export interface SendOptions {
  /** Always stream from disk, even when the object is cacheable (the original design's stream route). */
  forceStream?: boolean;
  /** Read size for disk streaming. */
  chunkBytes: number;
  /** Called right before the final response head for a 200/206 GET (used for Early Hints). */
  beforeBody?: () => void;
  /**
   * A signed asset reached with a token in a header or query: a shared cache must not store it
   * under the token-less URL (RFC 9111 §3.5 — `public` would let a CDN hand it to anyone).
   */
  privateCache?: boolean;
  /** Answer an error while no head is written yet (object storage failures: STORAGE_UNAVAILABLE). */
  fail?: (err: unknown) => void;
}

/** Cache-Control of a signed asset not addressed by a `/s/<token>/` URL. */
const PRIVATE_CACHE = 'private, no-store';

/** Serve `e` for this request, honouring RFC 9110 preconditions and ranges. */
export function sendObject(req: AnyRequest, res: AnyResponse, e: FileEntry, catalog: FileCatalog, opts: SendOptions): void {
  const method = req.method ?? 'GET';
  const head = method === 'HEAD';
  const full = opts.privateCache ? replaceHeader(e.fullHeaders, 'Cache-Control', PRIVATE_CACHE) : e.fullHeaders;
  const base = opts.privateCache ? replaceHeader(e.baseHeaders, 'Cache-Control', PRIVATE_CACHE) : e.baseHeaders;
  if (!hasConditionalHeaders(req.rawHeaders)) {
    // Most player requests: no Range, no If-*. Skip building `req.headers` (lazy in Node).
    if (!head) opts.beforeBody?.();
    if (catalog.remote !== null && !head) return sendRemote(req, res, 200, full, e, catalog, opts, null);
    writeHead(req, res, 200, full);
    if (head) return void res.end();
    if (!opts.forceStream && catalog.cacheable(e)) return withBody(catalog, e, res, (buf) => res.end(buf));
    return streamRanges(res, e, [{ start: 0, end: e.size - 1 }], [], opts.chunkBytes);
  }
  const h = req.headers;
  const pre = evaluatePreconditions(method, h, e);
  if (pre === 304) {
    // §15.4.5: a 304 carries the headers a 200 would have for cache updating, not the body's.
    writeHead(req, res, 304, withoutBodyHeaders(base));
    res.end();
    return;
  }
  if (pre === 412) {
    writeHead(req, res, 412, [...errorHeaders(base), 'Content-Length', '0']);
    res.end();
    return;
  }
  let ranges: ByteRange[] | null = null;
  const rangeHeader = method === 'GET' ? h.range : undefined; // Range is GET-only (§14.2)
  if (rangeHeader !== undefined && ifRangeAllows(h['if-range'] as string | undefined, e)) {
    const parsed = parseRange(rangeHeader, e.size);
    if (parsed === 'unsatisfiable') {
      writeHead(req, res, 416, [...errorHeaders(base), 'Content-Range', `bytes */${e.size}`, 'Content-Length', '0']);
      res.end();
      return;
    }
    ranges = parsed;
  }
  if (!head) opts.beforeBody?.();
  const useMemory = !opts.forceStream && catalog.cacheable(e);
  if (catalog.remote !== null && !head) {
    if (ranges === null) return sendRemote(req, res, 200, full, e, catalog, opts, null);
    if (ranges.length === 1) return sendRemote(req, res, 206, singleRangeHeaders(base, ranges[0]!, e.size), e, catalog, opts, ranges);
    const plan = planMultipart(ranges, e.size, e.kind.type);
    return sendRemote(req, res, 206, [...replaceHeader(base, 'Content-Type', plan.contentType), 'Content-Length', String(plan.length)], e, catalog, opts, ranges, plan.pieces);
  }
  if (ranges === null) {
    writeHead(req, res, 200, full);
    if (head) return void res.end();
    if (useMemory) return withBody(catalog, e, res, (buf) => res.end(buf));
    return streamRanges(res, e, [{ start: 0, end: e.size - 1 }], [], opts.chunkBytes);
  }
  if (ranges.length === 1) {
    const r = ranges[0]!;
    writeHead(req, res, 206, singleRangeHeaders(base, r, e.size));
    if (head) return void res.end();
    if (useMemory) return withBody(catalog, e, res, (buf) => res.end(buf.subarray(r.start, r.end + 1)));
    return streamRanges(res, e, [r], [], opts.chunkBytes);
  }
  const plan = planMultipart(ranges, e.size, e.kind.type);
  const headers = replaceHeader(base, 'Content-Type', plan.contentType);
  writeHead(req, res, 206, [...headers, 'Content-Length', String(plan.length)]);
  if (head) return void res.end();
  if (useMemory) {
    const out = res as NodeJS.WritableStream;
    return withBody(catalog, e, res, (buf) => {
      for (const p of plan.pieces) out.write(Buffer.isBuffer(p) ? p : buf.subarray(p.start, p.end + 1));
      res.end();
    });
  }
  const rs: ByteRange[] = [];
  const heads: Buffer[] = [];
  for (const p of plan.pieces) (Buffer.isBuffer(p) ? heads : rs).push(p as never);
  streamRanges(res, e, rs, heads, opts.chunkBytes);
}

/** Headers of a single-range 206. */
function singleRangeHeaders(base: string[], r: ByteRange, size: number): string[] {
  return [...base, 'Content-Range', `bytes ${r.start}-${r.end}/${size}`, 'Content-Length', String(r.end - r.start + 1)];
}

/**
 * A GET body from object storage: `ranges` null = the whole object; `pieces` = a multipart plan.
 * The head is written only once the body (memory) or the first range's stream (large objects) is
 * at hand; a failure before that goes to `opts.fail`.
 */
function sendRemote(req: AnyRequest, res: AnyResponse, status: number, headers: string[], e: FileEntry, catalog: FileCatalog, opts: SendOptions, ranges: ByteRange[] | null, pieces?: Array<Buffer | ByteRange>): void {
  const failed = (err: unknown): void => {
    if (!res.headersSent && opts.fail) opts.fail(err);
    else res.destroy(err as Error);
  };
  if (!opts.forceStream && catalog.cacheable(e)) {
    const write = (buf: Buffer): void => {
      if (res.destroyed) return;
      writeHead(req, res, status, headers);
      if (pieces) {
        for (const p of pieces) (res as NodeJS.WritableStream).write(Buffer.isBuffer(p) ? p : buf.subarray(p.start, p.end + 1));
        res.end();
      } else if (ranges) res.end(buf.subarray(ranges[0]!.start, ranges[0]!.end + 1));
      else res.end(buf);
    };
    const hit = catalog.hotBody(e.key);
    if (hit !== undefined) return write(hit);
    return void catalog.body(e).then(write, failed);
  }
  const rs: ByteRange[] = [];
  const heads: Buffer[] = [];
  if (pieces) for (const p of pieces) (Buffer.isBuffer(p) ? heads : rs).push(p as never);
  else rs.push(...(ranges ?? [{ start: 0, end: e.size - 1 }]));
  if (rs[0]!.end < rs[0]!.start) {
    writeHead(req, res, status, headers); // an empty object
    return void res.end();
  }
  catalog.openRange(e, rs[0]!).then((first) => {
    res.once('close', () => first.destroy()); // also when the generator below never starts
    if (res.destroyed) return;
    writeHead(req, res, status, headers);
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let i = 0; i < rs.length; i++) {
        if (heads[i]) yield heads[i]!;
        const body = i === 0 ? first : await catalog.openRange(e, rs[i]!);
        try {
          for await (const c of body) yield c as Buffer;
        } finally {
          body.destroy();
        }
      }
      if (heads[rs.length]) yield heads[rs.length]!;
    }
    pipeline(Readable.from(chunks(), { objectMode: false }), res as NodeJS.WritableStream, () => {
      /* errors and aborts end the response */
    });
  }, failed);
}

/** Run `write` with the body of a cacheable entry, from memory or after one coalesced read. */
function withBody(catalog: FileCatalog, e: FileEntry, res: AnyResponse, write: (buf: Buffer) => void): void {
  const hit = catalog.hotBody(e.key);
  if (hit !== undefined) return write(hit);
  catalog.body(e).then(write, (err: Error) => res.destroy(err));
}

/**
 * Stream byte ranges of a file with backpressure. `heads[i]` (multipart part headers) is written
 * before range i and `heads[ranges.length]` after the last. Destroying the response (client abort)
 * ends the generator, whose `finally` closes the file descriptor at once.
 */
function streamRanges(res: AnyResponse, e: FileEntry, ranges: ByteRange[], heads: Buffer[], chunkBytes: number): void {
  async function* chunks(): AsyncGenerator<Buffer> {
    const fh = await open(e.file, 'r');
    try {
      for (let i = 0; i < ranges.length; i++) {
        if (heads[i]) yield heads[i]!;
        const r = ranges[i]!;
        let pos = r.start;
        while (pos <= r.end) {
          const want = Math.min(chunkBytes, r.end - pos + 1);
          const { bytesRead, buffer } = await fh.read(Buffer.allocUnsafe(want), 0, want, pos);
          if (bytesRead === 0) throw new Error(`file ${e.file} shrank while streaming`);
          pos += bytesRead;
          yield bytesRead === want ? buffer : buffer.subarray(0, bytesRead);
        }
      }
      if (heads[ranges.length]) yield heads[ranges.length]!;
    } finally {
      await fh.close();
    }
  }
  pipeline(Readable.from(chunks(), { objectMode: false }), res as NodeJS.WritableStream, () => {
    /* errors and aborts end the response; nothing more to do */
  });
}

/**
 * True when the request has a Range or any If-* header (RFC 9110 §13.1, §14.2), found by scanning
 * the raw header names — cheaper than materialising `req.headers` on every request.
 */
function hasConditionalHeaders(raw: string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    const c0 = n.charCodeAt(0) | 0x20;
    if (c0 === 0x69 /* i */ && (n.charCodeAt(1) | 0x20) === 0x66 /* f */ && n.charCodeAt(2) === 0x2d /* - */) return true;
    if (c0 === 0x72 /* r */ && n.length === 5 && n.toLowerCase() === 'range') return true;
  }
  return false;
}

const BODY_HEADERS = new Set(['content-type', 'content-length', 'accept-ranges', 'last-modified']);

/** Header list minus representation-body headers (for 304/412/416). */
function withoutBodyHeaders(headers: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!BODY_HEADERS.has(headers[i]!.toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
  }
  return out;
}

/**
 * Headers for 412 and 416. They describe one request's conditions, not the object, so they must
 * not carry the object's long `max-age`: RFC 9111 §3 lets a cache store any final response with
 * explicit freshness, and a stored 416 would then answer plain GETs of a year-immutable segment.
 */
function errorHeaders(headers: string[]): string[] {
  return replaceHeader(withoutBodyHeaders(headers), 'Cache-Control', 'no-store');
}

function replaceHeader(headers: string[], name: string, value: string): string[] {
  const out = [...headers];
  for (let i = 0; i < out.length; i += 2) if (out[i] === name) out[i + 1] = value;
  return out;
}
