/**
 * Direct uploads: an API client with `videos:write` asks for a one-time tus upload URL
 * (`POST /api/v1/uploads/direct`) and hands it to a browser that must not hold the API token.
 * The URL is `/api/v1/uploads/direct/<credential>`, a tus creation endpoint; the upload it
 * creates lives at `<that URL>/<videoId>`, so the same credential authorises its HEAD and PATCH
 * (resume) without an Authorization header. The credential is 256 random bits, kept only as its
 * SHA-256, and is spent once the upload completes. See docs/UPLOADS.md "Direct uploads".
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { fail } from '../../errors.js';
import { newId } from '../../store/db/ids.js';
import type { DirectUploadRow } from '../../store/db/schema.js';
import { errors, Protection, Visibility } from '../api/schemas.js';
import { videoFields, type UploadOptions } from './upload-files.js';
import { publicBase } from '../public-base.js';

/** Base path of direct uploads (the API and the one-time tus URLs under it). */
export const DIRECT_PATH = '/api/v1/uploads/direct';
/** Marker in `videos.metadata` of videos created for a direct upload (their own expiry applies). */
export const DIRECT_MARKER = 'direct';
/** Longest allowed `expiresInS` (a day, within the tus store's own `uploads.expireAfterMs` default). */
export const MAX_EXPIRES_S = 24 * 3600;

/** SHA-256 hex of a credential: what the store keeps and looks up. */
export function hashCredential(credential: string): string {
  return createHash('sha256').update(credential).digest('hex');
}

/** The credential of a direct upload request path (`/api/v1/uploads/direct/<credential>[/<videoId>]`), or null. */
export function credentialOf(pathname: string): string | null {
  const m = /^\/api\/v1\/uploads\/direct\/([A-Za-z0-9_-]{43})(?:\/[^/]*)?\/?$/.exec(pathname);
  return m?.[1] ?? null;
}

/** State as reported: an open upload past its expiry is `expired` even before the sweep marks it. */
export function reportedState(row: DirectUploadRow, now = Date.now()): DirectUploadRow['state'] {
  return (row.state === 'waiting' || row.state === 'uploading') && row.expires_at <= now ? 'expired' : row.state;
}

const DirectUploadBody = Type.Object({
  maxSizeBytes: Type.Optional(Type.Integer({ minimum: 1, description: 'largest Upload-Length accepted (default and ceiling: uploads.maxBytes)' })),
  expiresInS: Type.Integer({ minimum: 1, maximum: MAX_EXPIRES_S, default: 3600 }),
  title: Type.Optional(Type.String({ maxLength: 500 })),
  visibility: Type.Optional(Visibility),
  protection: Type.Optional(Protection),
  corsOrigin: Type.Optional(Type.String({ maxLength: 300, pattern: '^https?://[^/\\s]+$', description: 'the only browser Origin that may use the URL' })),
}, { additionalProperties: false });
type DirectUploadBody = Static<typeof DirectUploadBody>;

const DirectUploadCreated = Type.Object({ id: Type.String(), videoId: Type.String(), uploadUrl: Type.String(), expiresAt: Type.String(), maxSizeBytes: Type.Integer() });
const DirectUploadState = Type.Object({
  id: Type.String(),
  videoId: Type.String(),
  state: Type.Union(['waiting', 'uploading', 'done', 'expired', 'cancelled'].map((s) => Type.Literal(s))),
  expiresAt: Type.String(),
  maxSizeBytes: Type.Integer(),
  corsOrigin: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
});
const DirectParams = Type.Object({ id: Type.String({ pattern: '^du_[A-Za-z0-9]{1,61}$' }) });
type DirectParams = Static<typeof DirectParams>;

/** JSON of a direct upload (never the credential: it is not stored). */
function stateJson(r: DirectUploadRow) {
  return {
    id: r.id, videoId: r.video_id, state: reportedState(r), expiresAt: new Date(r.expires_at).toISOString(),
    maxSizeBytes: r.max_size_bytes, corsOrigin: r.cors_origin, createdAt: new Date(r.created_at).toISOString(),
  };
}

