/**
 * The internal live relay, serving side (cluster mode only; without it the route does not exist
 * and answers 404):
 *
 *   GET /internal/live/<streamId>.flv   Authorization: Strom-Node <nodeId>:<ts>:<hmac>
 *
 * HTTP-FLV of a stream published on THIS node, for another node that has viewers of it. The same
 * writer as public HTTP-FLV (shared, pre-framed tag Buffers; bounded reader queue), with the
 * source's codecs (no audio bridge: the pulling node bridges for its own viewers). The reader's
 * protocol is `relay`, counted apart from viewers. Only a local publisher is served: relays never
 * chain or loop. The response names the serving node (`X-Strom-Node`), so a puller can tell a
 * stale origin entry from the right node.
 *
 * A stream not published here is 404 on a single node. In cluster mode the origin map is asked:
 * a stream published on another node (this node may be relaying it) answers
 * `307 Location: <that node's advertised URL>/internal/live/<id>.flv`, so an edge pointed at any
 * node or at a load balancer reaches the publishing node (the signature is per stream, not per
 * node: the same header is valid there).
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { OriginEntry, OriginLookup } from '../../cluster/origin-map.js';
import { fail } from '../../errors.js';
import { sendFlv } from '../http-flv/http-flv-playback.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import { verifyRelayRequest } from './relay-auth.js';

/** Fastify routes of the internal relay endpoint of node `nodeId`; `origins` (cluster mode) redirects to a stream's publishing node. */
export function relayPlaybackRoutes(registry: StreamRegistry, nodeId: string, secret: string, log: Logger, origins: OriginLookup | null = null) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get<{ Params: { file: string } }>('/internal/live/:file', async (req, reply) => {
      const m = /^([A-Za-z0-9_-]{1,64})\.flv$/.exec(req.params.file);
      if (!m) throw fail('LIVE_STREAM_NOT_FOUND', req.params.file);
      const streamId = m[1]!;
      const from = verifyRelayRequest(req.headers.authorization, secret, streamId);
      const s = registry.active(streamId);
      if (s === null || s.publisher?.relayFrom !== undefined) { // never relay a relay
        const elsewhere = await publishedElsewhere(origins, streamId, nodeId, from);
        if (elsewhere === null) throw fail('LIVE_STREAM_NOT_FOUND', streamId);
        log.info({ streamId, toNode: from, originNode: elsewhere.nodeId }, 'live relay redirected to the publishing node');
        return reply.code(307).header('Location', elsewhere.location).header('X-Strom-Node', nodeId).header('Cache-Control', 'no-store').send();
      }
      reply.hijack();
      sendFlv(registry, streamId, reply.raw, { 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-store', 'X-Strom-Node': nodeId }, 'relay', {});
      log.info({ streamId, toNode: from }, 'serving a live relay');
    });
  };
}

/** The publishing node and its relay URL when the origin map names another node than this one and the caller, else null. */
async function publishedElsewhere(origins: OriginLookup | null, streamId: string, nodeId: string, caller: string): Promise<{ nodeId: string; location: string } | null> {
  if (origins === null) return null;
  let entry: OriginEntry | null;
  try {
    entry = await origins.lookup(streamId);
  } catch (err) {
    throw fail('LIVE_ORIGIN_LOOKUP_FAILED', streamId, (err as Error).message);
  }
  if (entry === null || entry.nodeId === nodeId || entry.nodeId === caller || !URL.canParse(entry.url)) return null;
  return { nodeId: entry.nodeId, location: new URL(`/internal/live/${streamId}.flv`, entry.url).href };
}
