/**
 * RTSP message framing on a TCP connection (RFC 2326 §6–7, §10.12; RFC 7826 §8, §14): requests
 * (request line, headers, a body of Content-Length bytes) interleaved with `$`-framed binary
 * data (1-byte `$`, channel, 16-bit length: RTP/RTCP over the RTSP connection). The reader is
 * incremental and bounded: a header block over `maxHeaderBytes` or a body over `maxBodyBytes`
 * is an error before it is buffered, so a client cannot make the server hold more. A framing error
 * is thrown as a catalog error (RTSP_PROTOCOL → 400, RTSP_LIMIT → 413); after it the connection's
 * byte stream cannot be trusted, so the caller answers and closes.
 */
import { fail } from '../../errors.js';

/** One parsed request. */
export interface RtspRequest {
  method: string;
  uri: string;
  /** `RTSP/1.0` (or `RTSP/2.0`, refused by the server with 505). */
  version: string;
  /** Header fields, names lower-cased; a repeated field keeps its first value. */
  headers: Map<string, string>;
  body: Buffer;
}

/** One parsed response (what a server answers Strom's RTSP client, or a client answering a server request). */
export interface RtspResponse {
  status: number;
  /** Header fields as for requests. */
  headers: Map<string, string>;
  /** Every `WWW-Authenticate` value (a server may offer several schemes, one field each). */
  authenticate: string[];
  body: Buffer;
}

/** What the reader yields: a request, a response, or interleaved data. */
export type RtspItem = { type: 'request'; request: RtspRequest } | ({ type: 'response' } & RtspResponse) | { type: 'data'; channel: number; data: Buffer };

