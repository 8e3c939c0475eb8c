/**
 * tus 1.0 resumable uploads at `/api/v1/uploads` (creation, creation-with-upload, termination,
 * expiration) with @tus/server + @tus/file-store, mounted in Fastify so the API middleware
 * (auth scope `videos:write`, request log, rate limit) runs first; then the route hijacks the
 * reply and hands the raw request/response to tus. The upload id *is* the video id: creating an
 * upload creates the `waiting` video (header `Strom-Video-Id`), finishing it moves the file to
 * `sources/<id>/source` and queues processing, terminating it deletes the waiting video. A direct
 * upload (direct-uploads.ts) uses the same server under its one-time URL, with the video id fixed.
 *
 * With `storage.kind = s3` the datastore is @tus/s3-store: the upload's parts, its `.info` object
 * (size, metadata, multipart upload id) and any incomplete tail part live in the bucket under
 * `<prefix>uploads/`, and the offset of a HEAD is computed from the bucket's list of parts — so an
 * upload begun on one node resumes on any other. Finishing copies the object to the source key
 * server-side and deletes the upload objects.
 */
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { EVENTS, Server, type ServerOptions, type Upload } from '@tus/server';
import { FileStore } from '@tus/file-store';
import type * as TusS3 from '@tus/s3-store';
import type { S3Store } from '@tus/s3-store';
import type { DataStore } from '@tus/utils';
import type { S3Client } from '@aws-sdk/client-s3';
import { normalizePrefix, s3ClientConfig } from '../../storage/s3-storage.js';
import { fail, isNoSpace, isStromError } from '../../errors.js';
import { optionalModule } from '../../optional-module.js';
import { newId } from '../../store/db/ids.js';
import { finishUpload, TUS_MARKER, uploadsDir, videoFields, type UploadOptions } from './upload-files.js';
import { credentialOf, hashCredential } from './direct-uploads.js';

/** Response header naming the video an upload creates (exposed to browsers via CORS). */
export const VIDEO_ID_HEADER = 'Strom-Video-Id';
/** Base path of the tus endpoint. */
export const TUS_PATH = '/api/v1/uploads';

type TusRequest = Parameters<NonNullable<ServerOptions['onUploadCreate']>>[0];

/** A tus error as @tus/server understands it (status + plain-text body). */
function tusError(status_code: number, body: string): { status_code: number; body: string } {
  return { status_code, body: `${body}\n` };
}

/**
 * Keep the tus S3 store's objects under `prefix` (it names them by upload id alone): prefix every
 * Key (and DeleteObjects keys, ListMultipartUploads' Prefix) on the way in, strip it from the keys
 * ListMultipartUploads and CreateMultipartUpload return.
 */
function prefixKeys(client: S3Client, prefix: string): void {
  type Io = { Key?: string; Prefix?: string; Delete?: { Objects?: Array<{ Key?: string }> }; Uploads?: Array<{ Key?: string }> };
  client.middlewareStack.add((next, context) => async (args) => {
    const input = { ...(args.input as Io) };
    if (typeof input.Key === 'string') input.Key = prefix + input.Key;
    if (input.Delete?.Objects) input.Delete = { ...input.Delete, Objects: input.Delete.Objects.map((x) => ({ ...x, Key: prefix + (x.Key ?? '') })) };
    if (context.commandName === 'ListMultipartUploadsCommand') input.Prefix = prefix + (input.Prefix ?? '');
    const out = await next({ ...args, input });
    const o = out.output as Io;
    if (typeof o.Key === 'string' && o.Key.startsWith(prefix)) o.Key = o.Key.slice(prefix.length);
    for (const u of o.Uploads ?? []) if (u.Key?.startsWith(prefix)) u.Key = u.Key.slice(prefix.length);
    return out;
  }, { step: 'initialize', name: 'stromUploadKeyPrefix' });
}

/** @tus/s3-store with its objects under a key prefix (its client is protected: set up here); loaded with the first bucket. */
function prefixedS3Store(prefix: string, options: ConstructorParameters<typeof S3Store>[0]): S3Store {
  const { S3Store: Store } = optionalModule<typeof TusS3>('@tus/s3-store');
  return new (class PrefixedS3Store extends Store {
    constructor() {
      super(options);
      prefixKeys(this.client, prefix);
    }
  })();
}

