/**
 * `createStorage(config)`: the media storage a process runs with (`storage.kind`).
 *
 * `fs` stays the default because a single node needs nothing else: the delivery origin reads
 * files in place with one stat per `delivery.metaTtlMs` and one read per cache miss (no network hop,
 * no per-request cost — bench/delivery figures), ffmpeg transcodes and thumbnails read the files
 * directly, and publication is one rename(2). `s3` is for a cluster, where every node must serve
 * every asset and resume every upload: it costs a network round trip per cache miss and a
 * download/upload around each transcode, which the hot cache and metadata cache hide once an
 * object is warm (docs/BENCHMARKS.md "Delivery from object storage").
 */
import path from 'node:path';
import type { Config } from '../config.js';
import type { BlobStorage } from './blob-storage.js';
import { FsStorage } from './fs-storage.js';
import { S3Storage } from './s3-storage.js';
import type { StorageMetrics } from './storage-metrics.js';

/** A storage together with its operation metrics. */
export type InstrumentedStorage = BlobStorage & { readonly metrics: StorageMetrics };

/** Longest the `bucket` readiness check waits for the bucket. */
export const BUCKET_CHECK_MS = 2000;

/**
 * The `/readyz` check of a bucket (null on a file system, whose writability the `storage` check
 * covers): one HEAD of a key that need not exist — "not found" means the bucket answers with these
 * credentials; a refused connection, a timeout or AccessDenied is the reason, naming endpoint and bucket.
 */
export function bucketCheck(storage: BlobStorage): (() => Promise<string | null>) | null {
  if (storage.kind === 'fs') return null;
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`media storage ${storage.where} did not answer within ${BUCKET_CHECK_MS} ms`), BUCKET_CHECK_MS)));
    const head = storage.stat('readyz-probe').then(() => null, (err: unknown) => (err as Error).message);
    return Promise.race([head, late]).finally(() => clearTimeout(timer));
  };
}

/** The storage `config.storage.kind` names, rooted at the data directory or the bucket prefix. */
export function createStorage(config: Config): InstrumentedStorage {
  if (config.storage.kind === 's3') return new S3Storage(config.storage.s3);
  return new FsStorage(path.resolve(config.dataDir));
}
