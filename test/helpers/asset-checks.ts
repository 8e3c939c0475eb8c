/**
 * What "the asset is complete, once" means on disk, for tests that interrupt a transcode (a killed
 * server, a killed ffmpeg): every rendition's playlist ends and lists exactly the segments on
 * disk, and no work directory is left in tmp/.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Entries of tmp/ other than the readiness check's write probes (`.readyz-*`, written and removed each check). */
export function workDirs(tmp: string): string[] {
  return existsSync(tmp) ? readdirSync(tmp).filter((n) => !n.startsWith('.readyz-')) : [];
}

/** Assert video `id` under `dataDir` is complete and not duplicated for `rungs`, with no work directory left. */
export function assertAssetCompleteOnce(dataDir: string, id: string, rungs: readonly string[] = ['v360', 'v240', 'a128']): void {
  const asset = path.join(dataDir, 'assets', id);
  for (const rung of rungs) {
    const playlist = readFileSync(path.join(asset, rung, 'index.m3u8'), 'utf8');
    assert.match(playlist, /#EXT-X-ENDLIST/);
    const listed = playlist.split('\n').filter((l) => l.endsWith('.m4s')).sort();
    const onDisk = readdirSync(path.join(asset, rung)).filter((f) => f.endsWith('.m4s')).sort();
    assert.deepEqual(onDisk, listed, `${rung}: segments on disk = segments listed`);
  }
  assert.deepEqual(workDirs(path.join(dataDir, 'tmp')), [], 'no work directory left behind');
}
