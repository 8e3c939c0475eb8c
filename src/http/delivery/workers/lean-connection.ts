/**
 * One keep-alive connection on the lean HTTP/1.1 path (lean-http1.ts): reads, finds complete
 * request heads (pipelined ones too), asks the server to answer each, and hands the connection to
 * node:http — with every unanswered byte — the first time a request is not for this path. Its
 * listeners are created once per connection and a request allocates no closure: an asynchronous
 * answer (metadata or body read) leaves its place in `waitBuf`/`waitAt`/`waitNext`, and the server
 * calls resume() or giveUp() when it is done.
 */
import type { Socket } from 'node:net';
import { parseLeanRequest } from './lean-request.js';

/** Longest head answered here; a longer one (or one split over reads) goes to node:http. */
const MAX_HEAD = 8192;

/** What a connection needs from the lean server that owns it. */
export interface LeanServer {
  /** The server is stopping: answer nothing more, end idle connections. */
  readonly isClosing: boolean;
  /** node:http's keepAliveTimeout: how long a connection may wait for its next request. */
  readonly keepAliveMs: number;
  /** How long a response may make no progress (a stalled reader) before the socket is dropped. */
  readonly idleMs: number;
  /**
   * Answer one request that arrived at `t0` (performance.now(), read once per chunk): 'yes' =
   * answered; 'async' = conn.resume() or conn.giveUp() follows; 'no' = node:http must answer.
   */
  answer(conn: LeanConnection, method: string, path: string, t0: number): 'yes' | 'async' | 'no';
  /** The connection left the lean path: closed (`rest` null) or handed to node:http with `rest`. */
  forget(conn: LeanConnection, rest: Buffer | null): void;
}

/** One connection on the lean path. */
export class LeanConnection {
  /** Bytes read while an asynchronous answer is being prepared. */
  private pending: Buffer | null = null;
  /** Waiting for an asynchronous answer (metadata or body read). */
  private busy = false;
  private gone = false;
  private stalled = false;
  private waitBuf: Buffer | null = null;
  private waitAt = 0;
  private waitNext = 0;
  private readonly onData = (d: Buffer): void => {
    if (this.stalled) {
      this.stalled = false;
      this.socket.setTimeout(this.server.keepAliveMs);
    }
    if (this.busy) this.pending = this.pending === null ? d : Buffer.concat([this.pending, d]);
    else this.run(d);
  };
  private readonly onTimeout = (): void => {
    // Idle between requests: node:http's keepAliveTimeout. Still answering: allow idleMs more.
    if ((this.busy || this.socket.writableLength > 0) && !this.stalled) {
      this.stalled = true;
      this.socket.setTimeout(this.server.idleMs);
      return;
    }
    this.socket.destroy();
  };
  private readonly onError = (): void => {
    /* reset by the peer: 'close' follows */
  };
  private readonly onClose = (): void => {
    this.server.forget(this, null);
  };

  /** The peer's address, read once (the getter costs a lookup per call). */
  readonly remoteAddress: string;

  constructor(private readonly server: LeanServer, readonly socket: Socket) {
    this.remoteAddress = socket.remoteAddress ?? '';
  }

  /** True while an asynchronous answer is being prepared (a stopping server ends it afterwards). */
  get isBusy(): boolean {
    return this.busy;
  }

  /** The head of the request being answered (latin1 text), for the fields `answer` does not get. */
  currentHead(): string {
    return this.waitBuf === null ? '' : this.waitBuf.toString('latin1', this.waitAt, this.waitNext);
  }

  /** Begin serving; `head` = bytes the router already read from the socket. */
  start(head: Buffer): void {
    const s = this.socket;
    s.setNoDelay(true);
    s.setTimeout(this.server.keepAliveMs);
    s.on('data', this.onData);
    s.on('timeout', this.onTimeout);
    s.on('error', this.onError);
    s.once('close', this.onClose);
    s.resume(); // the router paused it after reading `head`
    this.run(head);
  }

  /** The asynchronous answer was written: go on with what followed it. */
  resume(): void {
    this.busy = false;
    if (this.server.isClosing) return void this.socket.end();
    const rest = this.waitBuf!.subarray(this.waitNext);
    const more = this.pending;
    this.pending = null;
    this.waitBuf = null;
    const all = more === null ? rest : Buffer.concat([rest, more]);
    this.socket.resume();
    if (all.length > 0 && !this.gone) this.run(all);
  }

  /** The asynchronous answer cannot be given here: node:http takes the request and the rest. */
  giveUp(): void {
    const from = this.waitBuf!.subarray(this.waitAt);
    this.waitBuf = null;
    this.release(this.pending === null ? from : Buffer.concat([from, this.pending]));
  }

  /** Answer every complete request in `buf` (pipelining), or hand the connection over. */
  private run(buf: Buffer): void {
    const text = buf.toString('latin1'); // one char per byte: offsets in text are offsets in buf
    const t0 = performance.now();
    let at = 0;
    while (at < buf.length) {
      if (this.server.isClosing) return this.release(buf.subarray(at));
      const end = text.indexOf('\r\n\r\n', at);
      if (end < 0 || end - at > MAX_HEAD) return this.release(buf.subarray(at));
      const req = parseLeanRequest(text, at, end);
      if (req === null) return this.release(buf.subarray(at));
      this.waitBuf = buf;
      this.waitAt = at;
      this.waitNext = end + 4;
      const answered = this.server.answer(this, req.method, req.path, t0);
      if (answered === 'async') {
        this.busy = true;
        this.socket.pause();
        return;
      }
      this.waitBuf = null;
      if (answered === 'no') return this.release(buf.subarray(at));
      at = end + 4;
    }
    if (this.server.isClosing) this.socket.end(); // after the responses just written
  }

  /** Leave the lean path: node:http reads `rest` first and serves the connection from now on. */
  private release(rest: Buffer): void {
    this.gone = true;
    const s = this.socket;
    s.removeListener('data', this.onData);
    s.removeListener('timeout', this.onTimeout);
    s.removeListener('error', this.onError);
    s.removeListener('close', this.onClose);
    s.setTimeout(0);
    s.pause();
    this.server.forget(this, rest);
  }
}
