/**
 * The original design's progressive-download route, `GET /api/v1/video/stream/:id`: the asset's
 * faststart MP4 (`download.mp4`) with Range support, read and written chunk by chunk with
 * backpressure; a client disconnect destroys the read at once (send-object.ts `streamRanges`).
 */
import type { FastifyInstance } from 'fastify';
import { fail } from '../errors.js';
import type { Delivery } from './delivery/delivery-handler.js';
import { ASSET_ID } from './delivery/safe-path.js';

/** Register the stream alias on top of the delivery origin. */
export function streamAliasRoutes(delivery: Delivery) {
  return async function routes(app: FastifyInstance): Promise<void> {
    const handler = async (req: import('fastify').FastifyRequest<{ Params: { id: string } }>, reply: import('fastify').FastifyReply) => {
      const { id } = req.params;
      if (!ASSET_ID.test(id)) throw fail('BAD_PATH', id, 'asset id must be [A-Za-z0-9_-]{1,64}');
      reply.hijack();
      await delivery.serveAssetFile(req.raw, reply.raw, id, 'download.mp4', true);
    };
    app.get('/api/v1/video/stream/:id', handler);
  };
}
