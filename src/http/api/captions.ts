/**
 * `/api/v1/videos/:id/captions`: caption and subtitle tracks of a ready video. POST takes the file
 * itself as the body (WebVTT, or SubRip converted to WebVTT; the format comes from Content-Type
 * `text/vtt` / `application/x-subrip` or is detected) with `language` (BCP 47), `label` and
 * `default` in the query; one track per language, a second upload replaces it. The body is read
 * here, bounded by `vod.captionMaxBytes` (413), and refused with 400 naming the line of the first
 * problem. Every change rewrites the asset's caption files and manifests (vod/captions).
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { fail, isStromError } from '../../errors.js';
import type { CaptionRow } from '../../store/db/schema.js';
import { canonicalLanguage, languageName, parseCaptionFile } from '../../vod/captions/caption-file.js';
import { captionDir, type CaptionPublisher } from '../../vod/captions/caption-publisher.js';
import { CaptionError, serializeWebVtt } from '../../vod/captions/webvtt.js';
import { iso, type ApiContext } from './context.js';
import { errors, IdParams } from './schemas.js';

const Language = Type.String({ minLength: 2, maxLength: 35, pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$', description: 'BCP 47 language tag, e.g. en, pt-BR' });
const CaptionQuery = Type.Object({
  language: Language,
  label: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: '^[^"\\r\\n\\u0000-\\u001f]+$', description: 'name shown in players; default: the language name in English' })),
  default: Type.Optional(Type.Boolean({ description: 'the track players select first (one per video)' })),
});
type CaptionQuery = Static<typeof CaptionQuery>;
const LanguageParams = Type.Object({ id: IdParams.properties.id, language: Language });
type LanguageParams = Static<typeof LanguageParams>;

const Caption = Type.Object({
  language: Type.String(),
  label: Type.String(),
  default: Type.Boolean(),
  format: Type.String({ description: 'what was uploaded: vtt or srt' }),
  cues: Type.Integer(),
  bytes: Type.Integer({ description: 'size of the stored WebVTT' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  playback: Type.Object({ hls: Type.String(), vtt: Type.String() }),
});
const CaptionList = Type.Object({ items: Type.Array(Caption) });

const security = [{ bearer: [] }];

/** The API's JSON shape of a caption track. */
export function captionJson(r: CaptionRow) {
  const dir = captionDir(r);
  return {
    language: r.language, label: r.label, default: r.is_default === 1, format: r.format, cues: r.cues,
    bytes: Buffer.byteLength(r.vtt), createdAt: iso(r.created_at), updatedAt: iso(r.updated_at),
    playback: { hls: `/v/${r.video_id}/${dir}/index.m3u8`, vtt: `/v/${r.video_id}/${dir}.vtt` },
  };
}

/** Register the caption routes; `publisher` writes files and manifests. */
export function captionsRoutes(ctx: ApiContext, publisher: CaptionPublisher) {
  const { store } = ctx;
  const limit = ctx.config.vod.captionMaxBytes;
  return async function routes(app: FastifyInstance): Promise<void> {
    // The body is the file, whatever its type: read it here, bounded.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (req, payload, callback) => {
      let settled = false;
      const done = (err: Error | null, body: Buffer | undefined) => {
        if (!settled) callback(err, body);
        settled = true;
      };
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > limit) return done(fail('CAPTION_TOO_LARGE', declared, limit), undefined);
      const chunks: Buffer[] = [];
      let size = 0;
      payload.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= limit) chunks.push(c);
        else if (size > 16 * limit) payload.destroy(); // stop reading a client that keeps going
      });
      payload.on('error', (err) => done(err, undefined));
      payload.on('close', () => {
        if (size > limit) done(fail('CAPTION_TOO_LARGE', size, limit), undefined);
      });
      payload.on('end', () => {
        if (size <= limit) done(null, Buffer.concat(chunks));
      });
    });

    app.post<{ Params: IdParams; Querystring: CaptionQuery; Body: Buffer | undefined }>('/api/v1/videos/:id/captions', {
      config: { scope: 'videos:write' },
      schema: {
        tags: ['videos', 'captions'], summary: 'Add or replace the caption track of a language (body: the WebVTT or SubRip file)', security,
        params: IdParams, querystring: CaptionQuery, response: { 200: Caption, 201: Caption, ...errors(400, 401, 403, 404, 409, 413) },
      },
    }, async (req, reply) => {
      const { id } = req.params;
      const video = await store.videos.get(id);
      if (!video) throw fail('VIDEO_NOT_FOUND', id);
      if (video.status !== 'ready') throw fail('VIDEO_NOT_READY', id, video.status);
      const language = canonicalLanguage(req.query.language);
      if (!language) throw fail('VALIDATION_FAILED', 'querystring/language', `${JSON.stringify(req.query.language)} is not a BCP 47 language tag`);
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let parsed: ReturnType<typeof parseCaptionFile>;
      try {
        parsed = parseCaptionFile(body, req.headers['content-type']);
      } catch (err) {
        if (err instanceof CaptionError) {
          const type = String(req.headers['content-type'] ?? '');
          throw fail('CAPTION_INVALID', /subrip|srt/i.test(type) ? 'SubRip' : 'WebVTT', err.line, err.why);
        }
        throw err;
      }
      const { row, replaced } = await store.captions.put(id, {
        language, label: req.query.label ?? languageName(language), isDefault: req.query.default === true,
        format: parsed.format, vtt: serializeWebVtt(parsed.doc), cues: parsed.doc.cues.length,
      });
      await publisher.apply(id);
      return reply.code(replaced ? 200 : 201).send(captionJson(row));
    });

    app.get<{ Params: IdParams }>('/api/v1/videos/:id/captions', {
      config: { scope: 'videos:read' },
      schema: { tags: ['videos', 'captions'], summary: 'List the caption tracks of a video', security, params: IdParams, response: { 200: CaptionList, ...errors(401, 403, 404) } },
    }, async (req) => {
      if (!(await store.videos.get(req.params.id))) throw fail('VIDEO_NOT_FOUND', req.params.id);
      return { items: (await store.captions.list(req.params.id)).map(captionJson) };
    });

    app.delete<{ Params: LanguageParams }>('/api/v1/videos/:id/captions/:language', {
      config: { scope: 'videos:write' },
      schema: { tags: ['videos', 'captions'], summary: 'Delete the caption track of a language', security, params: LanguageParams, response: { 204: { type: 'null' }, ...errors(401, 403, 404) } },
    }, async (req, reply) => {
      const { id } = req.params;
      if (!(await store.videos.get(id))) throw fail('VIDEO_NOT_FOUND', id);
      const language = canonicalLanguage(req.params.language) ?? req.params.language;
      if (!(await store.captions.delete(id, language))) throw fail('CAPTION_NOT_FOUND', id, language);
      try {
        await publisher.apply(id);
      } catch (err) {
        // A video without a published asset has nothing to rewrite.
        if (!isStromError(err, 'OBJECT_NOT_FOUND')) throw err;
      }
      return reply.code(204).send();
    });
  };
}
