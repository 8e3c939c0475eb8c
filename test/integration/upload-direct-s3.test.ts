/**
 * Direct uploads with object storage (a private s3rver, @tus/s3-store): a one-time URL used by
 * tus-js-client begun on node A and resumed on node B (sharing the bucket and the metadata
 * database) ends byte-identical at `sources/<id>/source` with no upload objects left; a cancelled
 * unfinished one leaves nothing in the bucket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tus from 'tus-js-client';
import { testConfig } from '../../src/config.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { noise, sha256, startUploads, type UploadServer } from '../helpers/upload-server.js';
import { startS3 } from '../helpers/s3.js';

const s3 = await startS3();
const shared = mkdtempSync(path.join(tmpdir(), 'strom-direct-s3-'));
process.once('exit', () => rmSync(shared, { recursive: true, force: true }));
const PREFIX = 'direct/';
const nodeSettings = { ...s3.settings(PREFIX), 'store.url': `sqlite:${path.join(shared, 'strom.db')}`, 'auth.jwtSecret': 'direct-s3-test-secret-0123456789abcdef', 'storage.s3.partBytes': '5MB' };
const bucket = new S3Storage(testConfig(s3.settings(PREFIX)).storage.s3);
process.once('exit', () => bucket.close());
const MB = 1024 * 1024;
const T = { 'Tus-Resumable': '1.0.0' };

/** Create a direct upload on `s`; returns its JSON. */
async function createDirect(s: UploadServer): Promise<{ id: string; videoId: string; uploadUrl: string }> {
  const res = await fetch(`${s.url}/api/v1/uploads/direct`, { method: 'POST', headers: { authorization: `Bearer ${await s.token()}`, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(res.status, 201);
  return await res.json() as { id: string; videoId: string; uploadUrl: string };
}

test('direct upload in a bucket: begun on node A, resumed on node B with the same one-time URL', async (t) => {
  const a = await startUploads(t, nodeSettings);
  const b = await startUploads(t, nodeSettings);
  const d = await createDirect(a);
  const data = noise(7 * MB + 99, 0xd1ec7);
  const first = await new Promise<string>((resolve, reject) => {
    const up: tus.Upload = new tus.Upload(data, {
      endpoint: d.uploadUrl, chunkSize: 1536 * 1024, retryDelays: [],
      onChunkComplete: (_size, accepted) => {
        if (accepted >= 6 * MB) void up.abort().then(() => resolve(up.url!));
      },
      onError: reject,
      onSuccess: () => reject(new Error('finished before the abort')),
    });
    up.start();
  });
  // Node B, by the same path: only the host differs.
  const onB = new URL(new URL(first).pathname, b.url).toString();
  await new Promise<void>((resolve, reject) => {
    const up = new tus.Upload(data, { uploadUrl: onB, chunkSize: 1536 * 1024, retryDelays: [], onError: reject, onSuccess: () => resolve() });
    up.start();
  });
  assert.equal(sha256(await bucket.readAll(`sources/${d.videoId}/source`)), sha256(data));
  assert.equal((await b.strom.control.store.videos.get(d.videoId))?.status, 'queued');
  assert.equal((await b.strom.control.store.directUploads.get(d.id))?.state, 'done');
  for (let i = 0; i < 50 && (await bucket.list(`uploads/${d.videoId}`)).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await bucket.list(`uploads/${d.videoId}`), []);
  assert.equal((await fetch(onB, { method: 'HEAD', headers: T })).status, 410);
});

test('a cancelled direct upload leaves nothing in the bucket', async (t) => {
  const a = await startUploads(t, nodeSettings);
  const d = await createDirect(a);
  const created = await fetch(d.uploadUrl, { method: 'POST', headers: { ...T, 'Upload-Length': String(6 * MB) } });
  assert.equal(created.status, 201);
  const loc = new URL(created.headers.get('location')!, a.url).toString();
  const patch = await fetch(loc, { method: 'PATCH', headers: { ...T, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body: new Uint8Array(noise(1024)) });
  assert.equal(patch.status, 204);
  assert.ok((await bucket.list(`uploads/${d.videoId}`)).length > 0, 'partial bytes are in the bucket');
  const del = await fetch(`${a.url}/api/v1/uploads/direct/${d.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${await a.token()}` } });
  assert.equal(del.status, 200);
  assert.deepEqual(await bucket.list(`uploads/${d.videoId}`), []);
  assert.equal(await a.strom.control.store.videos.get(d.videoId), undefined);
});
