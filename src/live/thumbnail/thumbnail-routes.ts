/**
 * `GET /live/<streamId>/thumbnail.jpg`: a JPEG of the stream's latest keyframe (live-thumbnails.ts
 * renders and caches it). `Cache-Control: public, max-age=<live.thumbnailIntervalMs in s>`, a
 * strong ETag (304 on a matching If-None-Match); the playback guard applies as for HTTP-FLV
 * (signed streams need a token). Errors are `no-store`: 404 LIVE_STREAM_NOT_FOUND while the stream
 * is not live or has no keyframe yet, 415 LIVE_THUMBNAIL_UNSUPPORTED for codecs other than H.264
 * and HEVC, 503 BUSY, 500 LIVE_THUMBNAIL_FAILED.
 */
import type { FastifyInstance } from 'fastify';
import { fail } from '../../errors.js';
import type { LivePlaybackGuard } from '../../auth/playback-guard.js';
import { uncacheable } from '../ll-hls/ll-hls-playback.js';
import { LIVE_STREAM_ID } from '../stream/stream-registry.js';
import type { LiveThumbnails } from './live-thumbnails.js';

/** True when an If-None-Match header value matches `etag` (weak comparison, RFC 9110 §13.1.2). */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** Fastify route of live thumbnails. */
export function thumbnailRoutes(thumbs: LiveThumbnails, intervalMs: number, corsOrigin: string, guard: () => LivePlaybackGuard | null) {
  const maxAge = Math.max(1, Math.round(intervalMs / 1000));
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get<{ Params: { streamId: string } }>('/live/:streamId/thumbnail.jpg', async (req, reply) => {
      const { streamId } = req.params;
      if (corsOrigin !== '') reply.header('Access-Control-Allow-Origin', corsOrigin);
      try {
        if (!LIVE_STREAM_ID.test(streamId)) throw fail('LIVE_STREAM_NOT_FOUND', streamId);
        await guard()?.(req.raw, streamId);
        const t = await thumbs.get(streamId);
        reply.header('Cache-Control', `public, max-age=${maxAge}`).header('ETag', t.etag);
        if (matches(req.headers['if-none-match'], t.etag)) return reply.code(304).send();
        return reply.type('image/jpeg').send(t.jpeg);
      } catch (err) {
        return uncacheable(err);
      }
    });
  };
}
