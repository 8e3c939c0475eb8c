/**
 * Clips with object storage (s3rver), real ffmpeg: a video uploaded and transcoded into the
 * bucket is clipped; the clip job reads the source's objects, publishes the clip through the
 * storage's atomic publication (nothing on the node's disk, no staging left) and ffprobe plays it
 * at the snapped duration. A clip whose source has lost a segment errors and leaves nothing under
 * its prefix: complete or absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { testConfig } from '../../src/config.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { startUploads, type UploadServer } from '../helpers/upload-server.js';
import { startS3 } from '../helpers/s3.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
const s3 = await startS3();
const scratch = mkdtempSync(path.join(tmpdir(), 'strom-clips-s3-'));
process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));
const PREFIX = 'clips/';
const bucket = new S3Storage(testConfig(s3.settings(PREFIX)).storage.s3);
process.once('exit', () => bucket.close());

const filesUnder = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && !e.name.startsWith('.readyz-')).map((e) => e.name) : []);

async function status(s: UploadServer, token: string, id: string): Promise<{ status: string; durationS: number; error: { code: string } | null }> {
  return await (await fetch(`${s.url}/api/v1/videos/${id}`, { headers: { authorization: `Bearer ${token}` } })).json() as { status: string; durationS: number; error: { code: string } | null };
}

test('a clip is cut from the bucket into the bucket, atomically; a broken source leaves nothing', { timeout: 180_000 }, async (t) => {
  const file = path.join(scratch, 'src.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=480x270:rate=30:duration=6',
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=6', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', file]);
  const a = await startUploads(t, {
    ...s3.settings(PREFIX), 'store.url': `sqlite:${path.join(scratch, 'strom.db')}`, 'jobs.enabled': true, 'jobs.pollMs': 100,
    'vod.ladder': '240:300', 'vod.preset': 'ultrafast', 'vod.segmentSeconds': 1,
  });
  const token = await a.token(['videos:read', 'videos:write']);
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(readFileSync(file))]), 'src.mp4');
  const up = await fetch(`${a.url}/api/v1/video/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  const source = ((await up.json()) as { id: string }).id;
  await until(async () => (await status(a, token, source)).status === 'ready', 'source transcoded', 120_000, 200);

  const post = (body: unknown) => fetch(`${a.url}/api/v1/videos/${source}/clips`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const res = await post({ start: 2.5, end: 4.2 });
  assert.equal(res.status, 202);
  const clip = (await res.json() as { id: string; clipOf: { start: number; end: number } });
  assert.deepEqual([clip.clipOf.start, clip.clipOf.end], [2, 5]);
  await until(async () => ['ready', 'errored'].includes((await status(a, token, clip.id)).status), 'clip settled', 60_000, 100);
  assert.equal((await status(a, token, clip.id)).status, 'ready');
  const keys = (await bucket.list(`assets/${clip.id}/`)).map((e) => e.key.slice(`assets/${clip.id}/`.length));
  for (const k of ['master.m3u8', 'manifest.mpd', 'download.mp4', 'poster.jpg', 'v240/init.mp4', 'v240/seg_00002.m4s', 'a128/index.m3u8']) assert.ok(keys.includes(k), `${k} in ${keys.join(', ')}`);
  assert.ok(!keys.includes('v240/seg_00003.m4s'), 'three segments, renumbered from 0');
  assert.deepEqual(await bucket.list('staging/'), [], 'no staging objects left');
  assert.deepEqual(filesUnder(path.join(a.dataDir, 'assets')), [], 'nothing on the node disk');
  assert.deepEqual(filesUnder(path.join(a.dataDir, 'tmp')), [], 'work folder removed');
  const probe = JSON.parse((await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'json', `${a.url}/v/${clip.id}/master.m3u8`])).stdout) as { format: { duration: string } };
  assert.ok(Math.abs(Number(probe.format.duration) - 3) < 0.15, `duration ${probe.format.duration}`);

  // The source loses a segment the next clip needs: the job fails, the clip is errored and absent.
  await bucket.delete(`assets/${source}/v240/seg_00001.m4s`);
  const broken = await (await post({ start: 0.5, end: 2.5 })).json() as { id: string };
  await until(async () => ['ready', 'errored'].includes((await status(a, token, broken.id)).status), 'broken clip settled', 60_000, 100);
  const b = await status(a, token, broken.id);
  assert.equal(b.status, 'errored');
  assert.equal(b.error?.code, 'OBJECT_NOT_FOUND');
  assert.deepEqual(await bucket.list(`assets/${broken.id}/`), [], 'nothing published');
  assert.deepEqual(await bucket.list('staging/'), []);
  assert.deepEqual(filesUnder(path.join(a.dataDir, 'tmp')), []);
});
