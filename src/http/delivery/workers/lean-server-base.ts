/**
 * What every lean HTTP/1.1 server shares (the origin's delivery path, lean-http1.ts, and the
 * edge's, src/edge/edge-lean.ts): the set of connections it serves, the hand-over to node:http,
 * a graceful stop, and the per-second `Date` + keep-alive tail of every response head, with a
 * wall clock read from performance.now() (one clock read per request instead of several: each
 * Date.now() is ~55 ns on this VM, where clock_gettime is a syscall rather than a vDSO read).
 * A subclass only decides what to answer (`answer`).
 */
import type { Socket } from 'node:net';
import { LeanConnection, type LeanServer } from './lean-connection.js';

/** What a lean server needs from its process. */
export interface LeanServerOptions {
  /** node:http's keepAliveTimeout: how long a connection may wait for its next request. */
  keepAliveMs: number;
  /** How long a response may make no progress (a stalled reader) before the socket is dropped. */
  idleMs: number;
  /** Give the connection to node:http with `rest` (unanswered bytes) to be read first. */
  fallback(socket: Socket, rest: Buffer): void;
}

/** Connection bookkeeping and response-head tail of a lean server. */
export abstract class LeanServerBase implements LeanServer {
  private readonly connections = new Set<LeanConnection>();
  private closing = false;
  private dateAt = 0;
  private tail: Buffer = Buffer.alloc(0);
  /** Wall clock = performance.now() + wallOffset, re-anchored to Date.now() once per second. */
  protected wallOffset = Date.now() - performance.now();

  constructor(private readonly base: LeanServerOptions) {}

  abstract answer(conn: LeanConnection, method: string, path: string, t0: number): 'yes' | 'async' | 'no';

  /** Connections currently served here. */
  size(): number {
    return this.connections.size;
  }

  /** Take a connection; `head` = bytes already read from it. */
  serve(socket: Socket, head: Buffer): void {
    if (this.closing) return this.base.fallback(socket, head);
    const conn = new LeanConnection(this, socket);
    this.connections.add(conn);
    conn.start(head);
  }

  /**
   * Stop answering: idle connections end now, busy ones after their current response; with
   * `graceMs`, any still open then (a viewer that stopped reading) are destroyed.
   */
  close(graceMs?: number): void {
    this.closing = true;
    for (const c of this.connections) if (!c.isBusy) c.socket.end();
    if (graceMs === undefined) return;
    setTimeout(() => {
      for (const c of this.connections) c.socket.destroy();
    }, graceMs).unref();
  }

  get isClosing(): boolean {
    return this.closing;
  }

  get keepAliveMs(): number {
    return this.base.keepAliveMs;
  }

  get idleMs(): number {
    return this.base.idleMs;
  }

  forget(conn: LeanConnection, rest: Buffer | null): void {
    this.connections.delete(conn);
    if (rest !== null) this.base.fallback(conn.socket, rest);
  }

  /** `Date` (cached per second, RFC 9110 §6.6.1) and the keep-alive fields node:http would send, ending the head. */
  protected dateAndConnection(now: number): Buffer {
    if (now - this.dateAt >= 1000 || now < this.dateAt) {
      const wall = Date.now();
      this.wallOffset = wall - performance.now();
      this.dateAt = wall - (wall % 1000);
      this.tail = Buffer.from(`Date: ${new Date(wall).toUTCString()}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(this.base.keepAliveMs / 1000)}\r\n\r\n`, 'latin1');
    }
    return this.tail;
  }
}
