/**
 * The lean HTTP/1.1 path for player connections (issue 2, benchmark scenario c). `node:http` costs
 * about a third more CPU per small response than answering on the socket directly (a bare
 * node:http server did ~60 k req/s here, a bare socket server ~90 k), and on a 2-core box that
 * decides whether Strom reaches nginx. So a connection the router gives to delivery is first read
 * here, and the one request shape players send all the time is answered with one write:
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

/** What the lean path needs from its process. */
export interface LeanContext {
  delivery: Delivery;
  keepAliveMs: number;
  /** How long a response may make no progress (a stalled reader) before the socket is dropped. */
  idleMs: number;
  /** False when the asset needs the full guard (signed playback). */
  isPublic(assetId: string): boolean;
  /** Per-request admission (the media rate limit); throws to refuse, and node:http then answers. */
  admit(ip: string): void;
  /** One response written (for metrics and the sampled access log). */
  done(method: string, path: string, status: number, bytes: number, ms: number): void;
  /** Give the connection to node:http with `rest` (unanswered bytes) to be read first. */
  fallback(socket: Socket, rest: Buffer): void;
}

/** Request line of the only requests answered here (RFC 9112 §3; a strict path alphabet, no query). */
const REQUEST_LINE = /^(GET|HEAD) (\/v\/[A-Za-z0-9_-]{1,64}\/[A-Za-z0-9][A-Za-z0-9._/-]{0,400}) HTTP\/1\.1$/;
/** `field-name ":" OWS field-value OWS` with a token name and no control characters (RFC 9110 §5). */
const FIELD_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*$/;
const MAX_HEAD = 8192;
const CRLF2 = Buffer.from('\r\n\r\n', 'latin1');

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

/** A parsed request this path may answer, or null to hand the connection to node:http. */
function parse(buf: Buffer, start: number, end: number): { method: string; path: string } | null {
  const lineEnd = buf.indexOf('\r\n', start);
  const m = REQUEST_LINE.exec(buf.toString('latin1', start, lineEnd));
  if (m === null || m[2]!.includes('//') || m[2]!.includes('/.')) return null;
  let hosts = 0;
  let pos = lineEnd + 2;
  while (pos < end) {
    const nl = buf.indexOf('\r\n', pos);
    const line = buf.toString('latin1', pos, nl);
    pos = nl + 2;
    if (!FIELD_LINE.test(line)) return null;
    const c0 = line.charCodeAt(0) | 0x20;
    // Only names starting with c, e, h, i, r, t, u can matter; the rest (accept, user-agent…) are ignored.
    if (c0 !== 0x63 && c0 !== 0x65 && c0 !== 0x68 && c0 !== 0x69 && c0 !== 0x72 && c0 !== 0x74 && c0 !== 0x75) continue;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    if (name === 'host') hosts++;
    else if (name === 'connection') {
      if (line.slice(colon + 1).trim().toLowerCase() !== 'keep-alive') return null;
    } else if (name.startsWith('if-') || name.startsWith('cmcd-') || name === 'range' || name === 'content-length' || name === 'transfer-encoding' || name === 'expect' || name === 'upgrade' || name === 'te' || name === 'trailer') return null;
  }
  return hosts === 1 ? { method: m[1]!, path: m[2]! } : null;
}

/** Serves handed-over delivery connections until one needs node:http. */
export class LeanHttp1 {
  private readonly sockets = new Set<Socket>();
  /** Connections waiting for an asynchronous answer (metadata or body read). */
  private readonly busy = new Set<Socket>();
  private closing = false;
  private dateAt = 0;
  private tail: Buffer = Buffer.alloc(0);

  constructor(private readonly c: LeanContext) {}

  /** Connections currently served here. */
  size(): number {
    return this.sockets.size;
  }

