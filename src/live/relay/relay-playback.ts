/**
 * The internal live relay, serving side (cluster mode only; without it the route does not exist
 * and answers 404):
 *
 *   GET /internal/live/<streamId>.flv   Authorization: Strom-Node <nodeId>:<ts>:<hmac>
 *
 * HTTP-FLV of a stream published on THIS node, for another node that has viewers of it. The same
 * writer as public HTTP-FLV (shared, pre-framed tag Buffers; bounded reader queue), with the
 * source's codecs (no audio bridge: the pulling node bridges for its own viewers). The reader's
 * protocol is `relay`, counted apart from viewers. Only a local publisher is served: a stream this
 * node itself relays is 404, so relays never chain or loop. The response names the serving node
 * (`X-Strom-Node`), so a puller can tell a stale origin entry from the right node.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { fail } from '../../errors.js';
import { sendFlv } from '../http-flv/http-flv-playback.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import { verifyRelayRequest } from './relay-auth.js';

/** Fastify routes of the internal relay endpoint of node `nodeId`. */
export function relayPlaybackRoutes(registry: StreamRegistry, nodeId: string, secret: string, log: Logger) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get<{ Params: { file: string } }>('/internal/live/:file', async (req, reply) => {
      const m = /^([A-Za-z0-9_-]{1,64})\.flv$/.exec(req.params.file);
      if (!m) throw fail('LIVE_STREAM_NOT_FOUND', req.params.file);
      const streamId = m[1]!;
      const from = verifyRelayRequest(req.headers.authorization, secret, streamId);
      const s = registry.active(streamId);
      if (s === null || s.publisher?.relayFrom !== undefined) throw fail('LIVE_STREAM_NOT_FOUND', streamId); // never relay a relay
      reply.hijack();
      sendFlv(registry, streamId, reply.raw, { 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-store', 'X-Strom-Node': nodeId }, 'relay', {});
      log.info({ streamId, toNode: from }, 'serving a live relay');
    });
  };
}
