/**
 * VOD with object storage, end to end with real ffmpeg: a clip uploaded to node A (multipart,
 * straight into the bucket) is transcoded by A's job runner — source downloaded to A's tmp/,
 * output published atomically to the bucket, temp files removed — and then played by ffprobe from
 * node B, whose own data directory never held any of it; B renders a thumbnail from the bucket
 * (init + one segment) and deleting the video on B empties the bucket of it. A source that is not
 * media errors without leaving anything under the asset's prefix. An `aes-128` video puts only ciphertext in
 * the bucket, and node B serves the derived key that decrypts node A's segments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createDecipheriv } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { testConfig } from '../../src/config.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import type { BusEvent } from '../../src/events/event-bus.js';
import { startUploads, type UploadServer } from '../helpers/upload-server.js';
import { startS3 } from '../helpers/s3.js';

const run = promisify(execFile);
const s3 = await startS3();
const scratch = mkdtempSync(path.join(tmpdir(), 'strom-vod-s3-'));
process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));
const PREFIX = 'vod/';
const settings = {
  ...s3.settings(PREFIX), 'store.url': `sqlite:${path.join(scratch, 'strom.db')}`, 'auth.jwtSecret': 'vod-s3-test-secret-0123456789abcdef',
  'vod.ladder': '360:600,240:300', 'vod.preset': 'ultrafast', 'vod.segmentSeconds': 2, 'jobs.pollMs': 100,
};
const bucket = new S3Storage(testConfig(s3.settings(PREFIX)).storage.s3);
process.once('exit', () => bucket.close());

/** Files below `dir`, ignoring the readiness probe's `.readyz-*` files. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && !e.name.startsWith('.readyz-')).map((e) => path.join(e.parentPath, e.name));
}

/** Multipart POST of a local file; resolves with the video id. */
async function upload(s: UploadServer, file: string, title: string): Promise<string> {
  const form = new FormData();
  form.append('title', title);
  form.append('file', new Blob([new Uint8Array(readFileSync(file))]), path.basename(file));
  const res = await fetch(`${s.url}/api/v1/video/upload`, { method: 'POST', headers: { authorization: `Bearer ${await s.token()}` }, body: form });
  assert.equal(res.status, 201, await res.clone().text());
  return ((await res.json()) as { id: string }).id;
}

