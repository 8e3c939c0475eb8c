/**
 * Publications a crashed node left behind: `publish` on object storage uploads under
 * `staging/<asset>-<random>/` before copying into place and deletes that prefix when it ends, so a
 * folder still there long after its newest object was written belongs to a node that died
 * mid-publication. Such folders are never served; this deletes them (a bucket lifecycle rule on
 * `staging/` does the same job without Strom).
 */
import type { BlobStorage } from './blob-storage.js';

/** Age past which a staging folder is abandoned: far longer than any publication takes. */
export const STAGING_MAX_AGE_MS = 6 * 3_600_000;

/** Delete every staging folder whose newest object is older than `maxAgeMs` at `now`; returns the folders. */
export async function sweepStaging(storage: BlobStorage, maxAgeMs = STAGING_MAX_AGE_MS, now = Date.now()): Promise<string[]> {
  const newest = new Map<string, number>();
  for (const e of await storage.list('staging/')) {
    const end = e.key.indexOf('/', 'staging/'.length);
    if (end < 0) continue;
    const folder = e.key.slice(0, end + 1);
    newest.set(folder, Math.max(newest.get(folder) ?? 0, e.mtimeMs ?? now));
  }
  const removed: string[] = [];
  for (const [folder, at] of newest) {
    if (now - at <= maxAgeMs) continue;
    await storage.deletePrefix(folder);
    removed.push(folder);
  }
  return removed;
}
