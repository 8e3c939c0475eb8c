/**
 * The HTTP version the viewer speaks, which decides whether 103 Early Hints can help it (browsers
 * act on them only over HTTP/2 and HTTP/3: chromium docs/early-hints.md). Directly it is the
 * connection's; behind a front that terminates h2/h3 and talks HTTP/1.1 to Strom (deploy/h3/Caddyfile)
 * the front names the viewer's in `Strom-Viewer-Protocol` (e.g. `HTTP/3.0`), believed only from a
 * `trustProxy` peer, like X-Forwarded-For (RFC 7239 §8.1: anyone else could forge it).
 */
import type { FastifyRequest } from 'fastify';

/** The request header a trusted front puts the viewer's protocol in (its request line's version, `HTTP/2.0`, `HTTP/3.0`). */
export const VIEWER_PROTOCOL_HEADER = 'strom-viewer-protocol';

/** The viewer's HTTP major version: the connection's, or a trusted front's `Strom-Viewer-Protocol`. */
export function viewerHttpMajor(req: FastifyRequest): number {
  const own = req.raw.httpVersionMajor;
  const named = req.headers[VIEWER_PROTOCOL_HEADER];
  // Fastify's `ips` lists the socket's address and the X-Forwarded-For entries it believed: more
  // than one only when the peer is a trusted proxy (it is undefined without trustProxy).
  if (typeof named !== 'string' || (req.ips?.length ?? 0) < 2) return own;
  const m = /^HTTP\/([1-3])(?:\.\d)?$/i.exec(named.trim());
  return m === null ? own : Number(m[1]);
}