/** Where tus keeps upload bytes: files under `<dataDir>/uploads`, or the bucket under `<prefix>uploads/`. */
function createDatastore(o: UploadOptions): DataStore {
  const { config } = o;
  if (o.storage.kind === 'fs') return new FileStore({ directory: uploadsDir(config), expirationPeriodInMilliseconds: config.uploads.expireAfterMs });
  const s3 = config.storage.s3;
  const store = prefixedS3Store(`${normalizePrefix(s3.prefix)}uploads/`, {
    partSize: s3.partBytes,
    maxConcurrentPartUploads: s3.maxConcurrentWrites,
    expirationPeriodInMilliseconds: config.uploads.expireAfterMs,
    useTags: false, // expiry is found through ListMultipartUploads; R2 and others lack object tagging
    // No per-node cache of an upload's .info: another node may have finished or terminated it since.
    cache: { get: () => Promise.resolve(undefined), set: () => Promise.resolve(), delete: () => Promise.resolve() },
    s3ClientConfig: { bucket: s3.bucket!, ...s3ClientConfig(s3) },
  });
  return store;
}

/** The tus server, its expiry sweep, and `discard` (drop an unfinished upload and its waiting video). */
export interface Tus {
  server: Server;
  sweep(): Promise<number>;
  discard(videoId: string): Promise<void>;
  close(): void;
}

/** Build the tus server and its expiry sweeper; `close()` stops the sweeper. */
export function createTus(o: UploadOptions, log: FastifyInstance['log']): Tus {
  const { config, store, bus } = o;
  const datastore = createDatastore(o);
  const inBucket = o.storage.kind !== 'fs';
  const corsOrigin = config.delivery.corsOrigin;
  const server = new Server({
    path: TUS_PATH,
    datastore,
    maxSize: config.uploads.maxBytes,
    // A direct upload lives under its one-time URL, so the credential also authorises resuming it.
    generateUrl: (req, u) => {
      const pathname = new URL(req.url).pathname.replace(/\/$/, '');
      const rel = credentialOf(pathname) ? `${pathname}/${u.id}` : `${u.path}/${u.id}`;
      return config.publicUrl ? `${config.publicUrl.replace(/\/$/, '')}${rel}` : rel;
    },
    exposedHeaders: [VIDEO_ID_HEADER],
    allowedOrigins: corsOrigin === '*' ? undefined : corsOrigin === '' ? () => false : [corsOrigin],
    disableTerminationForFinishedUploads: true,
    // A direct upload's video exists already: its id is fixed by the credential, not by the client.
    namingFunction: async (req) => {
      const credential = credentialOf(new URL(req.url).pathname);
      if (!credential) return newId('v_');
      const row = await store.directUploads.byTokenHash(hashCredential(credential));
      if (row?.state !== 'uploading') throw tusError(410, 'direct upload is no longer open');
      return row.video_id;
    },
    // A catalog error from a hook (the metadata store unavailable: 503) keeps its status and JSON body.
    onResponseError: async (req, err) => {
      if (isStromError(err)) return { status_code: err.statusCode, body: `${JSON.stringify(err.toJSON())}\n` };
      if (!isNoSpace(err)) return undefined;
      // A full disk: the partial upload would hold the space every other write needs, so it goes
      // (bytes and waiting video); the client gets 507 and starts over once space is freed.
      const id = req.method === 'PATCH' ? new URL(req.url).pathname.split('/').at(-1) : undefined;
      if (id !== undefined) await discard(id).catch((e: unknown) => log.warn({ err: e, id }, 'could not remove the partial upload'));
      log.error({ err, id }, 'disk full during an upload: partial upload removed');
      const full = fail('STORAGE_FULL', 'the uploads directory');
      return { status_code: full.statusCode, body: `${JSON.stringify(full.toJSON())}\n` };
    },
    async onUploadCreate(req: TusRequest, upload: Upload) {
      if (credentialOf(new URL(req.url).pathname)) {
        // Title, visibility and protection were fixed when the direct upload was created.
        req.runtime?.node?.res?.setHeader(VIDEO_ID_HEADER, upload.id);
        return {};
      }
      const md = upload.metadata ?? {};
      let fields;
      try {
        fields = videoFields({ title: md.title ?? undefined, filename: md.filename ?? undefined, visibility: md.visibility ?? undefined, protection: md.protection ?? undefined });
      } catch (err) {
        throw tusError(400, `invalid Upload-Metadata: ${(err as Error).message}`);
      }
      const row = await store.videos.create({ id: upload.id, ...fields, status: 'waiting', metadata: { upload: TUS_MARKER, filename: md.filename ?? null } });
      bus.publish('video.created', { videoId: row.id, title: row.title });
      req.runtime?.node?.res?.setHeader(VIDEO_ID_HEADER, row.id);
      return {};
    },
    async onUploadFinish(_req: TusRequest, upload: Upload) {
      if (inBucket) await finishUpload(o, log, upload.id, `uploads/${upload.id}`, 'copy');
      else await finishUpload(o, log, upload.id, path.join(uploadsDir(config), upload.id), 'link');
      const direct = await store.directUploads.openForVideo(upload.id);
      if (direct) await store.directUploads.transition(direct.id, ['uploading'], 'done');
      return {};
    },
  });
  // The source is linked (copied in a bucket); drop the upload bytes and info once tus has answered.
  server.on(EVENTS.POST_FINISH, (_req, _res, upload) => {
    const removed = inBucket
      ? Promise.all([o.storage.delete(`uploads/${upload.id}`), o.storage.delete(`uploads/${upload.id}.info`), o.storage.delete(`uploads/${upload.id}.part`)])
      : datastore.remove(upload.id);
    removed.catch((err: unknown) => log.warn({ err, id: upload.id }, 'could not remove finished upload'));
  });
  server.on(EVENTS.POST_TERMINATE, (_req, _res, id) => {
    // A token holder may terminate a direct upload through this endpoint: its URL stops working too.
    const cancelDirect = store.directUploads.openForVideo(id).then((d) => d && store.directUploads.transition(d.id, ['waiting', 'uploading'], 'cancelled'));
    Promise.all([cancelDirect, dropWaiting(id)]).catch((err: unknown) => log.warn({ err, id }, 'could not delete terminated upload video'));
  });

  /** Delete a video whose upload went away, unless it already completed. */
  async function dropWaiting(id: string): Promise<void> {
    const row = await store.videos.get(id);
    if (row?.status !== 'waiting') return;
    await store.videos.delete(id);
    bus.publish('video.deleted', { videoId: id });
  }

  /** Drop an unfinished upload's bytes (if any arrived) and its waiting video. */
  async function discard(id: string): Promise<void> {
    await datastore.remove(id).catch(() => undefined); // no bytes yet: nothing to remove
    // @tus/s3-store's remove aborts the multipart upload but keeps an incomplete tail part.
    if (inBucket) await Promise.all([o.storage.delete(`uploads/${id}.part`), o.storage.delete(`uploads/${id}.info`)]);
    await dropWaiting(id);
  }

  let sweeping: Promise<number> | null = null;
  /** Remove expired uploads and direct uploads, then waiting tus videos older than the expiry (bounded batch). */
  async function sweepOnce(): Promise<number> {
    let removed = await server.cleanUpExpiredUploads();
    for (const d of await store.directUploads.expiredOpen(Date.now())) {
      if (!(await store.directUploads.transition(d.id, ['waiting', 'uploading'], 'expired'))) continue;
      await discard(d.video_id);
      removed++;
    }
    const cutoff = Date.now() - config.uploads.expireAfterMs;
    const page = await store.videos.list({ status: 'waiting', limit: 200 });
    for (const v of page.items) {
      const md = JSON.parse(v.metadata) as { upload?: string };
      if (md.upload === TUS_MARKER && v.created_at < cutoff) await dropWaiting(v.id);
    }
    return removed;
  }
  const sweep = (): Promise<number> => (sweeping ??= sweepOnce().finally(() => (sweeping = null)));
  const timer = setInterval(() => {
    sweep().catch((err: unknown) => log.warn({ err }, 'tus expiry sweep failed'));
  }, config.uploads.cleanupIntervalMs);
  timer.unref();
  return { server, sweep, discard, close: () => clearInterval(timer) };
}

