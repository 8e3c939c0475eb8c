/**
 * `/api/v1/videos`: list (newest first, cursor pagination, status filter), get, patch, delete,
 * and playback tokens for signed videos. Uploads live in the VOD plugin. Deleting a video
 * cancels its jobs, removes its row and files, and drops its delivery cache entries.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { fail } from '../../errors.js';
import type { Protection, VideoRow } from '../../store/db/schema.js';
import type { ClipOf } from '../../store/db/videos-repo.js';
import { LICENSE_PATH } from '../../vod/protection/content-keys.js';
import { iso, type ApiContext } from './context.js';
import { errors, IdParams, ListQuery, PlaybackToken, PlaybackTokenRequest, Video, VideoList, VideoPatch } from './schemas.js';

/**
 * Playback URL paths of a video (prefix `/v/` public, `/s/<token>/` signed). A `cenc` video adds
 * its ClearKey license URL; protected videos have no MP4 download and `aes-128` ones no DASH
 * manifest (the URLs answer 404; docs/VOD.md "Content protection").
 */
export function videoPlayback(id: string, protection: Protection, token?: string): { hls: string; dash: string; mp4: string; poster: string; license?: string } {
  const base = token ? `/s/${token}/${id}` : `/v/${id}`;
  const urls = { hls: `${base}/master.m3u8`, dash: `${base}/manifest.mpd`, mp4: `${base}/download.mp4`, poster: `${base}/poster.jpg` };
  return protection === 'cenc' ? { ...urls, license: `${base}/${LICENSE_PATH}` } : urls;
}

/** The API's JSON shape of a video row. */
export function videoJson(r: VideoRow) {
  return {
    id: r.id,
    title: r.title,
    description: r.description,
    visibility: r.visibility,
    protection: r.protection,
    status: r.status,
    progress: r.progress,
    error: r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
    durationS: r.duration_s,
    width: r.width,
    height: r.height,
    metadata: JSON.parse(r.metadata) as Record<string, unknown>,
    clipOf: r.clip_of ? (JSON.parse(r.clip_of) as ClipOf) : null,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    playback: videoPlayback(r.id, r.protection),
  };
}

const security = [{ bearer: [] }];

/** Register the video routes. */
export function videosRoutes(ctx: ApiContext) {
  const { store } = ctx;
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: ListQuery }>('/api/v1/videos', {
      config: { scope: 'videos:read' },
      schema: { tags: ['videos'], summary: 'List videos, newest first', security, querystring: ListQuery, response: { 200: VideoList, ...errors(400, 401, 403, 429) } },
    }, async (req) => {
      try {
        const page = await store.videos.list({ status: req.query.status as VideoRow['status'] | undefined, limit: req.query.limit, cursor: req.query.cursor });
        return { items: page.items.map(videoJson), nextCursor: page.nextCursor };
      } catch (err) {
        if (err instanceof RangeError) throw fail('VALIDATION_FAILED', 'querystring', 'cursor is not a cursor from this API');
        throw err;
      }
    });

    app.get<{ Params: IdParams }>('/api/v1/videos/:id', {
      config: { scope: 'videos:read' },
      schema: { tags: ['videos'], summary: 'Get a video', security, params: IdParams, response: { 200: Video, ...errors(401, 403, 404) } },
    }, async (req) => {
      const row = await store.videos.get(req.params.id);
      if (!row) throw fail('VIDEO_NOT_FOUND', req.params.id);
      return videoJson(row);
    });

    app.patch<{ Params: IdParams; Body: VideoPatch }>('/api/v1/videos/:id', {
      config: { scope: 'videos:write' },
      schema: { tags: ['videos'], summary: 'Change title, description, visibility or metadata', security, params: IdParams, body: VideoPatch, response: { 200: Video, ...errors(400, 401, 403, 404) } },
    }, async (req) => {
      const row = await store.videos.update(req.params.id, req.body);
      if (!row) throw fail('VIDEO_NOT_FOUND', req.params.id);
      return videoJson(row);
    });

    app.delete<{ Params: IdParams }>('/api/v1/videos/:id', {
      config: { scope: 'videos:write' },
      schema: { tags: ['videos'], summary: 'Delete a video, its jobs and its files', security, params: IdParams, response: { 204: { type: 'null' }, ...errors(401, 403, 404) } },
    }, async (req, reply) => {
      const { id } = req.params;
      const row = await store.videos.get(id);
      if (!row) throw fail('VIDEO_NOT_FOUND', id);
      await store.jobs.cancelForVideo(id);
      await store.videos.delete(id);
      const dataDir = ctx.config.dataDir;
      await rm(path.join(dataDir, 'assets', id), { recursive: true, force: true });
      // The kept original (docs/STORAGE.md sources/<id>/); a source outside our data directory is never touched.
      await rm(path.join(dataDir, 'sources', id), { recursive: true, force: true });
      const uploads = path.join(dataDir, 'uploads') + path.sep;
      if (row.source_path && path.resolve(row.source_path).startsWith(uploads)) await rm(row.source_path, { recursive: true, force: true });
      if (ctx.delivery.storage.kind !== 'fs') {
        // Object storage: the published asset and the kept original are objects in the bucket.
        await ctx.delivery.storage.deletePrefix(`assets/${id}/`);
        await ctx.delivery.storage.deletePrefix(`sources/${id}/`);
      }
      ctx.delivery.catalog.invalidateAsset(id);
      return reply.code(204).send();
    });

    app.post<{ Params: IdParams; Body: PlaybackTokenRequest }>('/api/v1/videos/:id/playback-token', {
      config: { scope: 'videos:read' },
      schema: { tags: ['videos', 'playback'], summary: 'Sign a playback token and URLs for a video', security, params: IdParams, body: PlaybackTokenRequest, response: { 200: PlaybackToken, ...errors(400, 401, 403, 404) } },
    }, async (req) => {
      const { id } = req.params;
      const video = await store.videos.get(id);
      if (!video) throw fail('VIDEO_NOT_FOUND', id);
      const body = req.body ?? {};
      const t = await ctx.tokens.sign(id, { ttlMs: body.ttlS ? body.ttlS * 1000 : ctx.config.playback.tokenTtlMs, ip: body.ip, referrer: body.referrer });
      return { token: t.token, kid: t.kid, expiresAt: iso(t.expiresAt), playback: { ...videoPlayback(id, video.protection, t.token), stream: `/api/v1/video/stream/${id}?token=${t.token}` } };
    });
  };
}
