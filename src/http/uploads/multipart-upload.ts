/**
 * `POST /api/v1/video/upload`: the original design's one-shot multipart upload. The first file
 * part is piped (with backpressure) straight into `<dataDir>/uploads/mp_<id>.part` — the body is
 * never buffered, so RSS stays flat for a 2 GB upload — and `uploads.maxBytes` is enforced while
 * the bytes arrive: past the limit the request is cut off with 413 and the partial file deleted,
 * before any video row exists. Fields (`title`, `visibility`) may come before or after the file.
 * With object storage the file part streams (lib-storage Upload, two parts in memory at most)
 * straight to `sources/<id>/source` under an id chosen up front; a refused upload deletes the key.
 */
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage } from 'node:http';
import { Busboy, type BusboyHeaders } from '@fastify/busboy';
import type { FastifyInstance } from 'fastify';
import { fail, isNoSpace, StromError } from '../../errors.js';
import { newId } from '../../store/db/ids.js';
import { videoJson } from '../api/videos.js';
import { finishUpload, removeQuietly, UploadFieldError, uploadsDir, videoFields, type UploadOptions } from './upload-files.js';
import { sourceKey, type BlobStorage } from '../../storage/blob-storage.js';

/** Route of the multipart alias. */
export const MULTIPART_PATH = '/api/v1/video/upload';
/** Form field the file is expected in (any file field is accepted; this one is named in errors). */
export const FILE_FIELD = 'file';

/** A received multipart body: the temp file and the text fields. */
interface Received {
  tmp: string;
  bytes: number;
  filename: string;
  fields: Record<string, string>;
}

/** Where the file part goes: `name` (a path or a storage key), how it is written and removed again. */
interface Sink {
  name: string;
  /** Destroy the part's stream when it crosses the limit (an object store would otherwise complete a truncated body). */
  abortOnLimit: boolean;
  write(stream: Readable): Promise<void>;
  remove(): Promise<void>;
}

/** A temp file under `dir` (the file system). */
function fileSink(dir: string): Sink {
  const target = path.join(dir, `mp_${newId('', 12)}.part`);
  return { name: target, abortOnLimit: false, write: (stream) => pipeline(stream, createWriteStream(target)), remove: () => removeQuietly(target) };
}

/** The source key of `videoId` in object storage; removal waits for an interrupted write to settle. */
function storageSink(storage: BlobStorage, videoId: string): Sink {
  const key = sourceKey(videoId);
  let writing: Promise<void> = Promise.resolve();
  return {
    name: key,
    abortOnLimit: true,
    write(stream) {
      writing = storage.write(key, stream);
      return writing;
    },
    remove: () => writing.catch(() => undefined).then(() => storage.deletePrefix(`sources/${videoId}/`)).then(() => undefined),
  };
}

/** Stream the first file part of `req` into a sink; rejects with a catalog error. */
function receive(req: IncomingMessage, sink: () => Sink, maxBytes: number): Promise<Received> {
  return new Promise((resolve, reject) => {
    const bb = Busboy({ headers: req.headers as BusboyHeaders, limits: { fileSize: maxBytes, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 64 } });
    const fields: Record<string, string> = {};
    let file: Promise<{ tmp: string; bytes: number; filename: string }> | null = null;
    let out: Sink | null = null;
    let settled = false;
    const stop = (err: StromError) => {
      if (settled) return;
      settled = true;
      req.unpipe(bb);
      bb.destroy();
      if (out) void out.remove().catch(() => undefined);
      reject(err);
    };
    bb.on('field', (name, value) => {
      fields[name] = value;
    });
    bb.on('file', (_field, stream, filename) => {
      if (file || settled) {
        stream.resume(); // only the first file counts
        return;
      }
      const target = sink();
      out = target;
      stream.on('limit', () => {
        if (target.abortOnLimit) stream.destroy();
        stop(fail('UPLOAD_TOO_LARGE', maxBytes));
      });
      file = target.write(stream).then(() => ({ tmp: target.name, bytes: stream.bytesRead, filename }));
      file.catch((err: unknown) => stop(err instanceof StromError ? err : isNoSpace(err) ? fail('STORAGE_FULL', 'the uploads directory') : fail('UPLOAD_MALFORMED', (err as Error).message)));
    });
    bb.on('error', (err: unknown) => stop(fail('UPLOAD_MALFORMED', (err as Error).message)));
    bb.on('finish', () => {
      if (settled) return;
      if (!file) return stop(fail('UPLOAD_FIELD_MISSING', FILE_FIELD));
      file.then((f) => {
        if (settled) return;
        settled = true;
        resolve({ ...f, fields });
      }, () => undefined);
    });
    req.on('aborted', () => stop(fail('CLIENT_CLOSED')));
    req.pipe(bb);
  });
}