/** Resolve with the first event of `types` for `videoId`. */
function settled(s: UploadServer, videoId: string, types: string[], timeoutMs = 120_000): Promise<BusEvent> {
  return new Promise((resolve, reject) => {
    const seen = s.events.find((e) => types.includes(e.type) && (e.data as { videoId?: string }).videoId === videoId);
    if (seen) return resolve(seen);
    const timer = setTimeout(() => reject(new Error(`no ${types.join('/')} for ${videoId} within ${timeoutMs} ms`)), timeoutMs);
    const off = s.strom.bus.subscribe((e) => {
      if (!types.includes(e.type) || (e.data as { videoId?: string }).videoId !== videoId) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

test('uploaded on node A, transcoded on A into the bucket, played by ffprobe from node B', { timeout: 240_000 }, async (t) => {
  const clip = path.join(scratch, 'clip.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30:duration=5',
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=5', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', clip]);
  const a = await startUploads(t, { ...settings, 'jobs.enabled': true });
  const b = await startUploads(t, settings); // jobs off: B only serves
  const id = await upload(a, clip, 'Bucket clip');
  const done = await settled(a, id, ['video.ready', 'video.errored']);
  assert.equal(done.type, 'video.ready', JSON.stringify(done.data));

  const keys = (await bucket.list(`assets/${id}/`)).map((e) => e.key.slice(`assets/${id}/`.length));
  for (const k of ['master.m3u8', 'manifest.mpd', 'download.mp4', 'v360/init.mp4', 'v360/index.m3u8', 'v240/index.m3u8']) assert.ok(keys.includes(k), `${k} in ${keys.join(', ')}`);
  assert.deepEqual(await bucket.list('staging/'), [], 'no staging objects left');
  for (const n of [a, b]) {
    assert.deepEqual(filesUnder(path.join(n.dataDir, 'assets')), [], 'no asset on a node disk');
    assert.deepEqual(filesUnder(path.join(n.dataDir, 'sources')), [], 'no source on a node disk');
    assert.deepEqual(filesUnder(path.join(n.dataDir, 'tmp')), [], 'temp files removed');
  }

  // Node B never had the asset on disk: ffprobe plays the HLS and the download through B.
  const probe = JSON.parse((await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type,height', '-of', 'json', `${b.url}/v/${id}/master.m3u8`])).stdout) as { format: { duration: string }; streams: Array<{ codec_type: string; height?: number }> };
  assert.ok(Math.abs(Number(probe.format.duration) - 5) < 1, `duration ${probe.format.duration}`);
  assert.ok(probe.streams.some((s) => s.codec_type === 'video' && s.height === 360), JSON.stringify(probe.streams));
  assert.ok(probe.streams.some((s) => s.codec_type === 'audio'));
  const mp4 = JSON.parse((await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'json', `${b.url}/v/${id}/download.mp4`])).stdout) as { format: { duration: string } };
  assert.ok(Math.abs(Number(mp4.format.duration) - 5) < 1);

  // A thumbnail on B from the bucket.
  const token = await b.token(['videos:read', 'videos:write']);
  const thumb = await fetch(`${b.url}/api/v1/videos/${id}/thumbnail?time=3.2&width=160`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(thumb.status, 200, await thumb.clone().text());
  const jpeg = Buffer.from(await thumb.arrayBuffer());
  assert.equal(jpeg.subarray(0, 2).toString('hex'), 'ffd8');
  assert.deepEqual(filesUnder(path.join(b.dataDir, 'tmp')), [], 'thumbnail temp file removed');

  // Deleting the video on B removes its objects.
  const del = await fetch(`${b.url}/api/v1/videos/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  assert.equal(del.status, 204);
  assert.deepEqual(await bucket.list(`assets/${id}/`), []);
  assert.deepEqual(await bucket.list(`sources/${id}/`), []);
  assert.equal((await fetch(`${b.url}/v/${id}/master.m3u8`)).status, 404);
});

test('a source that is not media errors; nothing is published under its prefix', { timeout: 120_000 }, async (t) => {
  const junk = path.join(scratch, 'junk.mp4');
  writeFileSync(junk, Buffer.alloc(200_000, 7));
  const a = await startUploads(t, { ...settings, 'jobs.enabled': true });
  const id = await upload(a, junk, 'Junk');
  const done = await settled(a, id, ['video.ready', 'video.errored']);
  assert.equal(done.type, 'video.errored');
  assert.deepEqual(await bucket.list(`assets/${id}/`), []);
  assert.deepEqual(await bucket.list('staging/'), []);
  assert.deepEqual(filesUnder(path.join(a.dataDir, 'tmp')), []);
});

test('aes-128 into the bucket: only ciphertext is published; node B serves the derived key that decrypts it', { timeout: 240_000 }, async (t) => {
  const clip = path.join(scratch, 'clip-aes.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30:duration=4',
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=4', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', clip]);
  const a = await startUploads(t, { ...settings, 'jobs.enabled': true });
  const b = await startUploads(t, settings);
  const form = new FormData();
  form.append('protection', 'aes-128');
  form.append('file', new Blob([new Uint8Array(readFileSync(clip))]), 'clip-aes.mp4');
  const res = await fetch(`${a.url}/api/v1/video/upload`, { method: 'POST', headers: { authorization: `Bearer ${await a.token()}` }, body: form });
  assert.equal(res.status, 201, await res.clone().text());
  const id = ((await res.json()) as { id: string }).id;
  const done = await settled(a, id, ['video.ready', 'video.errored']);
  assert.equal(done.type, 'video.ready', JSON.stringify(done.data));
  const keys = (await bucket.list(`assets/${id}/`)).map((e) => e.key.slice(`assets/${id}/`.length));
  assert.ok(!keys.includes('download.mp4') && !keys.includes('manifest.mpd'), keys.join(', '));
  const segKey = keys.find((k) => /^v\d+\/seg_00001\.m4s$/.test(k))!;
  const rendition = segKey.split('/')[0]!;
  const seg = await bucket.readAll(`assets/${id}/${segKey}`);
  assert.equal(seg.indexOf('moof'), -1, 'the bucket holds no clear fragment');
  const playlist = await (await fetch(`${b.url}/v/${id}/${rendition}/index.m3u8`)).text();
  const line = playlist.split('\n').findIndex((l) => l === segKey.slice(rendition.length + 1));
  const keyLine = playlist.split('\n').slice(0, line).reverse().find((l) => l.startsWith('#EXT-X-KEY'))!;
  const [, n, iv] = /keys\/(\d+)\.key",IV=0x([0-9a-f]{32})/.exec(keyLine)!;
  const key = await fetch(`${b.url}/v/${id}/keys/${n}.key`);
  assert.equal(key.status, 200);
  const d = createDecipheriv('aes-128-cbc', Buffer.from(await key.arrayBuffer()), Buffer.from(iv!, 'hex'));
  const clear = Buffer.concat([d.update(seg), d.final()]);
  assert.ok(clear.indexOf('moof') > 0 && clear.indexOf('mdat') > 0, 'node B\'s key decrypts node A\'s segment');
});
