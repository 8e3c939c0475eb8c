/**
 * Small HTTP clients for delivery tests. `fetch` hides what these tests need to see (1xx
 * responses, raw request lines it would normalise, exact header lists), so requests go through
 * `node:http` with no agent, or as raw bytes over a TCP socket. Also: a server starter that
 * cleans up after itself and a `multipart/byteranges` parser.
 */
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildStrom, type Strom } from '../../src/app.js';
import { testConfig, type RawSettings } from '../../src/config.js';

/** A response read completely. */
export interface FullResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Header names exactly as sent, in order, with values (rawHeaders pairs). */
  rawHeaders: string[];
  body: Buffer;
  /** 1xx responses seen before the final one. */
  informational: Array<{ status: number; headers: http.IncomingHttpHeaders }>;
}

/** Options for `request`. */
export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** One HTTP/1.1 request on a fresh connection; resolves with the whole response. */
export function request(url: string, opts: RequestOptions = {}): Promise<FullResponse> {
  return new Promise((resolve, reject) => {
    const informational: FullResponse['informational'] = [];
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks), informational }));
    });
    req.on('information', (info) => informational.push({ status: info.statusCode, headers: info.headers }));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * Write `data` as-is to a fresh TCP connection and collect every byte until the server closes
 * it (or `timeoutMs` passes, then whatever arrived is returned). The request should carry
 * `Connection: close`.
 */
export function rawRequest(port: number, data: string | Buffer, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(port, '127.0.0.1', () => sock.write(data));
    const timer = setTimeout(() => sock.destroy(), timeoutMs);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return; // server hung up: keep what came
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** One parsed message from a raw HTTP/1.x byte stream. */
export interface RawMessage {
  version: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Split a raw response stream into messages (1xx first). Bodies are delimited by Content-Length
 * (or run to the end); `headOnly` says the final response has no body (answer to HEAD).
 */
export function parseRawResponses(buf: Buffer, headOnly = false): RawMessage[] {
  const out: RawMessage[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const end = buf.indexOf('\r\n\r\n', pos);
    if (end < 0) throw new Error(`incomplete head: ${JSON.stringify(buf.subarray(pos, pos + 200).toString('latin1'))}`);
    const lines = buf.subarray(pos, end).toString('latin1').split('\r\n');
    const m = /^(HTTP\/\d\.\d) (\d{3})/.exec(lines[0] ?? '');
    if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      const name = l.slice(0, c).trim().toLowerCase();
      headers[name] = headers[name] === undefined ? l.slice(c + 1).trim() : `${headers[name]}, ${l.slice(c + 1).trim()}`;
    }
    const status = Number(m[2]);
    pos = end + 4;
    let body: Buffer = Buffer.alloc(0);
    const final = status >= 200;
    if (final && !(headOnly || status === 204 || status === 304)) {
      if (headers['content-length'] !== undefined) {
        const n = Number(headers['content-length']);
        body = buf.subarray(pos, pos + n);
        pos += n;
      } else {
        body = buf.subarray(pos);
        pos = buf.length;
      }
    }
    out.push({ version: m[1]!, status, headers, body });
    if (final) break;
  }
  return out;
}

/** One part of a multipart/byteranges body. */
export interface BytePart {
  contentType: string;
  start: number;
  end: number;
  total: number;
  body: Buffer;
}

/** Parse a `multipart/byteranges` body (RFC 9110 §14.6) given the response Content-Type. */
export function parseByteranges(contentType: string, body: Buffer): BytePart[] {
  const m = /^multipart\/byteranges;\s*boundary=("?)([^";]+)\1$/i.exec(contentType);
  if (!m) throw new Error(`not multipart/byteranges: ${contentType}`);
  const delim = Buffer.from(`--${m[2]}`);
  const parts: BytePart[] = [];
  let pos = body.indexOf(delim);
  if (pos < 0) throw new Error('no boundary in body');
  for (;;) {
    pos += delim.length;
    if (body.subarray(pos, pos + 2).toString() === '--') break; // close-delimiter
    if (body.subarray(pos, pos + 2).toString() !== '\r\n') throw new Error(`junk after boundary at ${pos}`);
    const headEnd = body.indexOf('\r\n\r\n', pos);
    const head = body.subarray(pos + 2, headEnd).toString('latin1');
    const fields = new Map(head.split('\r\n').map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const cr = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(fields.get('content-range') ?? '');
    if (!cr) throw new Error(`bad part Content-Range in ${JSON.stringify(head)}`);
    const start = Number(cr[1]);
    const end = Number(cr[2]);
    const dataStart = headEnd + 4;
    const data = body.subarray(dataStart, dataStart + end - start + 1);
    parts.push({ contentType: fields.get('content-type') ?? '', start, end, total: Number(cr[3]), body: data });
    pos = dataStart + data.length;
    if (body.subarray(pos, pos + 2).toString() !== '\r\n') throw new Error(`part not followed by CRLF at ${pos}`);
    pos += 2;
    if (body.indexOf(delim, pos) !== pos) throw new Error(`expected boundary at ${pos}`);
  }
  return parts;
}

/** A running Strom on a temp data dir. */
export interface Running {
  strom: Strom;
  url: string;
  port: number;
  dataDir: string;
  /** Close the server and remove the data dir (when it was created here). */
  stop(): Promise<void>;
}

/** Make a temp directory that `stop`/callers remove. */
export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `strom-${prefix}-`));
}

/** Build and listen on port 0 with `testConfig(overrides)`; dataDir defaults to a new temp dir. */
export async function startStrom(overrides: RawSettings = {}): Promise<Running> {
  const own = overrides.dataDir === undefined;
  const dataDir = own ? tempDir('data') : String(overrides.dataDir);
  const strom = await buildStrom(testConfig({ ...overrides, dataDir }));
  const { url, port } = await strom.listen();
  return {
    strom, url, port, dataDir,
    async stop() {
      await strom.close();
      if (own) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