/** Limits of the reader. */
export interface RtspReaderLimits {
  maxHeaderBytes: number;
  maxBodyBytes: number;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/; // RFC 7826 §20.1 token (method names)

/** Incremental reader of one connection's bytes. */
export class RtspReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly limits: RtspReaderLimits) {}

  /** Bytes held waiting for the rest of a message. */
  get buffered(): number {
    return this.buf.length;
  }

  /** Add bytes; returns the complete items they finish. Throws RTSP_PROTOCOL / RTSP_LIMIT. */
  push(chunk: Buffer): RtspItem[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: RtspItem[] = [];
    for (;;) {
      const item = this.next();
      if (item === null) break;
      out.push(item);
    }
    return out;
  }

  private next(): RtspItem | null {
    const b = this.buf;
    if (b.length === 0) return null;
    if (b[0] === 0x24) { // '$' interleaved frame (RFC 2326 §10.12)
      if (b.length < 4) return null;
      const len = b.readUInt16BE(2);
      if (b.length < 4 + len) return null;
      this.buf = b.subarray(4 + len);
      return { type: 'data', channel: b[1]!, data: b.subarray(4, 4 + len) };
    }
    if (b[0] === 0x0d || b[0] === 0x0a) { // stray CRLF between messages (keep-alives of some clients)
      this.buf = b.subarray(1);
      return this.next();
    }
    const end = headerEnd(b, this.limits.maxHeaderBytes);
    if (end === null) {
      if (b.length > this.limits.maxHeaderBytes) throw fail('RTSP_LIMIT', 'header block bytes', b.length, this.limits.maxHeaderBytes);
      return null;
    }
    if (end.at > this.limits.maxHeaderBytes) throw fail('RTSP_LIMIT', 'header block bytes', end.at, this.limits.maxHeaderBytes);
    const lines = b.subarray(0, end.at).toString('latin1').split(/\r?\n/);
    const first = lines[0]!;
    const headers = new Map<string, string>();
    const authenticate: string[] = [];
    for (const line of lines.slice(1)) {
      if (line === '') continue;
      const colon = line.indexOf(':');
      if (colon <= 0 || !TOKEN.test(line.slice(0, colon).trim())) throw fail('RTSP_PROTOCOL', `malformed header line ${JSON.stringify(line.slice(0, 80))}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      if (name === 'www-authenticate' && authenticate.length < 8) authenticate.push(line.slice(colon + 1).trim());
      if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
    }
    const cl = headers.get('content-length') ?? '0';
    if (!/^\d{1,10}$/.test(cl)) throw fail('RTSP_PROTOCOL', `Content-Length ${JSON.stringify(cl.slice(0, 20))} is not a number`);
    const bodyLen = Number(cl);
    if (bodyLen > this.limits.maxBodyBytes) throw fail('RTSP_LIMIT', 'body bytes', bodyLen, this.limits.maxBodyBytes);
    if (b.length < end.after + bodyLen) return null;
    const body = Buffer.from(b.subarray(end.after, end.after + bodyLen)); // copied: the connection buffer moves on
    this.buf = b.subarray(end.after + bodyLen);
    const parts = first.split(' ');
    if (first.startsWith('RTSP/')) {
      const status = Number(parts[1]);
      if (!/^\d{3}$/.test(parts[1] ?? '')) throw fail('RTSP_PROTOCOL', `malformed status line ${JSON.stringify(first.slice(0, 80))}`);
      return { type: 'response', status, headers, authenticate, body };
    }
    if (parts.length !== 3 || !TOKEN.test(parts[0]!) || parts[1] === '' || !/^RTSP\/\d\.\d$/.test(parts[2]!)) throw fail('RTSP_PROTOCOL', `malformed request line ${JSON.stringify(first.slice(0, 80))}`);
    return { type: 'request', request: { method: parts[0]!, uri: parts[1]!, version: parts[2]!, headers, body } };
  }
}

/** Where the header block ends (`at`: its length without the blank line; `after`: where the body starts), or null. */
function headerEnd(b: Buffer, limit: number): { at: number; after: number } | null {
  const scan = Math.min(b.length, limit + 4);
  for (let i = 0; i < scan; i++) {
    if (b[i] !== 0x0a) continue;
    if (b[i + 1] === 0x0a) return { at: i, after: i + 2 }; // bare LF, as some clients write
    if (b[i + 1] === 0x0d && b[i + 2] === 0x0a) return { at: i > 0 && b[i - 1] === 0x0d ? i - 1 : i, after: i + 3 };
  }
  return null;
}

/** Reason phrases of the status codes Strom sends (RFC 2326 §7.1.1). */
const REASONS: Record<number, string> = {
  200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 409: 'Conflict', 413: 'Request Entity Too Large', 415: 'Unsupported Media Type', 429: 'Too Many Requests', 451: 'Parameter Not Understood',
  453: 'Not Enough Bandwidth', 454: 'Session Not Found', 455: 'Method Not Valid in This State', 459: 'Aggregate Operation Not Allowed',
  461: 'Unsupported Transport', 500: 'Internal Server Error', 501: 'Not Implemented', 503: 'Service Unavailable', 505: 'RTSP Version Not Supported',
};

/** Serialize a response; `headers` in order, Content-Length added for a body. */
export function rtspResponse(status: number, headers: ReadonlyArray<[string, string]>, body: Buffer | string = ''): Buffer {
  const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  let head = `RTSP/1.0 ${status} ${REASONS[status] ?? 'Error'}\r\n`;
  for (const [k, v] of headers) head += `${k}: ${v.replace(/[\r\n]/g, ' ')}\r\n`;
  if (payload.length > 0) head += `Content-Length: ${payload.length}\r\n`;
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), payload]);
}

/** The 4-byte header of an interleaved frame (RFC 2326 §10.12) carrying `length` bytes on `channel`. */
export function interleavedPrefix(channel: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out[0] = 0x24;
  out[1] = channel;
  out.writeUInt16BE(length, 2);
  return out;
}

/** An interleaved frame (`$`, channel, length, data) carrying one RTP or RTCP packet over TCP. */
export function interleavedFrame(channel: number, packet: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + packet.length);
  out[0] = 0x24;
  out[1] = channel;
  out.writeUInt16BE(packet.length, 2);
  packet.copy(out, 4);
  return out;
}
