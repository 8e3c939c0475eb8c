/**
 * One RTSP client connection (RFC 2326 §1.4, §9–10; RFC 7826): TCP, or TLS for rtsps://
 * (RFC 7826 §19.2), carrying requests with CSeq (§12.17), the Session header once a SETUP set it
 * (§12.37), credentials after a 401 (§15: HTTP authentication, digest-client.ts) and the
 * `$`-interleaved RTP/RTCP of the session (§10.12), which goes to `onData`. Requests are answered
 * in order; a response is matched by its CSeq. Framing is rtsp-message.ts's bounded reader: a
 * header block or body over its limits, or bytes that are no RTSP, end the connection with
 * LIVE_SOURCE_PROTOCOL. Errors name the source by its masked URL only.
 */
import net from 'node:net';
import tls from 'node:tls';
import { fail, isStromError, type StromError } from '../../errors.js';
import { ClientAuth, parseChallenges, type Credentials } from './digest-client.js';
import { RtspReader, rtspResponse, type RtspResponse } from './rtsp-message.js';

/** Header block bytes a source may send in one response. */
export const MAX_RESPONSE_HEADER_BYTES = 16 * 1024;
/** How long a last request (TEARDOWN) may take to be written before the socket is destroyed. */
const LAST_REQUEST_MS = 1_000;
/** Interleaved bytes kept for a handler not set yet (what a camera sends right behind the PLAY answer). */
const MAX_EARLY_BYTES = 256 * 1024;
const USER_AGENT = 'Strom';

/** How to reach a source. */
export interface RtspClientOptions {
  url: URL;
  /** The URL as errors show it (masked). */
  display: string;
  /** Response bodies (the SDP) larger than this end the connection. */
  maxBodyBytes: number;
  /** rtsps://: verify the server's certificate (default true). */
  tlsVerify?: boolean;
  /** The time budget a LIVE_SOURCE_TIMEOUT names (default: the request's own timeout). */
  budgetMs?: number;
}

interface Pending {
  cseq: number;
  resolve: (r: RtspResponse) => void;
  reject: (e: StromError) => void;
  timer: NodeJS.Timeout;
}

/** An open RTSP connection to a server. */
export class RtspClient {
  /** Interleaved data that came before a handler was set (with the PLAY answer, in the same read). */
  private early: Array<[number, Buffer]> | null = [];
  private earlyBytes = 0;
  private dataHandler: (channel: number, data: Buffer) => void = (channel, data) => {
    if (this.early === null || this.earlyBytes + data.length > MAX_EARLY_BYTES) return;
    this.early.push([channel, data]);
    this.earlyBytes += data.length;
  };
  /** Called once when the connection ends (by the server, an error, or `close`). */
  onEnd: (why: StromError) => void = () => {};
  /** The Session id a SETUP answered, and its timeout in ms (RFC 2326 §12.37: 60 s when not given). */
  session: string | null = null;
  sessionTimeoutMs = 60_000;
  /** Bytes received, RTSP and interleaved data alike. */
  bytesIn = 0;
  private readonly reader: RtspReader;
  private readonly pending: Pending[] = [];
  private cseq = 0;
  private auth: ClientAuth | null = null;
  private ended: StromError | null = null;

