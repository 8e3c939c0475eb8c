/**
 * The lean HTTP/1.1 path for player connections (benchmark scenario c). A small response
 * through `node:http` and the full handler costs ~25 µs of CPU; answered on the socket directly it
 * costs ~9 µs (a bare socket server: ~7.8 µs, nginx ~7–7.8 µs; bench/delivery/cpu-per-request.sh),
 * and on a 2-core box that decides whether Strom reaches nginx. So a connection the router gives
 * to delivery is first read here, and the one request shape players send all the time is
 * answered with one write:
 *
 *   `GET|HEAD /v/<asset>/<path> HTTP/1.1`, exactly one Host, no Range / If-* / CMCD / body /
 *   Expect / Upgrade, `Connection` absent or `keep-alive`, a public asset, an object whose body is
 *   (or becomes, after one coalesced read) in the hot cache → `200` with the entry's precomputed
 *   headers plus Date and the keep-alive fields node:http would add (RFC 9110 §6.6.1, RFC 9112 §9.3).
 *
 * Anything else — another method or version, a query, a conditional or ranged request, a signed
 * asset, a 404, a head split over two reads, an odd header line — is not parsed further: the
 * connection is handed, with every unanswered byte pushed back, to the node:http server (llhttp
 * and the full delivery handler) for the rest of its life. Nothing is ever answered here that
 * node:http would answer differently; when in doubt, it is not answered here.
 */
import type { Socket } from 'node:net';
import type { Delivery } from '../delivery-handler.js';
import type { FileEntry } from '../file-catalog.js';
import { parseAssetPath } from '../safe-path.js';
import type { LeanConnection } from './lean-connection.js';
import { LeanServerBase, type LeanServerOptions } from './lean-server-base.js';

/** What the lean path needs from its process. */
export interface LeanContext extends LeanServerOptions {
  delivery: Delivery;
  /** False when the asset needs the full guard (signed playback). */
  isPublic(assetId: string): boolean;
  /** Per-request admission (the media rate limit) of the peer `ip` at wall-clock `now`; throws to refuse, and node:http then answers. */
  admit(ip: string, now: number): void;
  /** One response written (for metrics and the sampled access log). */
  done(method: string, path: string, status: number, bytes: number, ms: number): void;
}

/** Pre-serialised status line + object headers of an entry (everything but Date and keep-alive). */
const heads = new WeakMap<FileEntry, Buffer>();
function headOf(e: FileEntry): Buffer {
  let h = heads.get(e);
  if (h === undefined) {
    let s = 'HTTP/1.1 200 OK\r\n';
    for (let i = 0; i < e.fullHeaders.length; i += 2) s += `${e.fullHeaders[i]}: ${e.fullHeaders[i + 1]}\r\n`;
    h = Buffer.from(s, 'latin1');
    heads.set(e, h);
  }
  return h;
}

/** Bodies up to this size are sent as one pre-assembled response buffer, rebuilt once per Date second. */
const ASSEMBLE_MAX = 16 * 1024;
/** Whole responses of small objects: valid while `tail` (the Date line) is the current one. */
const whole = new WeakMap<FileEntry, { tail: Buffer; buf: Buffer }>();


/** Serves handed-over delivery connections until one needs node:http. */
export class LeanHttp1 extends LeanServerBase {
  constructor(private readonly c: LeanContext) {
    super(c);
  }

  answer(conn: LeanConnection, method: string, path: string, t0: number): 'yes' | 'async' | 'no' {
    const now = t0 + this.wallOffset;
    const { catalog } = this.c.delivery;
    const e = catalog.peek(path, now);
    if (e === undefined) {
      let p;
      try {
        p = parseAssetPath(path, '/v/');
      } catch {
        return 'no';
      }
      if (!this.c.isPublic(p.assetId)) return 'no';
      catalog.load(path, p).then((loaded) => (loaded === null || !catalog.cacheable(loaded) ? conn.giveUp() : this.retry(conn, method, path, t0)), () => conn.giveUp());
      return 'async';
    }
    if (!catalog.cacheable(e) || !this.c.isPublic(e.assetId)) return 'no';
    if (e.kind.playlist && e.hints === undefined) {
      this.c.delivery.prepare(e).then(() => this.retry(conn, method, path, t0), () => conn.giveUp());
      return 'async';
    }
    if (e.kind.playlist && e.hints!.length > 0) return 'no'; // 103 Early Hints: node:http's writeEarlyHints
    const socket = conn.socket;
    try {
      this.c.admit(conn.remoteAddress, now);
    } catch {
      return 'no';
    }
    if (method === 'HEAD') return this.write(socket, e, null, method, path, t0, now);
    const hit = catalog.hotBody(e.key);
    if (hit !== undefined) return this.write(socket, e, hit, method, path, t0, now);
    catalog.bodyForSend(e).then(({ buf, release }) => {
      if (socket.destroyed) return release();
      this.write(socket, e, buf, method, path, t0, performance.now() + this.wallOffset, release);
      conn.resume();
    }, () => conn.giveUp());
    return 'async';
  }

  private retry(conn: LeanConnection, method: string, path: string, t0: number): void {
    if (conn.socket.destroyed) return;
    const r = this.answer(conn, method, path, t0);
    if (r === 'yes') conn.resume();
    else if (r === 'no') conn.giveUp();
  }

  /** Write one response; `release` runs once the socket no longer needs `body` (pooled buffers). */
  private write(socket: Socket, e: FileEntry, body: Buffer | null, method: string, path: string, t0: number, now: number, release?: () => void): 'yes' {
    const tail = this.dateAndConnection(now);
    if (body !== null && release === undefined && body.length <= ASSEMBLE_MAX) {
      // A small cached object (playlists, init segments): one buffer, one write.
      let w = whole.get(e);
      if (w === undefined || w.tail !== tail) {
        w = { tail, buf: Buffer.concat([headOf(e), tail, body]) };
        whole.set(e, w);
      }
      socket.write(w.buf);
      this.c.done(method, path, 200, w.buf.length, performance.now() - t0);
      return 'yes';
    }
    const head = headOf(e);
    socket.cork();
    socket.write(head);
    socket.write(tail);
    if (body !== null) socket.write(body, release === undefined ? undefined : () => release());
    socket.uncork();
    this.c.done(method, path, 200, head.length + tail.length + (body === null ? 0 : body.length), performance.now() - t0);
    return 'yes';
  }
}