/** Register the multipart route (in the uploads scope, whose body parsers pass streams through). */
export function multipartRoutes(app: FastifyInstance, o: UploadOptions): void {
  // CORS preflight (carries no token); Access-Control-Allow-Origin comes from the scope's onSend hook.
  app.options(MULTIPART_PATH, { config: { scope: 'none' } }, async (_req, reply) =>
    reply.code(204).header('access-control-allow-methods', 'POST, OPTIONS').header('access-control-allow-headers', 'Authorization, Content-Type').header('access-control-max-age', '86400').send());
  app.post(MULTIPART_PATH, { config: { scope: 'videos:write', deadlineMs: 0 } }, async (req, reply) => {
    const type = req.headers['content-type'] ?? '';
    if (!/^multipart\/form-data\s*;/i.test(type)) throw fail('UNSUPPORTED_MEDIA_TYPE', type || '(none)');
    const declared = Number(req.headers['content-length'] ?? NaN);
    // A body whose declared size alone exceeds the limit (plus room for form framing) is refused before a byte is read.
    if (declared > o.config.uploads.maxBytes + 64 * 1024) {
      void reply.header('connection', 'close');
      throw fail('UPLOAD_TOO_LARGE', o.config.uploads.maxBytes);
    }
    let got: Received;
    // In a bucket the bytes go straight to the source key of an id chosen now (no local copy).
    const storageId = o.storage.kind === 'fs' ? null : newId('v_');
    const remove = (): Promise<void> => (storageId === null ? removeQuietly(got.tmp) : o.storage.deletePrefix(`sources/${storageId}/`).then(() => undefined));
    try {
      got = await receive(req.raw, storageId === null ? () => fileSink(uploadsDir(o.config)) : () => storageSink(o.storage, storageId), o.config.uploads.maxBytes);
    } catch (err) {
      void reply.header('connection', 'close'); // the rest of the body is not read
      throw err;
    }
    let fields;
    try {
      fields = videoFields({ title: got.fields.title, filename: got.filename ? path.parse(got.filename).name : undefined, visibility: got.fields.visibility, protection: got.fields.protection });
    } catch (err) {
      await remove();
      throw fail('VALIDATION_FAILED', err instanceof UploadFieldError ? err.field : 'field', (err as Error).message);
    }
    let created;
    let row;
    try {
      created = await o.store.videos.create({ ...(storageId === null ? {} : { id: storageId }), ...fields, status: 'waiting', metadata: { upload: 'multipart', filename: got.filename || null, bytes: got.bytes } });
      o.bus.publish('video.created', { videoId: created.id, title: created.title });
      row = await finishUpload(o, req.log, created.id, got.tmp, storageId === null ? 'rename' : 'stored');
    } catch (err) {
      await remove(); // nothing else ever sweeps mp_*.part files (or unreferenced source keys)
      throw err;
    }
    return reply.code(201).header('location', `/api/v1/videos/${created.id}`).send(videoJson(row ?? created));
  });
}
