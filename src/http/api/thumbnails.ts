/**
 * `GET /api/v1/videos/:id/thumbnail?time=S&width=W`: a JPEG of a ready video at any time, for
 * poster pickers and editors (the storyboard sprite covers seek-bar previews). Each distinct
 * (time, width) is rendered once by ffmpeg from the asset's MP4 and kept as
 * `assets/<id>/thumbs/t<ms>-w<width>.jpg` (published by rename, so it is also served by the delivery
 * origin at `/v/<id>/thumbs/…` under the video's playback policy); concurrent renders are bounded (`vod.thumbnailConcurrency`, over it → 503 Retry-After),
 * and the request's AbortSignal stops ffmpeg when the client goes away or the deadline passes.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { fail, failWith } from '../../errors.js';
import { thumbnailAt } from '../../vod/extras.js';
import type { ApiContext } from './context.js';
import { errors, IdParams } from './schemas.js';

const ThumbnailQuery = Type.Object({
  time: Type.Number({ minimum: 0, description: 'seconds from the start' }),
  width: Type.Optional(Type.Integer({ minimum: 16, maximum: 1920, default: 320, description: 'pixels; height keeps the aspect ratio' })),
});
type ThumbnailQuery = Static<typeof ThumbnailQuery>;

/** Register the thumbnail route. */
export function thumbnailRoutes(ctx: ApiContext) {
  let rendering = 0;
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get<{ Params: IdParams; Querystring: ThumbnailQuery }>('/api/v1/videos/:id/thumbnail', {
      config: { scope: 'videos:read' },
      schema: {
        tags: ['videos'], summary: 'A JPEG thumbnail of a ready video at a given time', security: [{ bearer: [] }],
        params: IdParams, querystring: ThumbnailQuery, response: errors(400, 401, 403, 404, 409, 503),
      },
    }, async (req, reply) => {
      const { id } = req.params;
      const row = await ctx.store.videos.get(id);
      if (!row) throw fail('VIDEO_NOT_FOUND', id);
      if (row.status !== 'ready') throw fail('VIDEO_NOT_READY', id, row.status);
      const width = req.query.width ?? 320;
      const time = req.query.time;
      if (row.duration_s !== null && time > row.duration_s) throw fail('VALIDATION_FAILED', 'querystring/time', `${time} s is past the end (${row.duration_s.toFixed(2)} s)`);
      const assetDir = path.join(ctx.config.dataDir, 'assets', id);
      const rel = `thumbs/t${Math.round(time * 1000)}-w${width}.jpg`;
      const file = path.join(assetDir, rel);
      let jpeg: Buffer | null = await readFile(file).catch(() => null);
      if (jpeg === null) {
        if (rendering >= ctx.config.vod.thumbnailConcurrency) throw failWith('BUSY', { 'Retry-After': '1' }, 'thumbnail renderer');
        rendering++;
        try {
          const rendered = await thumbnailAt(assetDir, time, width, { signal: req.signal });
          jpeg = rendered;
          await mkdir(path.dirname(file), { recursive: true });
          const tmp = `${file}.${process.pid}.tmp`;
          await writeFile(tmp, rendered);
          await rename(tmp, file);
        } finally {
          rendering--;
        }
      }
      // Sent here rather than through the delivery origin: the API token already authorised it,
      // and a signed video's playback guard would ask for a playback token instead.
      return reply.type('image/jpeg').header('cache-control', 'private, max-age=86400').send(jpeg);
    });
  };
}
