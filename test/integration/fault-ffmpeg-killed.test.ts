/**
 * Fault: the transcode's ffmpeg child dies mid-way (SIGKILL, as the kernel's OOM killer sends)
 * while the server stays up. The attempt fails as a transient error, the job is retried and the
 * video becomes ready with a complete asset, once: every rendition's playlist lists exactly the
 * segments on disk, one job row, two attempts, no work directory left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { openStore } from '../../src/store/db/database.js';
import { sourceDir, TRANSCODE } from '../../src/vod/vod-service.js';
import { childPids } from '../../bench/soak/server.js';
import { assertAssetCompleteOnce } from '../helpers/asset-checks.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** ffmpeg children of this process working in `dir`. */
function ffmpegIn(dir: string): number[] {
  return childPids(process.pid, 'ffmpeg').filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
    } catch {
      return false;
    }
  });
}

/** Poll `f` until it returns a value (or fail after `ms`). */
async function poll<T>(f: () => Promise<T | undefined>, what: string, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('ffmpeg SIGKILLed mid-transcode: the job is retried and the asset ends complete, once', { timeout: 180_000 }, async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-ffkill-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const source = path.join(dataDir, 'src.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30:duration=12',
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=12', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', source]);
  const store = await openStore(dataDir);
  const v = await store.videos.create({ title: 'ffmpeg killed', status: 'queued' });
  mkdirSync(sourceDir(dataDir, v.id), { recursive: true });
  copyFileSync(source, path.join(sourceDir(dataDir, v.id), 'source'));
  await store.videos.update(v.id, { sourcePath: path.join(sourceDir(dataDir, v.id), 'source') });
  await store.jobs.enqueue({ kind: TRANSCODE, videoId: v.id, maxAttempts: 3 });

  const strom = await buildStrom(testConfig({ dataDir, 'rtmp.enabled': false, 'vod.ladder': '360:600,240:300', 'vod.preset': 'ultrafast', 'jobs.pollMs': 100, 'jobs.retryBaseMs': 200 }));
  t.after(async () => {
    await strom.close();
    await store.close();
  });
  await strom.listen();

  const victim = await poll(async () => {
    const row = await store.videos.get(v.id);
    const pids = ffmpegIn(dataDir);
    return row?.status === 'processing' && row.progress > 0 && pids.length > 0 ? pids[0] : undefined;
  }, 'ffmpeg transcoding with progress', 60_000);
  process.kill(victim, 'SIGKILL');

  const done = await poll(async () => {
    const row = await store.videos.get(v.id);
    return row && (row.status === 'ready' || row.status === 'errored') ? row : undefined;
  }, 'the video settles', 120_000);
  assert.equal(done.status, 'ready', `${done.error_code}: ${done.error_message}`);
  const jobs = await store.jobs.forVideo(v.id);
  assert.equal(jobs.length, 1, 'one job, not a duplicate');
  assert.equal(jobs[0]!.state, 'done');
  assert.equal(jobs[0]!.attempts, 2, 'the killed attempt, then the one that finished');

  assertAssetCompleteOnce(dataDir, v.id);
});