/** Where the upload URL points: `publicUrl`, else the host the API request came to. */
function origin(o: UploadOptions, req: FastifyRequest): string {
  return publicBase(o.config, req);
}

/** Register `POST|GET|DELETE /api/v1/uploads/direct…` (JSON, scope `videos:write`); `discard` drops an unfinished upload's bytes and waiting video. */
export function directUploadRoutes(app: FastifyInstance, o: UploadOptions, discard: (videoId: string) => Promise<void>): void {
  const { store, bus } = o;
  const security = [{ bearer: [] }];
  const tags = ['uploads'];

  app.post<{ Body: DirectUploadBody }>(DIRECT_PATH, {
    config: { scope: 'videos:write' },
    schema: { tags, summary: 'Create a one-time tus upload URL for a browser (no API token needed to use it)', security, body: DirectUploadBody, response: { 201: DirectUploadCreated, ...errors(400, 401, 403) } },
  }, async (req, reply) => {
    const b = req.body;
    const limit = o.config.uploads.maxBytes;
    if (b.maxSizeBytes !== undefined && b.maxSizeBytes > limit) throw fail('DIRECT_UPLOAD_INVALID', `maxSizeBytes ${b.maxSizeBytes} exceeds uploads.maxBytes ${limit}`);
    const fields = videoFields({ title: b.title, visibility: b.visibility, protection: b.protection });
    const id = newId('du_');
    const credential = randomBytes(32).toString('base64url');
    const video = await store.videos.create({ id: newId('v_'), ...fields, status: 'waiting', metadata: { upload: DIRECT_MARKER, directUploadId: id } });
    const row = await store.directUploads.create({
      id, video_id: video.id, token_hash: hashCredential(credential), max_size_bytes: b.maxSizeBytes ?? limit,
      cors_origin: b.corsOrigin ?? null, expires_at: Date.now() + b.expiresInS * 1000,
    });
    bus.publish('video.created', { videoId: video.id, title: video.title });
    return reply.code(201).header('location', `${DIRECT_PATH}/${id}`).send({
      id, videoId: video.id, uploadUrl: `${origin(o, req)}${DIRECT_PATH}/${credential}`,
      expiresAt: new Date(row.expires_at).toISOString(), maxSizeBytes: row.max_size_bytes,
    });
  });

  app.get<{ Params: DirectParams }>(`${DIRECT_PATH}/:id`, {
    config: { scope: 'videos:write' },
    schema: { tags, summary: 'State of a direct upload: waiting, uploading, done, expired or cancelled', security, params: DirectParams, response: { 200: DirectUploadState, ...errors(401, 403, 404) } },
  }, async (req) => {
    const row = await store.directUploads.get(req.params.id);
    if (!row) throw fail('DIRECT_UPLOAD_NOT_FOUND', req.params.id);
    return stateJson(row);
  });

  app.delete<{ Params: DirectParams }>(`${DIRECT_PATH}/:id`, {
    config: { scope: 'videos:write' },
    schema: { tags, summary: 'Cancel a direct upload: its URL stops working, partial bytes and the waiting video are deleted', security, params: DirectParams, response: { 200: DirectUploadState, ...errors(401, 403, 404, 410) } },
  }, async (req) => {
    const row = await store.directUploads.get(req.params.id);
    if (!row) throw fail('DIRECT_UPLOAD_NOT_FOUND', req.params.id);
    if (row.state === 'done') throw fail('DIRECT_UPLOAD_USED', row.id);
    if (await store.directUploads.transition(row.id, ['waiting', 'uploading'], 'cancelled')) await discard(row.video_id);
    return stateJson((await store.directUploads.get(row.id))!);
  });
}

type Handler = (req: FastifyRequest<{ Params: { id?: string } }>, reply: FastifyReply) => Promise<void>;

/**
 * Register the one-time tus URLs: creation `POST <DIRECT_PATH>/:credential`, resume
 * `HEAD|PATCH <DIRECT_PATH>/:credential/:id`, their CORS preflights. Each request is checked
 * against the stored direct upload before `tusHandle` sees it; no Authorization header is read.
 */