/** The Fastify handler that hands a request to tus (after a PATCH content-type check). */
export function tusHandler(tus: Server) {
  return async (req: FastifyRequest<{ Params: { id?: string } }>, reply: FastifyReply) => {
    if (req.method === 'PATCH' && !/^application\/offset\+octet-stream\s*$/i.test(req.headers['content-type'] ?? '')) {
      throw fail('UNSUPPORTED_MEDIA_TYPE', req.headers['content-type'] ?? '(none)');
    }
    reply.hijack();
    reply.raw.setHeader('x-request-id', req.id);
    reply.raw.setHeader('Cache-Control', 'no-store');
    if (req.params.id) reply.raw.setHeader(VIDEO_ID_HEADER, req.params.id);
    try {
      await tus.handle(req.raw, reply.raw);
    } catch (err) {
      req.log.warn({ err }, 'tus request failed');
      if (!reply.raw.headersSent) reply.raw.writeHead(500).end();
      else reply.raw.destroy();
    }
  };
}

/** Register the tus routes on `app` (an encapsulated scope whose body parsers pass streams through). */
export function tusRoutes(app: FastifyInstance, tus: Server): void {
  const handle = tusHandler(tus);
  // `deadlineMs: 0`: a PATCH lasts as long as the client's chunk takes to arrive.
  const write = { scope: 'videos:write', deadlineMs: 0 } as const;
  const open = { scope: 'none', deadlineMs: 0 } as const; // CORS preflight carries no token
  app.route({ method: 'POST', url: TUS_PATH, config: write, handler: handle });
  app.route({ method: 'OPTIONS', url: TUS_PATH, config: open, handler: handle });
  app.route({ method: ['HEAD', 'PATCH', 'DELETE'], url: `${TUS_PATH}/:id`, config: write, handler: handle });
  app.route({ method: 'OPTIONS', url: `${TUS_PATH}/:id`, config: open, handler: handle });
}
