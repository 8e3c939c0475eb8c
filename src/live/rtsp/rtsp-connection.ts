/**
 * One RTSP client connection: framing (rtsp-message.ts), one request at a time in arrival order
 * (RFC 2326 §9.1 pipelining is allowed; answering in order keeps CSeq order), the session it
 * creates (rtsp-session.ts), and the `$`-interleaved RTP/RTCP of that session. The methods are in
 * rtsp-methods.ts. A framing error is answered (400 or 413) and the connection closed: its byte
 * stream cannot be trusted any more. A request without CSeq is answered 400 and the connection
 * goes on. Requests queued behind a slow one are bounded (MAX_PENDING), as is everything the
 * reader buffers.
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import { isStromError } from '../../errors.js';
import { RtspReader, rtspResponse, type RtspRequest } from './rtsp-message.js';
import { handleRequest, type MethodContext } from './rtsp-methods.js';
import type { RtspAnswer, RtspClient, RtspSession, SessionRole } from './rtsp-session.js';

/** Requests waiting for the one being answered; more closes the connection. */
const MAX_PENDING = 16;
/** Methods counted by name in metrics; anything else is `OTHER` (bounded label values). */
const KNOWN = new Set(['OPTIONS', 'DESCRIBE', 'ANNOUNCE', 'SETUP', 'PLAY', 'PAUSE', 'RECORD', 'TEARDOWN', 'GET_PARAMETER', 'SET_PARAMETER']);

/** One client connection. */
export class RtspConnection implements RtspClient {
  session: RtspSession | null = null;
  /** Interleaved channel → the set-up track and whether it carries RTCP. */
  readonly channels = new Map<number, { index: number; rtcp: boolean }>();
  /** Called when the socket drains after a full write (a playing reader resumes). */
  onDrain: (() => void) | null = null;
  /** The publishing role an ANNOUNCE set up, with each SDP media's `a=control`, until SETUP makes it a session. */
  announced: { role: Extract<SessionRole, { kind: 'publish' }>; controls: string[] } | null = null;
  /** The reading role of the last DESCRIBE (its tracks, as the SDP answered them). */
  described: Extract<SessionRole, { kind: 'read' }> | null = null;
  readonly remoteAddress: string;
  /** When the client last sent anything on this connection (the idle sweep reads it). */
  lastSeen = Date.now();
  private readonly reader: RtspReader;
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private closed = false;

  constructor(readonly socket: net.Socket, readonly ctx: Omit<MethodContext, 'conn'>, readonly log: Logger, private readonly onClose: (c: RtspConnection) => void) {
    this.remoteAddress = (socket.remoteAddress ?? '').replace(/^::ffff:/, ''); // IPv4-mapped: the UDP side sees the plain address
    this.reader = new RtspReader({ maxHeaderBytes: ctx.config.maxHeaderBytes, maxBodyBytes: ctx.config.maxBodyBytes });
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('drain', () => this.onDrain?.());
    socket.on('error', () => {}); // reset by peer and the like: 'close' follows
    socket.on('close', () => this.close('connection closed'));
  }

  /** The session timed out, the server shuts down, or the publisher was taken over. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.session?.end(reason);
    if (this.session !== null) this.log.info({ session: this.session.id, streamId: this.session.role.streamId, reason }, 'rtsp session ended');
    this.socket.destroy();
    this.onClose(this);
  }

  /** Hold writes until `uncork` (one writev for a batch of interleaved packets). */
  cork(): void {
    if (!this.closed) this.socket.cork();
  }

  /** Send what `cork` held. */
  uncork(): void {
    if (!this.closed) this.socket.uncork();
  }

  /** Write bytes to the client; false when the socket buffer is full (back-pressure). */
  write(b: Buffer): boolean {
    if (this.closed) return true;
    return this.socket.write(b);
  }

  /** When this connection or its session last showed life: a request, interleaved data, or UDP RTP/RTCP. */
  lastActivity(): number {
    return Math.max(this.lastSeen, this.session?.lastSeen ?? 0);
  }

  private onData(chunk: Buffer): void {
    this.lastSeen = Date.now();
    let items;
    try {
      items = this.reader.push(chunk);
    } catch (err) {
      if (!isStromError(err)) throw err;
      this.count('OTHER', err.statusCode);
      this.socket.end(rtspResponse(err.statusCode, [['Server', 'Strom']], `${err.message}\n`));
      this.log.info({ err: err.message }, 'rtsp request refused; connection closed');
      this.closed = true;
      this.session?.end(err.message);
      this.onClose(this);
      return;
    }
    for (const item of items) {
      if (item.type === 'data') {
        const ch = this.channels.get(item.channel);
        if (ch === undefined || this.session === null) continue;
        this.session.touch();
        if (this.session.publisher !== null) this.session.publisher.packet(ch.index, item.data, ch.rtcp);
      } else if (item.type === 'request') {
        if (++this.pending > MAX_PENDING) return this.close(`more than ${MAX_PENDING} requests waiting`);
        const req = item.request;
        this.chain = this.chain.then(() => this.answer(req)).finally(() => this.pending--);
      }
      // a response (to a request Strom never sends) is ignored
    }
  }

  private async answer(req: RtspRequest): Promise<void> {
    if (this.closed) return;
    const cseq = req.headers.get('cseq');
    let a: RtspAnswer;
    if (cseq === undefined || !/^\d{1,10}$/.test(cseq)) a = { status: 400, body: 'CSeq header missing or not a number\n' };
    else if (req.version !== 'RTSP/1.0') a = { status: 505, body: `${req.version} is not supported: speak RTSP/1.0\n` };
    else {
      try {
        a = await handleRequest({ ...this.ctx, conn: this }, req);
      } catch (err) {
        if (!isStromError(err)) this.log.error({ err, method: req.method }, 'rtsp request failed');
        a = isStromError(err) ? { status: err.statusCode, body: `${err.message}\n` } : { status: 500 };
      }
    }
    this.count(KNOWN.has(req.method) ? req.method : 'OTHER', a.status);
    if (a.status >= 400) this.log.info({ method: req.method, uri: req.uri.slice(0, 200), status: a.status, session: this.session?.id, why: a.body?.trim() }, 'rtsp request refused');
    const headers: Array<[string, string]> = [];
    if (cseq !== undefined) headers.push(['CSeq', cseq]);
    headers.push(['Server', 'Strom']);
    if (this.session !== null && !this.session.closed && a.status < 400) headers.push(['Session', `${this.session.id};timeout=${Math.round(this.ctx.config.sessionTimeoutMs / 1000)}`]);
    headers.push(...(a.headers ?? []));
    this.write(rtspResponse(a.status, headers, a.body ?? ''));
    a.after?.();
  }

  private count(method: string, status: number): void {
    const k = `${method} ${status}`;
    this.ctx.stats.requests[k] = (this.ctx.stats.requests[k] ?? 0) + 1;
  }
}
