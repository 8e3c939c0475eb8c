/**
 * The media storage contract: what uploads, VOD, live recording, thumbnails and delivery need from
 * the place media lives, as one small interface with two implementations — `fs-storage.ts` (files
 * under the data directory, the default) and `s3-storage.ts` (an S3-compatible bucket shared by the
 * nodes of a cluster). Keys are `/`-separated paths relative to the storage root, the same names as
 * the data directory layout (docs/STORAGE.md): `assets/<id>/<rel>`, `sources/<id>/source`,
 * `uploads/<id>`.
 *
 * Publication is the one operation with a guarantee beyond single objects: `publish(localDir,
 * prefix)` makes a finished directory visible under `prefix` so that a reader that can see a
 * manifest (`*.m3u8`, `*.mpd`) can see every object it names, and a failed publish leaves nothing
 * under `prefix`.
 */
import type { Readable } from 'node:stream';

/** Facts about one stored object. */
export interface BlobStat {
  size: number;
  /** Strong validator, quoted (`"…"`): S3's ETag, or size-mtime on a file system. */
  etag: string;
  mtimeMs: number;
}

/** A stored object found by `list`. */
export interface BlobEntry {
  key: string;
  size: number;
  /** The object's ETag where the listing gives it (S3), for re-checks without a HEAD per object. */
  etag?: string;
  /** Last modification, where the listing gives it. */
  mtimeMs?: number;
}

/** An inclusive byte range. */
export interface BlobRange {
  start: number;
  end: number;
}

/** Options of a write. */
export interface WriteOptions {
  contentType?: string;
}

/** Media storage (see the module header). Every failure other than "not found" is a STORAGE_UNAVAILABLE error. */
export interface BlobStorage {
  readonly kind: 'fs' | 's3';
  /** Where the media lives, for messages and logs (`s3://bucket/prefix at endpoint`, or the data directory); never a secret. */
  readonly where: string;
  /** Size, ETag and mtime, or null when there is no such object. */
  stat(key: string): Promise<BlobStat | null>;
  /** A stream of the object (or of `range`), read with backpressure; rejects OBJECT_NOT_FOUND when absent. */
  read(key: string, range?: BlobRange): Promise<Readable>;
  /** The whole object in one Buffer (for the hot cache); rejects OBJECT_NOT_FOUND when absent. */
  readAll(key: string): Promise<Buffer>;
  /**
   * Stat and, when the object has at most `maxBytes`, its body — with one request where the
   * backend allows it (a ranged GET), so a cold delivery miss costs one round trip. Null when absent.
   */
  fetchSmall(key: string, maxBytes: number): Promise<{ stat: BlobStat; body: Buffer | null } | null>;
  /** Store `body` at `key`, replacing what was there; visible whole or not at all. */
  write(key: string, body: Buffer | string | Readable, opts?: WriteOptions): Promise<void>;
  /** Store the local file `file` at `key` (large files in parts). */
  writeFile(key: string, file: string, opts?: WriteOptions): Promise<void>;
  /** Copy the local file of `key` to `file` (callers that need a real file: ffmpeg, ffprobe). */
  download(key: string, file: string): Promise<void>;
  /** Copy an object to another key (server-side where possible). */
  copy(from: string, to: string): Promise<void>;
  /** Every object whose key starts with `prefix`. */
  list(prefix: string): Promise<BlobEntry[]>;
  /** Delete one object; absent is fine. */
  delete(key: string): Promise<void>;
  /** Delete every object under `prefix` (a `/`-terminated folder); returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /** Atomic publication of `localDir` under `prefix` (see the module header); fails STORAGE_EXISTS when `prefix` holds anything. */
  publish(localDir: string, prefix: string): Promise<void>;
  /** The local path of `key` when the storage is a file system (read in place), else null. */
  localPath(key: string): string | null;
  /** Release connections. */
  close(): void;
}

/** Key prefix of a published asset (`assets/<id>/`). */
export function assetPrefix(assetId: string): string {
  return `assets/${assetId}/`;
}

/** Key of the kept original of a video. */
export function sourceKey(videoId: string): string {
  return `sources/${videoId}/source`;
}

/** `source_path` value of a source kept in object storage (`storage:<key>`); file system sources keep absolute paths. */
export const STORAGE_URI = 'storage:';

/**
 * Publication order of a file of an asset (relative path): 0 = media (segments, init, images),
 * 1 = media playlists, 2 = the entry manifests players open first (`master.m3u8`, `manifest.mpd`).
 * Lower ranks are complete before any higher one becomes visible.
 */
export function publishRank(rel: string): 0 | 1 | 2 {
  const name = rel.slice(rel.lastIndexOf('/') + 1);
  if (rel === name && (name === 'master.m3u8' || name === 'manifest.mpd')) return 2;
  return name.endsWith('.m3u8') || name.endsWith('.mpd') ? 1 : 0;
}

const TYPES: Record<string, string> = {
  m3u8: 'application/vnd.apple.mpegurl', mpd: 'application/dash+xml', m4s: 'video/iso.segment', mp4: 'video/mp4',
  m4a: 'audio/mp4', vtt: 'text/vtt; charset=utf-8', jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', json: 'application/json',
};

/** Content-Type stored with an object (for buckets also served directly), by extension. */
export function contentTypeOf(key: string): string {
  const dot = key.lastIndexOf('.');
  return (dot > key.lastIndexOf('/') && TYPES[key.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}
