/**
 * What both upload paths (tus and multipart) share once bytes are on disk: where files live
 * (`<dataDir>/uploads/` while receiving, `<dataDir>/sources/<videoId>/source` once complete —
 * the original kept for reprocessing, never served) and the hand-off that turns a finished file
 * into a queued video. Kept in one place so both paths publish the same events in the same order.
 * With object storage (`storage.kind = s3`) the bytes live in the bucket instead: tus parts under
 * `uploads/<id>`, the complete original at `sources/<id>/source`, and the video's `source_path` is
 * `storage:sources/<id>/source` so any node's transcode job can fetch it.
 */
import { copyFile, link, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../config.js';
import type { EventBus } from '../../events/event-bus.js';
import type { Store } from '../../store/db/database.js';
import type { Protection, VideoRow, Visibility } from '../../store/db/schema.js';
import { sourceKey, STORAGE_URI, type BlobStorage } from '../../storage/blob-storage.js';

/** Called once an upload is complete and its file is at `sourceFile`; the app enqueues the transcode. */
export type OnUploaded = (videoId: string, sourceFile: string) => Promise<void> | void;

/** What `registerUploads` needs. */
export interface UploadOptions {
  config: Config;
  store: Store;
  bus: EventBus;
  onUploaded: OnUploaded;
  /** Media storage: files under the data directory, or a bucket shared by the nodes of a cluster. */
  storage: BlobStorage;
}

/** `<dataDir>/uploads`: bytes still arriving (tus files + `.json` info, multipart `.part` files). */
export function uploadsDir(config: Config): string {
  return path.join(config.dataDir, 'uploads');
}

/** `<dataDir>/sources/<videoId>/source`: the complete original of a video. */
export function sourceFile(config: Config, videoId: string): string {
  return path.join(config.dataDir, 'sources', videoId, 'source');
}

/** Title / visibility / protection as the client gave them (tus Upload-Metadata or multipart fields). */
export interface UploadMeta {
  title?: string;
  filename?: string;
  visibility?: string;
  protection?: string;
}

/** A refused upload field; `field` names it for the protocol's 400. */
export class UploadFieldError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

/** The protection values a video may be created with (docs/VOD.md "Content protection"). */
export const PROTECTIONS: readonly Protection[] = ['none', 'aes-128', 'cenc'];

/** Validated title, visibility and protection; throws an UploadFieldError (the caller maps it to its protocol's 400). */
export function videoFields(m: UploadMeta): { title: string; visibility: Visibility; protection: Protection } {
  const title = (m.title ?? m.filename ?? '').trim().slice(0, 500);
  const v = m.visibility ?? 'public';
  if (v !== 'public' && v !== 'signed') throw new UploadFieldError('visibility', `visibility must be "public" or "signed", not ${JSON.stringify(v).slice(0, 40)}`);
  const p = m.protection ?? 'none';
  if (!(PROTECTIONS as readonly string[]).includes(p)) throw new UploadFieldError('protection', `protection must be "none", "aes-128" or "cenc", not ${JSON.stringify(p).slice(0, 40)}`);
  return { title, visibility: v, protection: p as Protection };
}

/** Marker in `videos.metadata` of rows created by a tus upload (expiry cleanup only touches these). */
export const TUS_MARKER = 'tus';

/**
 * Put a complete upload at its source path (`rename`, or `link` when the caller removes `from`
 * itself later — tus still stats it while answering; in object storage `copy` from the key `from`,
 * or `stored` when the bytes were written to `sources/<id>/source` directly), mark the video
 * `queued`, call `onUploaded`. A failing `onUploaded` leaves the video `errored` (INTERNAL)
 * instead of queued forever.
 */
export async function finishUpload(o: UploadOptions, log: FastifyBaseLogger, videoId: string, from: string, how: 'rename' | 'link' | 'copy' | 'stored'): Promise<VideoRow | undefined> {
  const inStorage = how === 'copy' || how === 'stored';
  const to = inStorage ? STORAGE_URI + sourceKey(videoId) : sourceFile(o.config, videoId);
  if (how === 'copy') await o.storage.copy(from, sourceKey(videoId));
  else if (!inStorage) {
    await mkdir(path.dirname(to), { recursive: true });
    await rm(to, { force: true });
    if (how === 'rename') await rename(from, to);
    else {
      try {
        await link(from, to);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        await copyFile(from, to); // uploads/ and sources/ on different file systems
      }
    }
  }
  const row = await o.store.videos.setStatus(videoId, 'queued', { sourcePath: to });
  if (!row) {
    // Deleted while the last bytes arrived: keep nothing.
    if (inStorage) await o.storage.deletePrefix(`sources/${videoId}/`);
    else await rm(path.dirname(to), { recursive: true, force: true });
    return undefined;
  }
  try {
    await o.onUploaded(videoId, to);
  } catch (err) {
    log.error({ err, videoId }, 'onUploaded failed; video marked errored');
    return o.store.videos.setStatus(videoId, 'errored', { error: { code: 'INTERNAL', message: 'could not queue processing' } });
  }
  return row;
}

/** Delete a file, ignoring "already gone". */
export async function removeQuietly(file: string): Promise<void> {
  await rm(file, { force: true });
}
