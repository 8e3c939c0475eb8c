/**
 * The durable transcode queue end to end with real ffmpeg: kill -9 of the server mid-transcode
 * and a restart finish the asset exactly once; bad media errors without retries; deleting a video
 * mid-transcode stops ffmpeg and removes every file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db/database.js';
import { sourceDir, TRANSCODE } from '../../src/vod/vod-service.js';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { assertAssetCompleteOnce, workDirs } from '../helpers/asset-checks.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const LADDER = '360:600,240:300';

function makeSource(dir: string, seconds: number): string {
  const file = path.join(dir, `src-${seconds}.mp4`);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`, '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', file]);
  return file;
}

/** Insert a video with a stored source and a queued transcode job, as an upload would. */
async function queueVideo(dataDir: string, source: string, title: string): Promise<string> {
  const store = await openStore(dataDir);
  try {
    const v = await store.videos.create({ title, status: 'queued' });
    const dir = sourceDir(dataDir, v.id);
    mkdirSync(dir, { recursive: true });
    copyFileSync(source, path.join(dir, 'source'));
    await store.videos.update(v.id, { sourcePath: path.join(dir, 'source') });
    await store.jobs.enqueue({ kind: TRANSCODE, videoId: v.id, maxAttempts: 3 });
    return v.id;
  } finally {
    await store.close();
  }
}

async function videoRow(dataDir: string, id: string) {
  const store = await openStore(dataDir);
  try {
    return { video: await store.videos.get(id), jobs: await store.jobs.forVideo(id) };
  } finally {
    await store.close();
  }
}

function startServer(dataDir: string): ChildProcess {
  return spawn(process.execPath, [path.join(ROOT, 'bin/strom.js'), 'serve', '--data', dataDir, '--port', '0', '--rtmp-port', '0',
    '--set', `vod.ladder=${LADDER}`, '--set', 'vod.preset=ultrafast', '--set', 'jobs.pollMs=100', '--set', 'logLevel=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('kill -9 mid-transcode: after restart the job runs again and the asset ends complete, once', { timeout: 180_000 }, async (t) => {
  if (!existsSync(path.join(ROOT, 'dist/main.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-kill9-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const id = await queueVideo(dataDir, makeSource(dataDir, 12), 'kill me');

  const first = startServer(dataDir);
  await waitFor('transcode progress', async () => {
    const { video } = await videoRow(dataDir, id);
    return video && video.status === 'processing' && video.progress > 0 ? true : undefined;
  }, 60_000);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const mid = await videoRow(dataDir, id);
  assert.notEqual(mid.video!.status, 'ready', 'killed before the end');

  const second = startServer(dataDir);
  t.after(() => second.kill('SIGKILL'));
  const done = await waitFor('ready', async () => {
    const r = await videoRow(dataDir, id);
    return r.video && (r.video.status === 'ready' || r.video.status === 'errored') ? r : undefined;
  }, 120_000);
  assert.equal(done.video!.status, 'ready', `${done.video!.error_code}: ${done.video!.error_message}`);
  assert.equal(done.jobs.length, 1, 'one job, not a duplicate');
  assert.equal(done.jobs[0]!.state, 'done');

  // Complete and not duplicated: every rendition's playlist lists exactly the segments on disk.
  assertAssetCompleteOnce(dataDir, id);
});

test('bad media errors at once with its code and is not retried', { timeout: 60_000 }, async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-badjob-'));
  const garbage = path.join(dataDir, 'garbage.mp4');
  writeFileSync(garbage, 'this is not a video at all\n'.repeat(100));
  const id = await queueVideo(dataDir, garbage, 'garbage');
  const strom = await buildStrom(testConfig({ dataDir, 'rtmp.port': 0, 'jobs.pollMs': 50 }));
  await strom.listen();
  t.after(async () => {
    await strom.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const errored = new Promise<{ code: string }>((resolve) => strom.bus.subscribe((e) => e.type === 'video.errored' && resolve(e.data as { code: string })));
  assert.equal((await errored).code, 'MEDIA_NOT_MEDIA');
  const v = await strom.control.store.videos.get(id);
  assert.equal(v!.status, 'errored');
  assert.match(v!.error_message ?? '', /not a media file/);
  const job = await waitFor('job settled', async () => {
    const [j] = await strom.control.store.jobs.forVideo(id);
    return j && j.state !== 'running' ? j : undefined;
  }, 10_000);
  assert.equal(job.state, 'failed');
  assert.equal(job.attempts, 1, 'a permanent failure is not retried');
  assert.equal(existsSync(path.join(dataDir, 'assets', id)), false, 'nothing published');
});

test('deleting a video mid-transcode stops ffmpeg and removes its files', { timeout: 90_000 }, async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-cancel-'));
  const id = await queueVideo(dataDir, makeSource(dataDir, 20), 'cancel me');
  const strom = await buildStrom(testConfig({ dataDir, 'rtmp.port': 0, 'jobs.pollMs': 50, 'vod.ladder': LADDER, 'vod.preset': 'ultrafast' }));
  await strom.listen();
  t.after(async () => {
    await strom.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  await new Promise<void>((resolve) => strom.bus.subscribe((e) => e.type === 'video.progress' && (e.data as { percent: number }).percent > 0 && resolve()));
  const ffmpegBefore = execFileSync('pgrep', ['-f', `sources/${id}/source`], { encoding: 'utf8' }).trim();
  assert.notEqual(ffmpegBefore, '', 'ffmpeg runs for this video');
  await strom.control.store.videos.delete(id);
  await strom.control.store.jobs.cancelForVideo(id);
  await waitFor('ffmpeg gone', async () => {
    try {
      execFileSync('pgrep', ['-f', `sources/${id}/source`]);
      return undefined;
    } catch {
      return true;
    }
  }, 10_000);
  await waitFor('running job unwound', async () => (strom.vod.pool.active === 0 ? true : undefined), 10_000);
  assert.equal(existsSync(path.join(dataDir, 'assets', id)), false, 'no published files');
  const tmp = path.join(dataDir, 'tmp');
  assert.deepEqual(workDirs(tmp), [], 'no work directory');
});