  /** Take a connection; `head` = bytes already read from it. */
  serve(socket: Socket, head: Buffer): void {
    if (this.closing) return this.c.fallback(socket, head);
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.c.keepAliveMs);
    let pending: Buffer | null = null; // bytes read while an asynchronous answer is being prepared
    let busy = false;
    let gone = false;
    let stalled = false;
    const release = (rest: Buffer) => {
      gone = true;
      this.sockets.delete(socket);
      this.busy.delete(socket);
      socket.removeListener('data', onData);
      socket.removeListener('timeout', onTimeout);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      socket.setTimeout(0);
      socket.pause();
      this.c.fallback(socket, rest);
    };
    const run = (buf: Buffer): void => {
      let at = 0;
      while (at < buf.length) {
        if (this.closing) return release(buf.subarray(at));
        const end = buf.indexOf(CRLF2, at);
        if (end < 0 || end - at > MAX_HEAD) return release(buf.subarray(at));
        const req = parse(buf, at, end);
        if (req === null) return release(buf.subarray(at));
        const next = end + 4;
        const answered = this.answer(socket, req.method, req.path, () => {
          // asynchronous: metadata or body was loaded; continue with what followed
          busy = false;
          this.busy.delete(socket);
          if (this.closing) return void socket.end();
          const more = pending;
          pending = null;
          const rest = buf.subarray(next);
          const all = more === null ? rest : Buffer.concat([rest, more]);
          socket.resume();
          if (all.length > 0 && !gone) run(all);
        }, () => release(pending === null ? buf.subarray(at) : Buffer.concat([buf.subarray(at), pending])));
        if (answered === 'async') {
          busy = true;
          this.busy.add(socket);
          socket.pause();
          return;
        }
        if (answered === 'no') return release(buf.subarray(at));
        at = next;
      }
      if (this.closing) socket.end(); // after the responses just written
    };
    const onData = (d: Buffer) => {
      if (stalled) {
        stalled = false;
        socket.setTimeout(this.c.keepAliveMs);
      }
      if (busy) pending = pending === null ? d : Buffer.concat([pending, d]);
      else run(d);
    };
    const onTimeout = () => {
      // Idle between requests: node:http's keepAliveTimeout. Still answering: allow idleMs more.
      if ((busy || socket.writableLength > 0) && !stalled) {
        stalled = true;
        socket.setTimeout(this.c.idleMs);
        return;
      }
      socket.destroy();
    };
    const onError = () => {
      /* reset by the peer: 'close' follows */
    };
    const onClose = () => {
      this.sockets.delete(socket);
      this.busy.delete(socket);
    };
    socket.on('data', onData);
    socket.on('timeout', onTimeout);
    socket.on('error', onError);
    socket.once('close', onClose);
    socket.resume(); // the router paused it after reading `head`
    run(head);
  }

  /** Stop answering: idle connections end now, busy ones after their current response. */
  close(): void {
    this.closing = true;
    for (const s of this.sockets) if (!this.busy.has(s)) s.end();
  }

  /** 'yes' = written; 'async' = `resume` or `giveUp` will be called; 'no' = node:http must answer. */
  private answer(socket: Socket, method: string, path: string, resume: () => void, giveUp: () => void): 'yes' | 'async' | 'no' {
    const t0 = performance.now();
    const { catalog } = this.c.delivery;
    const e = catalog.peek(path, Date.now());
    if (e === undefined) {
      let p;
      try {
        p = parseAssetPath(path, '/v/');
      } catch {
        return 'no';
      }
      if (!this.c.isPublic(p.assetId)) return 'no';
      catalog.load(path, p).then((loaded) => (loaded === null || !catalog.cacheable(loaded) ? giveUp() : this.retry(socket, method, path, resume, giveUp)), giveUp);
      return 'async';
    }
    if (!catalog.cacheable(e) || !this.c.isPublic(e.assetId)) return 'no';
    if (e.kind.playlist && e.hints === undefined) {
      this.c.delivery.prepare(e).then(() => this.retry(socket, method, path, resume, giveUp), giveUp);
      return 'async';
    }
    if (e.kind.playlist && e.hints!.length > 0) return 'no'; // 103 Early Hints: node:http's writeEarlyHints
    try {
      this.c.admit(socket.remoteAddress ?? '');
    } catch {
      return 'no';
    }
    if (method === 'HEAD') return this.write(socket, e, null, method, path, t0);
    const hit = catalog.hotBody(e.key);
    if (hit !== undefined) return this.write(socket, e, hit, method, path, t0);
    catalog.bodyForSend(e).then(({ buf, release }) => {
      if (socket.destroyed) return release();
      this.write(socket, e, buf, method, path, t0, release);
      resume();
    }, giveUp);
    return 'async';
  }

  private retry(socket: Socket, method: string, path: string, resume: () => void, giveUp: () => void): void {
    if (socket.destroyed) return;
    const r = this.answer(socket, method, path, resume, giveUp);
    if (r === 'yes') resume();
    else if (r === 'no') giveUp();
  }

  /** Write one response; `release` runs once the socket no longer needs `body` (pooled buffers). */
  private write(socket: Socket, e: FileEntry, body: Buffer | null, method: string, path: string, t0: number, release?: () => void): 'yes' {
    const tail = this.dateAndConnection();
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

  /** `Date` (cached per second, RFC 9110 §6.6.1) and the keep-alive fields, ending the head. */
  private dateAndConnection(): Buffer {
    const now = Date.now();
    if (now - this.dateAt >= 1000 || now < this.dateAt) {
      this.dateAt = now - (now % 1000);
      this.tail = Buffer.from(`Date: ${new Date(now).toUTCString()}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(this.c.keepAliveMs / 1000)}\r\n\r\n`, 'latin1');
    }
    return this.tail;
  }
}
