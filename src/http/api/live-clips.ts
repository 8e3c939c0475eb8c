/**
 * `POST /api/v1/live-streams/:id/clips`: a ready video cut from the live stream's DVR window
 * (src/live/live-dvr-clips.ts). Body `{last: 30}` or `{start: -60, end: -30}` (seconds relative
 * to the live edge), optional `title`. 201 with the video; its `metadata.dvrClip` is the range
 * actually cut, widened to segment boundaries. 409 when the stream is not live, holds no window,
 * or the range starts before the window.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { fail } from '../../errors.js';
import type { Store } from '../../store/db/database.js';
import { dvrRange, type LiveDvrClips } from '../../live/live-dvr-clips.js';
import { videoJson } from './videos.js';
import { errors, IdParams, Video } from './schemas.js';

const LiveClipRequest = Type.Object({
  last: Type.Optional(Type.Number({ description: 'the last N seconds up to the live edge' })),
  start: Type.Optional(Type.Number({ description: 'seconds relative to the live edge, ≤ 0' })),
  end: Type.Optional(Type.Number({ description: 'seconds relative to the live edge, ≤ 0 (default 0)' })),
  title: Type.Optional(Type.String({ maxLength: 500 })),
}, { additionalProperties: false });
type LiveClipRequest = Static<typeof LiveClipRequest>;

/** Register the DVR clip route (after the live server is wired). */
export function liveClipsRoutes(o: { store: Store; clips: () => LiveDvrClips | null }) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.post<{ Params: IdParams; Body: LiveClipRequest }>('/api/v1/live-streams/:id/clips', {
      config: { scope: 'live:write' },
      schema: {
        tags: ['live'], summary: 'Cut a video out of the live stream’s DVR window, snapped to segment boundaries', security: [{ bearer: [] }],
        params: IdParams, body: LiveClipRequest, response: { 201: Video, ...errors(400, 401, 403, 404, 409, 503) },
      },
    }, async (req, reply) => {
      const { id } = req.params;
      const stream = await o.store.liveStreams.get(id);
      if (!stream) throw fail('LIVE_STREAM_NOT_FOUND', id);
      const range = dvrRange(req.body);
      const clips = o.clips();
      if (clips === null) throw fail('LIVE_CLIP_UNAVAILABLE', id, 'the live server is not running');
      const title = req.body.title ?? `${stream.title || id} — clip ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`;
      const { video } = await clips.clip(id, range, { title, visibility: stream.visibility });
      return reply.code(201).send(videoJson(video));
    });
  };
}
