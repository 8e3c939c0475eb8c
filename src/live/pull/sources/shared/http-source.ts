/**
 * HTTP(S) GETs of one pulled HTTP source (HLS playlists and segments, an HTTP-FLV stream). undici
 * with one Agent per source connection, destroyed with it, so no keep-alive socket outlives the
 * connection. Redirects (RFC 9110 §15.4: 301, 302, 303, 307, 308) are followed by hand, at most
 * MAX_REDIRECTS hops, so a loop ends as a protocol error. Answers map onto the LIVE_SOURCE_*
 * errors: 4xx refused (the path or the credentials are wrong: retrying cannot help), 5xx and
 * network errors unreachable; messages name URLs masked (maskSourceUrl), never their secrets.
 */
import { Agent, type Dispatcher } from 'undici';
import { fail, isStromError, type StromError } from '../../../../errors.js';
import type { SourceConnector } from '../../connector/source-connector.js';
import { maskSourceUrl, redactSource } from '../../connector/source-url.js';

/** Redirect hops followed per request. */
export const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A 2xx answer whose body is still to read. */
export interface OpenResponse {
  /** The URL that answered (after redirects): relative URIs in a playlist resolve against it. */
  url: URL;
  body: Dispatcher.ResponseData['body'];
  /** Content-Length, when sent. */
  length: number | null;
}

/** Per-request options. */
export interface GetOptions {
  signal: AbortSignal;
  /** Give up when the response head has not come in this long. */
  headersTimeoutMs: number;
  /** Give up when the body sends nothing this long (0: never). */
  bodyTimeoutMs: number;
  /** A byte range (EXT-X-BYTERANGE, RFC 8216 §4.3.2.2). */
  range?: { offset: number; length: number };
}

/** The HTTP side of one source connection. */
export class SourceHttp {
  private readonly agent = new Agent({ connections: 4 });

  /** `source` is the configured URL, named (masked) in every error. */
  constructor(private readonly source: URL) {}

  /** GET `url`, following redirects; resolves with a 2xx response, rejects with a LIVE_SOURCE_* error. */
  async open(url: URL, o: GetOptions): Promise<OpenResponse> {
    let at = url;
    for (let hop = 0; ; hop++) {
      let res: Dispatcher.ResponseData;
      try {
        const headers: Record<string, string> = { 'user-agent': 'Strom' };
        if (o.range) headers.range = `bytes=${o.range.offset}-${o.range.offset + o.range.length - 1}`;
        res = await this.agent.request({ origin: at.origin, path: at.pathname + at.search, method: 'GET', headers, signal: o.signal, headersTimeout: o.headersTimeoutMs, bodyTimeout: o.bodyTimeoutMs });
      } catch (err) {
        throw this.networkError(err, o.signal);
      }
      const status = res.statusCode;
      if (status >= 200 && status < 300) {
        const len = Number(res.headers['content-length']);
        return { url: at, body: res.body, length: Number.isFinite(len) ? len : null };
      }
      discard(res.body);
      const location = res.headers.location;
      if (REDIRECTS.has(status) && typeof location === 'string') {
        const next = URL.canParse(location, at.href) ? new URL(location, at) : null;
        if (next === null || !/^https?:$/.test(next.protocol)) throw this.error('LIVE_SOURCE_PROTOCOL', at, `HTTP ${status} to an unusable location`);
        if (hop >= MAX_REDIRECTS) throw this.error('LIVE_SOURCE_PROTOCOL', at, `more than ${MAX_REDIRECTS} redirects`);
        at = next;
        continue;
      }
      if (status >= 400 && status < 500) throw this.error('LIVE_SOURCE_REFUSED', at, `HTTP ${status}`);
      throw this.error('LIVE_SOURCE_UNREACHABLE', at, `HTTP ${status}`);
    }
  }

  /** GET the whole body of `url`; more than `limit` bytes is LIVE_SOURCE_PROTOCOL. */
  async bytes(url: URL, o: GetOptions, limit: number, received: (n: number) => void): Promise<{ url: URL; body: Buffer }> {
    const res = await this.open(url, o);
    if (res.length !== null && res.length > limit) {
      discard(res.body);
      throw this.error('LIVE_SOURCE_PROTOCOL', res.url, `${res.length} bytes, more than the ${limit} bytes allowed`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        received(chunk.length);
        if (size > limit) throw this.error('LIVE_SOURCE_PROTOCOL', res.url, `more than the ${limit} bytes allowed`);
        chunks.push(chunk);
      }
    } catch (err) {
      discard(res.body);
      throw isStromError(err) ? err : this.networkError(err, o.signal);
    }
    return { url: res.url, body: Buffer.concat(chunks, size) };
  }

  /** Close every socket of this source. */
  close(): void {
    this.agent.destroy().catch(() => undefined);
  }

  /** A catalog error about `at` (the source URL, masked, plus the URL that failed when another). */
  error(code: 'LIVE_SOURCE_PROTOCOL' | 'LIVE_SOURCE_REFUSED' | 'LIVE_SOURCE_UNREACHABLE', at: URL, why: string): StromError {
    const where = at.href === this.source.href ? '' : ` (${maskSourceUrl(at.href)})`;
    return fail(code, maskSourceUrl(this.source.href), `${why}${where}`);
  }

  private networkError(err: unknown, signal: AbortSignal): StromError {
    if (signal.aborted && isStromError(signal.reason)) return signal.reason;
    if (isStromError(err)) return err;
    const message = err instanceof Error ? err.message : String(err);
    return fail('LIVE_SOURCE_UNREACHABLE', maskSourceUrl(this.source.href), redactSource(message, this.source.href));
  }
}

/** Drop a response body (its abort error is expected, not an event to crash on). */
export function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** A connector for HTTP(S) URLs whose path ends in `suffix` (`.m3u8`, `.flv`; the query may be anything). */
export function httpConnector(name: string, suffix: string, connect: SourceConnector['connect']): SourceConnector {
  return {
    name,
    schemes: ['http', 'https'],
    accepts: (url) => url.pathname.toLowerCase().endsWith(suffix),
    validate(url) {
      if (url.hostname === '') throw fail('LIVE_SOURCE_BAD_URL', maskSourceUrl(url.href), 'no host');
    },
    connect,
  };
}
