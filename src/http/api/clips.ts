/**
 * `POST /api/v1/videos/:id/clips`: cut a clip out of a ready video without re-encoding
 * (src/vod/clips). The answer is the new video — `202 Accepted`, status `queued` — whose
 * `clipOf` carries the range actually cut: the requested one widened to segment boundaries
 * (docs/VOD.md "Clips"). The clip then follows the usual events: video.progress, video.ready
 * or video.errored.
 */
import type { FastifyInstance } from 'fastify';
import { fail } from '../../errors.js';
import type { Store } from '../../store/db/database.js';
import type { ClipJobs } from '../../vod/clips/clip-jobs.js';
import { videoJson } from './videos.js';
import { ClipRequest, errors, IdParams, Video } from './schemas.js';

/** Register the clip route (after the VOD service exists). */
export function clipsRoutes(o: { store: Store; clips: ClipJobs }) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.post<{ Params: IdParams; Body: ClipRequest }>('/api/v1/videos/:id/clips', {
      config: { scope: 'videos:write' },
      schema: {
        tags: ['videos'], summary: 'Cut a clip (a new video) from a ready video, snapped to segment boundaries', security: [{ bearer: [] }],
        params: IdParams, body: ClipRequest, response: { 202: Video, ...errors(400, 401, 403, 404, 409, 503) },
      },
    }, async (req, reply) => {
      const source = await o.store.videos.get(req.params.id);
      if (!source) throw fail('VIDEO_NOT_FOUND', req.params.id);
      const row = await o.clips.create(source, req.body);
      return reply.code(202).send(videoJson(row));
    });
  };
}
