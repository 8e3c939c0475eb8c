/**
 * The process's one HTTP listener: HTTP/1.1, or HTTPS with HTTP/2 (and HTTP/1.1 by ALPN) when
 * `tls.cert`/`tls.key` are set. Requests go first to the delivery fast path and, when it declines,
 * to Fastify (handed over as Fastify's `serverFactory`). It tracks open connections so a graceful
 * stop can drain them: HTTP/2 sessions get GOAWAY, idle HTTP/1.1 keep-alive connections are closed
 * as soon as their in-flight response ends, and whatever is still open at `timeouts.shutdownMs` is
 * destroyed.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { FastifyServerFactory } from 'fastify';
import type { Config } from '../config.js';

/** The listener and its connection bookkeeping. */
export interface HttpServer {
  /** Fastify's `serverFactory`: builds the server around Fastify's handler (called once). */
  factory: FastifyServerFactory;
  /** The server (after `factory` ran). */
  server(): http.Server | http2.Http2SecureServer;
  /** Open TCP connections plus HTTP/2 sessions, for metrics. */
  openConnections(): number;
  /**
   * Graceful stop around `closeApp` (which stops accepting: Fastify's close): in-flight responses
   * finish, idle connections close, and everything left is destroyed at `timeouts.shutdownMs`.
   */
  drain(closeApp: () => Promise<void>): Promise<void>;
}

/** Create the listener; `fastPath(req, res)` returns false for requests Fastify should answer. */
export function createHttpServer(config: Config, fastPath: (req: http.IncomingMessage, res: http.ServerResponse) => boolean): HttpServer {
  const sockets = new Set<Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  let server: http.Server | http2.Http2SecureServer | null = null;

  const factory: FastifyServerFactory = (fastifyHandler) => {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (!fastPath(req, res)) fastifyHandler(req, res);
    };
    let s: http.Server | http2.Http2SecureServer;
    if (config.tls.cert && config.tls.key) {
      const h2 = http2.createSecureServer({ cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key), allowHTTP1: true });
      h2.on('request', onRequest as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
      h2.on('session', (session) => {
        sessions.add(session);
        session.once('close', () => sessions.delete(session));
      });
      h2.setTimeout(config.timeouts.idleMs);
      s = h2;
    } else {
      const h1 = http.createServer({
        headersTimeout: config.timeouts.headersMs,
        requestTimeout: config.timeouts.requestMs,
        keepAliveTimeout: config.timeouts.keepAliveMs,
        // Node enforces headersTimeout only when this sweep runs (default every 30 s), so a
        // slowloris client would get 30 s, not headersMs; sweep at a quarter of the limit.
        connectionsCheckingInterval: Math.max(25, Math.min(30_000, Math.floor(config.timeouts.headersMs / 4))),
      }, onRequest);
      h1.setTimeout(config.timeouts.idleMs);
      s = h1;
    }
    s.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    server = s;
    // Fastify's types model an HTTP/1 server here; both kinds satisfy what it uses (listen/close/address).
    return s as http.Server;
  };

  return {
    factory,
    server() {
      if (server === null) throw new Error('the HTTP server is created by Fastify through factory()');
      return server;
    },
    openConnections: () => sockets.size + sessions.size,
    async drain(closeApp) {
      const deadline = setTimeout(() => {
        for (const s of sockets) s.destroy();
        for (const s of sessions) s.destroy();
      }, config.timeouts.shutdownMs);
      deadline.unref();
      for (const s of sessions) s.close(); // GOAWAY: finish open streams, accept no new ones
      // server.close() drops the connections idle at that moment only; a keep-alive connection whose
      // in-flight response ends later would hold the exit for keepAliveMs. Sweep until closed.
      const h1 = server;
      const sweep = h1 instanceof http.Server ? setInterval(() => h1.closeIdleConnections(), 50) : undefined;
      if (h1 instanceof http.Server) h1.closeIdleConnections();
      try {
        await closeApp();
      } finally {
        clearInterval(sweep);
        clearTimeout(deadline);
      }
    },
  };
}
