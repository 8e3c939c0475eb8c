/**
 * `GET /api/v1/videos/:id/thumbnail?time=S&width=W`: a JPEG of a ready video at any time (to 0.1 s),
 * for poster pickers and editors (the storyboard sprite covers seek-bar previews). Rendered by
 * ffmpeg from the asset's MP4 and kept in a byte-bounded in-memory LRU (`THUMB_CACHE_BYTES`) —
 * never on disk, so a read-only token cannot fill the disk by asking for every (time, width).
 * Identical concurrent requests share one render; renders at once are bounded
 * (`vod.thumbnailConcurrency`, over it → 503 Retry-After); the request's AbortSignal stops ffmpeg
 * when the client goes away or the deadline passes. With object storage the frame comes from the
 * init and the one segment that hold the time (vod/thumbnail-source.ts), fetched into `tmp/`.
 */
import path from 'node:path';
import { HotCache } from '../../store/hot-cache.js';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { fail, failWith } from '../../errors.js';
import { thumbnailAt } from '../../vod/extras.js';
import { thumbnailSource } from '../../vod/thumbnail-source.js';
import { STORAGE_URI } from '../../storage/blob-storage.js';
import type { ApiContext } from './context.js';
import { errors, IdParams } from './schemas.js';

const ThumbnailQuery = Type.Object({
  time: Type.Number({ minimum: 0, description: 'seconds from the start' }),
  width: Type.Optional(Type.Integer({ minimum: 16, maximum: 1920, default: 320, description: 'pixels; height keeps the aspect ratio' })),
});
type ThumbnailQuery = Static<typeof ThumbnailQuery>;

/** Memory budget of rendered thumbnails (a 320 px JPEG is ~10–20 KB). */
const THUMB_CACHE_BYTES = 16 * 1024 * 1024;

/** Register the thumbnail route. */
export function thumbnailRoutes(ctx: ApiContext) {
  let rendering = 0;
  const cache = new HotCache<string>(THUMB_CACHE_BYTES);
  const pending = new Map<string, Promise<Buffer>>();
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
      const tenths = Math.round(time * 10);
      const key = `${id}/${tenths}/${width}`;
      let jpeg = cache.get(key);
      if (jpeg === undefined) {
        let render = pending.get(key);
        if (render === undefined) {
          // A protected asset's segments are ciphertext and it has no download.mp4: render from the kept source.
          const source = row.protection === 'none' ? null : row.source_path;
          if (source === null && row.protection !== 'none') throw fail('PROTECTED_MEDIA', id, row.protection, 'thumbnails need its source file, which is gone');
          if (source !== null && source.startsWith(STORAGE_URI)) throw fail('PROTECTED_MEDIA', id, row.protection, 'thumbnails are rendered from the source, which is in object storage');
          if (rendering >= ctx.config.vod.thumbnailConcurrency) throw failWith('BUSY', { 'Retry-After': '1' }, 'thumbnail renderer');
          rendering++;
          const storage = ctx.delivery.storage;
          const rendered = source !== null
            ? thumbnailAt(source, tenths / 10, width, { signal: req.signal })
            : storage.kind === 'fs' ? thumbnailAt(assetDir, tenths / 10, width, { signal: req.signal })
            : thumbnailSource(storage, id, tenths / 10, path.join(ctx.config.dataDir, 'tmp')).then((src) =>
              thumbnailAt(src.file, src.offsetS, width, { signal: req.signal }).finally(() => src.cleanup()));
          render = rendered.finally(() => {
            rendering--;
            pending.delete(key);
          });
          pending.set(key, render);
          render.then((buf) => cache.set(key, buf), () => undefined);
        }
        jpeg = await render;
      }
      // Sent here rather than through the delivery origin: the API token already authorised it,
      // and a signed video's playback guard would ask for a playback token instead.
      return reply.type('image/jpeg').header('cache-control', 'private, max-age=86400').send(jpeg);
    });
  };
}
