/**
 * Where a finished recording directory goes (docs/STORAGE.md "Atomic publication"): on the file
 * system one rename(2) of `tmp/rec-…` to `assets/<videoId>/`; with object storage the storage's
 * atomic publication (upload to a staging prefix, copy into place with the manifests last), after
 * which the local directory is removed. A failure leaves nothing under the asset's prefix either way.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { assetPrefix, type BlobStorage } from '../../storage/blob-storage.js';

/** Publish the recording in `dir` as the asset of `videoId`. */
export async function publishRecordingDir(dir: string, videoId: string, dataDir: string, storage?: BlobStorage): Promise<void> {
  if (storage !== undefined && storage.kind !== 'fs') {
    await storage.publish(dir, assetPrefix(videoId));
    await rm(dir, { recursive: true, force: true });
    return;
  }
  await mkdir(path.join(dataDir, 'assets'), { recursive: true });
  await rename(dir, path.join(dataDir, 'assets', videoId));
}
