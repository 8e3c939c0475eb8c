/**
 * Fault: the disk fills up. The data directory is a small tmpfs mounted for the test (a real
 * ENOSPC from the kernel, not a simulated one; skipped with a message where mounting is not
 * allowed). A tus upload and a multipart upload that do not fit get 507 STORAGE_FULL, their partial
 * bytes and waiting video are removed (the space is free again), and the server keeps serving: a
 * small upload afterwards works. A transcode whose output does not fit ends errored with
 * STORAGE_FULL and leaves no asset files behind.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildStrom, type Strom } from '../../src/app.js';
import { testConfig, type RawSettings } from '../../src/config.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import { noise } from '../helpers/upload-server.js';
import { until } from '../helpers/until.js';
import { smallDisk } from '../helpers/small-disk.js';

const T = { 'Tus-Resumable': '1.0.0' };
const MB = 1024 * 1024;

/** Bytes in files under `dir` whose name matches `re`. */
function bytesUnder(dir: string, re: RegExp): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && re.test(e.name)) n += statSync(path.join(e.parentPath, e.name)).size;
  }
  return n;
}

async function start(t: TestContext, dir: string, overrides: RawSettings): Promise<{ strom: Strom; url: string; token: string }> {
  const strom = await buildStrom(testConfig({ dataDir: dir, 'rtmp.enabled': false, ...overrides }));
  const { url } = await strom.listen();
  t.after(() => strom.close());
  const token = await signApiToken(strom.config, loadApiSecret(strom.config), { scopes: ['videos:write', 'videos:read'], ttlS: 600, sub: 'uploader' });
  return { strom, url, token };
}

test('uploads that do not fit: 507 STORAGE_FULL, partial bytes and waiting video removed, the server keeps serving', async (t) => {
  const dir = smallDisk(t, 12);
  if (dir === null) return;
  const { url, token } = await start(t, dir, { 'jobs.enabled': false });
  const auth = { ...T, authorization: `Bearer ${token}` };

  // tus: 20 MiB into 12 MiB.
  const big = noise(20 * MB);
  const created = await fetch(`${url}/api/v1/uploads`, { method: 'POST', headers: { ...auth, 'Upload-Length': String(big.length) } });
  assert.equal(created.status, 201);
  const videoId = created.headers.get('strom-video-id')!;
  const loc = new URL(created.headers.get('location')!, url).toString();
  const patch = await fetch(loc, { method: 'PATCH', headers: { ...auth, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body: new Uint8Array(big) });
  assert.equal(patch.status, 507);
  const body = await patch.json() as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'STORAGE_FULL');
  assert.match(body.error.message, /no space left/);
  assert.equal((await fetch(loc, { method: 'HEAD', headers: auth })).status, 404, 'the partial upload is gone');
  assert.equal((await fetch(`${url}/api/v1/videos/${videoId}`, { headers: auth })).status, 404, 'its waiting video too');
  assert.ok(bytesUnder(dir, /^v_/) < 64 * 1024, `partial bytes removed (${bytesUnder(dir, /^v_/)} left)`);

  // multipart: the same.
  const form = new FormData();
  form.append('title', 'too big');
  form.append('file', new Blob([new Uint8Array(big)]), 'big.mp4');
  const mp = await fetch(`${url}/api/v1/video/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  assert.equal(mp.status, 507);
  assert.equal((await mp.json() as { error: { code: string } }).error.code, 'STORAGE_FULL');
  await until(() => bytesUnder(dir, /\.part$|^mp_/) === 0, 'multipart partial file removed', 5_000);

  // The server goes on: health, and a small upload that fits.
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  const small = noise(1 * MB, 7);
  const ok = await fetch(`${url}/api/v1/uploads`, { method: 'POST', headers: { ...auth, 'Upload-Length': String(small.length), 'Content-Type': 'application/offset+octet-stream' }, body: new Uint8Array(small) });
  assert.equal(ok.status, 201);
  assert.equal(ok.headers.get('upload-offset'), String(small.length), 'a small upload after the failures completes');
});

test('a transcode whose output does not fit: the video ends errored with STORAGE_FULL and no asset files are left', { timeout: 120_000 }, async (t) => {
  const dir = smallDisk(t, 24);
  if (dir === null) return;
  const src = path.join(mkdtempSync(path.join(tmpdir(), 'strom-src-')), 'src.mp4');
  t.after(() => rmSync(path.dirname(src), { recursive: true, force: true }));
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-t', '8', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '40', '-c:a', 'aac', '-shortest', src]);
  const { strom, url, token } = await start(t, dir, { 'jobs.maxAttempts': 1, 'vod.ladder': '360:4000', 'vod.preset': 'ultrafast' });
  // Leave less room than the transcode needs (the source fits; 8 s at 4 Mbit/s does not).
  const free = () => Number(execFileSync('df', ['--output=avail', '-B1', dir]).toString().split('\n')[1]);
  writeFileSync(path.join(dir, 'filler'), Buffer.alloc(Math.max(0, free() - 3 * MB)));
  const errored = new Promise<{ videoId: string; code: string }>((resolve) => strom.bus.subscribe((e) => {
    if (e.type === 'video.errored') resolve(e.data as { videoId: string; code: string });
  }));
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(readFileSync(src))]), 'src.mp4');
  const up = await fetch(`${url}/api/v1/video/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  assert.equal(up.status, 201, await up.clone().text());
  const { id } = await up.json() as { id: string };
  const e = await errored;
  assert.deepEqual({ videoId: e.videoId, code: e.code }, { videoId: id, code: 'STORAGE_FULL' });
  const v = await (await fetch(`${url}/api/v1/videos/${id}`, { headers: { authorization: `Bearer ${token}` } })).json() as { status: string; error: { code: string } };
  assert.deepEqual([v.status, v.error.code], ['errored', 'STORAGE_FULL']);
  assert.equal(bytesUnder(path.join(dir, 'assets'), /\.(m4s|mp4|m3u8|mpd)$/), 0, 'no asset files left');
  rmSync(path.join(dir, 'filler'));
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
});
