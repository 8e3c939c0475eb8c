/**
 * /healthz and /readyz: all checks pass on a normal server (RTMP listener included), and each
 * failure is reported by name with a 503: a missing ffmpeg (vod.ffmpegPath pointing nowhere) and an
 * unwritable data directory.
 *
 * Unwritable storage while running as root: chmod does not stop root from writing, and mounting a
 * read-only filesystem needs privileges tests should not use. Instead the test replaces
 * `<dataDir>/tmp` (a directory the storage check must be able to write into) with a regular
 * file: creating the probe file inside it fails with ENOTDIR for root and non-root alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startApi } from '../helpers/api-server.js';

interface Ready {
  status: string;
  failing?: string[];
  checks: Record<string, string>;
}

test('/healthz is 200 and /readyz is 200 with every check ok, RTMP listener included', async (t) => {
  const api = await startApi(t, { 'rtmp.enabled': true });
  assert.equal((await fetch(`${api.url}/healthz`)).status, 200);
  const res = await fetch(`${api.url}/readyz`);
  const body = (await res.json()) as Ready;
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.status, 'ready');
  assert.deepEqual(Object.keys(body.checks).sort(), ['database', 'ffmpeg', 'ffprobe', 'http', 'rtmp', 'storage']);
  for (const v of Object.values(body.checks)) assert.equal(v, 'ok');
});

test('/readyz names a missing ffmpeg', async (t) => {
  const api = await startApi(t, { 'vod.ffmpegPath': '/nonexistent/bin/ffmpeg' });
  const res = await fetch(`${api.url}/readyz`);
  assert.equal(res.status, 503);
  const body = (await res.json()) as Ready;
  assert.equal(body.status, 'not ready');
  assert.deepEqual(body.failing, ['ffmpeg']);
  assert.match(body.checks.ffmpeg!, /\/nonexistent\/bin\/ffmpeg.*ENOENT/);
  assert.equal(body.checks.ffprobe, 'ok');
  assert.equal((await fetch(`${api.url}/healthz`)).status, 200, 'liveness is unaffected');
});

test('/readyz names unwritable storage, and recovers when it is writable again', async (t) => {
  const api = await startApi(t);
  assert.equal((await fetch(`${api.url}/readyz`)).status, 200);
  const tmp = path.join(api.dataDir, 'tmp');
  rmSync(tmp, { recursive: true, force: true });
  writeFileSync(tmp, 'not a directory');
  const res = await fetch(`${api.url}/readyz`);
  assert.equal(res.status, 503);
  const body = (await res.json()) as Ready;
  assert.deepEqual(body.failing, ['storage']);
  assert.ok(body.checks.storage!.includes(tmp), body.checks.storage);
  rmSync(tmp);
  assert.equal((await fetch(`${api.url}/readyz`)).status, 200);
});