  private constructor(private readonly socket: net.Socket, private readonly o: RtspClientOptions, private readonly creds: Credentials | null) {
    this.reader = new RtspReader({ maxHeaderBytes: MAX_RESPONSE_HEADER_BYTES, maxBodyBytes: o.maxBodyBytes });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onChunk(chunk));
    socket.on('error', () => {}); // 'close' follows
    socket.on('close', () => this.end(fail('LIVE_SOURCE_UNREACHABLE', o.display, 'the source closed the connection')));
  }

  /** Open the TCP (or TLS) connection; rejects with LIVE_SOURCE_UNREACHABLE / LIVE_SOURCE_TIMEOUT. */
  static open(o: RtspClientOptions, timeoutMs: number): Promise<RtspClient> {
    const secure = o.url.protocol.toLowerCase() === 'rtsps:';
    const host = o.url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(o.url.port || (secure ? 322 : 554));
    const user = decodeURIComponent(o.url.username);
    const creds = user !== '' || o.url.password !== '' ? { user, password: decodeURIComponent(o.url.password) } : null;
    return new Promise((resolve, reject) => {
      const socket = secure
        ? tls.connect({ host, port, servername: net.isIP(host) === 0 ? host : undefined, rejectUnauthorized: o.tlsVerify !== false })
        : net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(fail('LIVE_SOURCE_TIMEOUT', o.display, `${secure ? 'TLS' : 'TCP'} connection`, o.budgetMs ?? timeoutMs));
      }, timeoutMs);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        reject(fail('LIVE_SOURCE_UNREACHABLE', o.display, err.code ?? err.message));
      });
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RtspClient(socket, o, creds));
      });
    });
  }

  /**
   * Where interleaved data (channel, packet) goes; the payload is a view of the read buffer. Data
   * that arrived before the first handler was set is handed to it at once.
   */
  set onData(h: (channel: number, data: Buffer) => void) {
    this.dataHandler = h;
    const early = this.early ?? [];
    this.early = null;
    this.earlyBytes = 0;
    for (const [channel, data] of early) h(channel, data);
  }

  /** The server's address (IPv4-mapped addresses as plain IPv4). */
  get remoteAddress(): string {
    return (this.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  }

  /** Whether the connection has ended. */
  get closed(): boolean {
    return this.ended !== null;
  }

  /**
   * Send a request and wait for its answer (any status). A 401 is retried once with the URL's
   * credentials (and once more for a `stale` Digest nonce); a second 401 is returned as is.
   * Rejects when no answer comes within `timeoutMs` (LIVE_SOURCE_TIMEOUT) or the connection ends.
   */
  async request(method: string, uri: string, timeoutMs: number, headers: ReadonlyArray<[string, string]> = []): Promise<RtspResponse> {
    let res = await this.send(method, uri, timeoutMs, headers);
    let sent = this.auth !== null; // this request already carried credentials
    for (let tries = 0; res.status === 401 && this.creds !== null && tries < 2; tries++) {
      const [best] = parseChallenges(res.authenticate);
      if (best === undefined || (sent && best.params.get('stale')?.toLowerCase() !== 'true')) break;
      this.auth = new ClientAuth(best, this.creds);
      sent = true;
      res = await this.send(method, uri, timeoutMs, headers);
    }
    return res;
  }

  /** Write interleaved bytes (RTCP over TCP); dropped when the connection is gone. */
  write(b: Buffer): void {
    if (this.ended === null) this.socket.write(b);
  }

  /**
   * Send a last request (TEARDOWN) without waiting for its answer, then close: the socket ends
   * once the request is written and is destroyed after LAST_REQUEST_MS if the server keeps it open.
   */
  closeWith(method: string, uri: string): void {
    if (this.ended !== null) return;
    const head = this.head(method, uri, []);
    this.end(fail('LIVE_SOURCE_UNREACHABLE', this.o.display, 'closed'), () => {
      this.socket.end(head, 'latin1');
      setTimeout(() => this.socket.destroy(), LAST_REQUEST_MS).unref();
    });
  }

  /** Close the connection (idempotent); pending requests reject. */
  close(reason = 'closed'): void {
    this.end(fail('LIVE_SOURCE_UNREACHABLE', this.o.display, reason));
  }

  private send(method: string, rawUri: string, timeoutMs: number, headers: ReadonlyArray<[string, string]>): Promise<RtspResponse> {
    if (this.ended !== null) return Promise.reject(this.ended);
    const head = this.head(method, rawUri, headers);
    const cseq = this.cseq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.pending.findIndex((p) => p.cseq === cseq);
        if (i >= 0) this.pending.splice(i, 1);
        reject(fail('LIVE_SOURCE_TIMEOUT', this.o.display, `an answer to ${method}`, this.o.budgetMs ?? timeoutMs));
      }, timeoutMs);
      this.pending.push({ cseq, resolve, reject, timer });
      this.socket.write(head, 'latin1');
    });
  }

  /** The head of the next request (it takes the next CSeq). */
  private head(method: string, rawUri: string, headers: ReadonlyArray<[string, string]>): string {
    const uri = safeUri(rawUri);
    const all: Array<[string, string]> = [['CSeq', String(++this.cseq)], ['User-Agent', USER_AGENT]];
    if (this.session !== null) all.push(['Session', this.session]);
    if (this.auth !== null) all.push(['Authorization', this.auth.header(method, uri)]);
    return requestHead(method, uri, [...all, ...headers]);
  }

  private onChunk(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    let items;
    try {
      items = this.reader.push(chunk);
    } catch (err) {
      if (!isStromError(err)) throw err;
      return this.end(fail('LIVE_SOURCE_PROTOCOL', this.o.display, err.message));
    }
    for (const item of items) {
      if (this.ended !== null) return;
      if (item.type === 'data') this.dataHandler(item.channel, item.data);
      else if (item.type === 'response') this.answered(item);
      else {
        // A server's own request (RFC 2326 §10: ANNOUNCE, GET_PARAMETER…): Strom answers that it does not implement it.
        const cseq = item.request.headers.get('cseq');
        this.socket.write(rtspResponse(501, cseq === undefined ? [] : [['CSeq', cseq]]));
      }
    }
  }

  private answered(r: RtspResponse): void {
    const cseq = r.headers.get('cseq');
    const i = cseq === undefined ? 0 : this.pending.findIndex((p) => String(p.cseq) === cseq.trim()); // no CSeq: the oldest request
    const p = this.pending[i];
    if (p === undefined) return;
    this.pending.splice(i, 1);
    clearTimeout(p.timer);
    const s = r.headers.get('session');
    if (s !== undefined && r.status < 300) {
      const [id = '', ...params] = s.split(';').map((x) => x.trim());
      this.session = id.slice(0, 256);
      const t = Number(/^timeout=(\d{1,6})$/i.exec(params.find((x) => /^timeout=/i.test(x)) ?? '')?.[1]);
      if (t > 0) this.sessionTimeoutMs = t * 1000;
    }
    p.resolve(r);
  }

  private end(why: StromError, close: () => void = () => this.socket.destroy()): void {
    if (this.ended !== null) return;
    this.ended = why;
    close();
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(why);
    }
    this.onEnd(why);
  }
}

/** A URI fit for a request line: whitespace (from an SDP's control attribute) percent-encoded. */
export function safeUri(uri: string): string {
  return uri.replace(/\s/g, encodeURIComponent);
}

/**
 * A request's head, blank line included. Values that came from the server (Session, a Digest
 * realm or nonce, a control URL) cannot break its lines: CR and LF become spaces.
 */
export function requestHead(method: string, uri: string, headers: ReadonlyArray<[string, string]>): string {
  let head = `${method} ${safeUri(uri)} RTSP/1.0\r\n`;
  for (const [k, v] of headers) head += `${k}: ${v.replace(/[\r\n]/g, ' ')}\r\n`;
  return `${head}\r\n`;
}