export function directTusRoutes(app: FastifyInstance, o: UploadOptions, tusHandle: Handler): void {
  const { store } = o;
  type Req = FastifyRequest<{ Params: { credential: string; id?: string } }>;

  /** The direct upload the credential names, checked for origin, expiry and cancellation. */
  async function lookup(req: Req): Promise<DirectUploadRow> {
    // 404, not 401: the credential is the URL itself; a wrong one names no resource, and no header would help.
    const row = /^[A-Za-z0-9_-]{43}$/.test(req.params.credential) ? await store.directUploads.byTokenHash(hashCredential(req.params.credential)) : undefined;
    if (!row) throw fail('DIRECT_UPLOAD_NOT_FOUND', 'for this URL');
    const from = req.headers.origin;
    if (row.cors_origin && from && from !== row.cors_origin) throw fail('DIRECT_UPLOAD_ORIGIN', from, row.cors_origin);
    if (row.state === 'cancelled') throw fail('DIRECT_UPLOAD_CANCELLED', row.id);
    if (reportedState(row) === 'expired') throw fail('DIRECT_UPLOAD_EXPIRED', row.id, new Date(row.expires_at).toISOString());
    return row;
  }

  const create = async (req: Req, reply: FastifyReply): Promise<void> => {
    const row = await lookup(req);
    if (row.state !== 'waiting') throw fail('DIRECT_UPLOAD_USED', row.id);
    const raw = req.headers['upload-length'];
    if (typeof raw !== 'string' || !/^\d{1,16}$/.test(raw)) throw fail('DIRECT_UPLOAD_LENGTH_REQUIRED', raw === undefined ? 'none sent (Upload-Defer-Length is not accepted)' : `got ${JSON.stringify(raw).slice(0, 40)}`);
    const length = Number(raw);
    if (length > row.max_size_bytes) throw fail('DIRECT_UPLOAD_TOO_LARGE', length, row.max_size_bytes);
    // Claim the credential before tus creates anything: of two racing creations only one proceeds.
    if (!(await store.directUploads.transition(row.id, ['waiting'], 'uploading'))) throw fail('DIRECT_UPLOAD_USED', row.id);
    await tusHandle(req, reply);
    // A creation tus refused (bad metadata, a protocol error) leaves the URL usable again.
    if (reply.raw.statusCode !== 201) await store.directUploads.transition(row.id, ['uploading'], 'waiting');
  };

  const resume = async (req: Req, reply: FastifyReply): Promise<void> => {
    const row = await lookup(req);
    if (req.params.id !== row.video_id || row.state === 'waiting') throw fail('DIRECT_UPLOAD_NOT_FOUND', 'for this URL');
    if (row.state !== 'uploading') throw fail('DIRECT_UPLOAD_USED', row.id);
    await tusHandle(req, reply);
  };

  const preflight = async (req: Req, reply: FastifyReply): Promise<void> => {
    const from = req.headers.origin;
    if (from) {
      const row = await store.directUploads.byTokenHash(hashCredential(req.params.credential));
      if (row?.cors_origin && from !== row.cors_origin) throw fail('DIRECT_UPLOAD_ORIGIN', from, row.cors_origin);
    }
    await tusHandle(req, reply);
  };

  // `deadlineMs: 0`: a PATCH lasts as long as the client's chunk takes to arrive.
  const open = { scope: 'none', deadlineMs: 0 } as const;
  app.route({ method: 'POST', url: `${DIRECT_PATH}/:credential`, config: open, handler: create });
  app.route({ method: ['HEAD', 'PATCH'], url: `${DIRECT_PATH}/:credential/:id`, config: open, handler: resume });
  app.route({ method: 'OPTIONS', url: `${DIRECT_PATH}/:credential`, config: open, handler: preflight });
  app.route({ method: 'OPTIONS', url: `${DIRECT_PATH}/:credential/:id`, config: open, handler: preflight });
}
