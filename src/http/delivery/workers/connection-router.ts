/**
 * Main-process side of multi-process delivery: decides, once per TCP connection, which
 * process serves it. Node 20 has no SO_REUSEPORT (`reusePort` arrived in 22.12), so the main keeps
 * the only listening socket; it reads the connection's first chunk and, when that is a `GET`/`HEAD`
 * of `/v/` or `/s/` (a player), hands the socket plus those bytes to a delivery worker, choosing
 * round-robin over the workers AND itself. Everything else — API, uploads, live, web UI, WebSocket
 * upgrades, a first chunk too short to tell — stays in the main, which then sees exactly the bytes
 * the client sent (they are pushed back with `unshift`). The cost is per connection, not per
 * request: keep-alive requests after the first never pass through here.
 */
import type http from 'node:http';
import type { Socket } from 'node:net';

/** The prefixes a first chunk must start with to be handed off (RFC 9112 §3 request-line). */
const DELIVERY_HEADS = ['GET /v/', 'GET /s/', 'HEAD /v/', 'HEAD /s/'].map((s) => Buffer.from(s, 'latin1'));

/** True when `head` starts a GET/HEAD request for a delivery path. */
export function isDeliveryHead(head: Buffer): boolean {
  for (const p of DELIVERY_HEADS) {
    if (head.length >= p.length && head.compare(p, 0, p.length, 0, p.length) === 0) return true;
  }
  return false;
}

/** What the router asks of the worker pool. */
export interface RouterPool {
  /** Number of workers ready to take connections now (0 = keep everything in the main). */
  ready(): number;
  /** Give the socket to the next ready worker in turn; false = the main keeps it (its turn, or no worker). */
  handOff(socket: Socket, head: Buffer): boolean;
  /** Serve a delivery connection the main keeps (the lean HTTP/1.1 path, which falls back to `keep`). */
  serveHere(socket: Socket, head: Buffer): void;
}

/** The installed router. */
export interface ConnectionRouter {
  /** Serve a connection in the main process, `head` being bytes already read from it (pushed back first). */
  keep(socket: Socket, head: Buffer | null): void;
  /** Drop connections that never sent a byte (on shutdown). */
  close(): void;
}

/**
 * Take over `server`'s `connection` event: the listeners registered so far (Node's HTTP parser,
 * Strom's socket tracking) run only for connections the main keeps. `firstByteMs` bounds how long a
 * silent connection may hold a slot before it is dropped (the HTTP server's headersTimeout would
 * do it for a connection it owned).
 */
export function installConnectionRouter(server: http.Server, pool: RouterPool, firstByteMs: number): ConnectionRouter {
  const owners = server.listeners('connection') as Array<(s: Socket) => void>;
  server.removeAllListeners('connection');
  const waiting = new Set<Socket>();

  function keep(socket: Socket, head: Buffer | null): void {
    if (head !== null) socket.unshift(head);
    for (const l of owners) l.call(server, socket);
    // Node's HTTP server resets the stream's flowing state; resume so the pushed-back bytes flow.
    if (head !== null) socket.resume();
  }

  const onTimeout = function (this: Socket) {
    this.destroy();
  };
  const onError = () => {
    /* a reset before the first byte: 'close' cleans up */
  };

  server.on('connection', (socket: Socket) => {
    if (pool.ready() === 0) return keep(socket, null);
    waiting.add(socket);
    socket.setTimeout(firstByteMs, onTimeout);
    socket.on('error', onError);
    const onClose = () => waiting.delete(socket);
    socket.once('close', onClose);
    socket.once('data', (head: Buffer) => {
      socket.pause();
      waiting.delete(socket);
      socket.setTimeout(0);
      socket.removeListener('timeout', onTimeout);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      if (!isDeliveryHead(head)) return keep(socket, head);
      if (!pool.handOff(socket, head)) pool.serveHere(socket, head);
    });
  });

  return {
    keep,
    close() {
      for (const s of waiting) s.destroy();
      waiting.clear();
    },
  };
}
