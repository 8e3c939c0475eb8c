/**
 * Uploads with object storage: two Strom nodes, each with its own data directory, sharing one
 * bucket on a private s3rver (real AWS SDK, @tus/s3-store) and one metadata database (as a cluster
 * shares PostgreSQL). tus-js-client starts an upload on node A, aborts it after a full S3 part and
 * an incomplete tail are stored, and resumes it on node B, which never saw it: the offset comes
 * from the bucket, the finished source is byte-identical under `sources/<id>/source`, and no
 * upload bytes are left in the bucket or on either disk. Multipart uploads stream straight to the
 * bucket; one over `uploads.maxBytes` leaves nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tus from 'tus-js-client';
import { testConfig } from '../../src/config.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { noise, sha256, startUploads } from '../helpers/upload-server.js';
import { startS3 } from '../helpers/s3.js';

const s3 = await startS3();
const shared = mkdtempSync(path.join(tmpdir(), 'strom-s3-meta-'));
process.once('exit', () => rmSync(shared, { recursive: true, force: true }));
const PREFIX = 'cluster/';
/** Node settings: the bucket, a metadata database both nodes use, one API secret. */
const nodeSettings = { ...s3.settings(PREFIX), 'store.url': `sqlite:${path.join(shared, 'strom.db')}`, 'auth.jwtSecret': 'storage-test-secret-0123456789abcdef', 'storage.s3.partBytes': '5MB' };
const bucket = new S3Storage(testConfig(s3.settings(PREFIX)).storage.s3);
process.once('exit', () => bucket.close());
const T = { 'Tus-Resumable': '1.0.0' };
const MB = 1024 * 1024;

/** Files anywhere below `dir` (to show a node's disk holds no upload bytes). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

test('tus: begun on node A, aborted, resumed on node B (another data directory), byte-identical in the bucket', async (t) => {
  const a = await startUploads(t, nodeSettings);
  const b = await startUploads(t, nodeSettings);
  assert.notEqual(a.dataDir, b.dataDir);
  const token = await a.token();
  const data = noise(12 * MB + 4321, 0x5eed);
  const opts: tus.UploadOptions = {
    chunkSize: 1536 * 1024,
    retryDelays: [],
    headers: { Authorization: `Bearer ${token}` },
    metadata: { filename: 'cluster.mp4', title: 'Across nodes' },
  };

  // Node A: abort once more than one 5 MiB part (plus an incomplete tail) is in the bucket.
  const first = await new Promise<{ url: string; accepted: number }>((resolve, reject) => {
    const up: tus.Upload = new tus.Upload(data, {
      ...opts,
      endpoint: `${a.url}/api/v1/uploads`,
      onChunkComplete: (_size, accepted) => {
        if (accepted >= 6 * MB) void up.abort().then(() => resolve({ url: up.url!, accepted }));
      },
      onError: reject,
      onSuccess: () => reject(new Error('finished before the abort')),
    });
    up.start();
  });
  const id = new URL(first.url).pathname.split('/').pop()!;
  assert.ok((await bucket.list(`uploads/${id}`)).length > 0, 'upload state lives in the bucket');

  // Node B has never seen this upload: HEAD answers the offset from the bucket's parts.
  const urlOnB = `${b.url}/api/v1/uploads/${id}`;
  const head = await fetch(urlOnB, { method: 'HEAD', headers: { ...T, authorization: `Bearer ${token}` } });
  assert.equal(head.status, 200);
  const offset = Number(head.headers.get('upload-offset'));
  assert.equal(offset, first.accepted, 'node B reports the bytes node A accepted');
  assert.equal(head.headers.get('upload-length'), String(data.length));

  const resumedFrom = await new Promise<number>((resolve, reject) => {
    let from = -1;
    const up = new tus.Upload(data, {
      ...opts,
      uploadUrl: urlOnB,
      onProgress: (sent) => {
        if (from < 0) from = sent;
      },
      onError: reject,
      onSuccess: () => resolve(from),
    });
    up.start();
  });
  assert.ok(resumedFrom > offset - 1, `resumed at ${resumedFrom}, not from 0`);

  // The source is in the bucket, whole; the video row (shared metadata) is queued with it.
  const source = await bucket.readAll(`sources/${id}/source`);
  assert.equal(source.length, data.length);
  assert.equal(sha256(source), sha256(data));
  const row = await b.strom.control.store.videos.get(id);
  assert.equal(row?.status, 'queued');
  assert.equal(row?.source_path, `storage:sources/${id}/source`);
  assert.deepEqual(b.uploaded.map((u) => u.videoId), [id]);

  // Upload objects are gone (deleted after tus answered), and neither disk holds upload bytes.
  for (let i = 0; i < 50 && (await bucket.list(`uploads/${id}`)).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await bucket.list(`uploads/${id}`), []);
  for (const n of [a, b]) {
    assert.deepEqual(filesUnder(path.join(n.dataDir, 'uploads')), [], 'no upload bytes on a node disk');
    assert.deepEqual(filesUnder(path.join(n.dataDir, 'sources')), [], 'no source on a node disk');
  }
  // Finished: the upload URL is gone on both nodes.
  assert.equal((await fetch(`${a.url}/api/v1/uploads/${id}`, { method: 'HEAD', headers: { ...T, authorization: `Bearer ${token}` } })).status, 404);
});

test('tus termination on another node deletes the upload objects and the waiting video', async (t) => {
  const a = await startUploads(t, nodeSettings);
  const b = await startUploads(t, nodeSettings);
  const token = await a.token();
  const res = await fetch(`${a.url}/api/v1/uploads`, { method: 'POST', headers: { ...T, authorization: `Bearer ${token}`, 'upload-length': String(8 * MB), 'content-type': 'application/offset+octet-stream' }, body: new Uint8Array(noise(MB)) });
  assert.equal(res.status, 201);
  const id = res.headers.get('strom-video-id')!;
  const del = await fetch(`${b.url}/api/v1/uploads/${id}`, { method: 'DELETE', headers: { ...T, authorization: `Bearer ${token}` } });
  assert.equal(del.status, 204);
  assert.deepEqual((await bucket.list(`uploads/${id}`)).filter((e) => !e.key.endsWith('.part')), []);
  for (let i = 0; i < 50 && (await b.strom.control.store.videos.get(id)); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await b.strom.control.store.videos.get(id), undefined);
});

test('multipart: streamed straight to the bucket; over the limit leaves nothing', async (t) => {
  const a = await startUploads(t, { ...nodeSettings, 'uploads.maxBytes': '7MB' });
  const token = await a.token();
  const data = noise(6 * MB + 77, 0xabc);
  const form = new FormData();
  form.append('title', 'Multipart');
  form.append('file', new Blob([new Uint8Array(data)]), 'clip.mp4');
  const res = await fetch(`${a.url}/api/v1/video/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  assert.equal(res.status, 201, await res.clone().text());
  const { id } = (await res.json()) as { id: string };
  assert.equal(sha256(await bucket.readAll(`sources/${id}/source`)), sha256(data));
  assert.equal((await a.strom.control.store.videos.get(id))?.source_path, `storage:sources/${id}/source`);
  assert.deepEqual(filesUnder(path.join(a.dataDir, 'uploads')), []);

  const before = (await bucket.list('sources/')).length;
  const status = await new Promise<number>((resolve, reject) => {
    // Declared length within the pre-check slack: the limit must be enforced while the bytes stream.
    const boundary = 'strom-s3-boundary';
    const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n`), noise(7 * MB + 4096, 7), Buffer.from(`\r\n--${boundary}--\r\n`)]);
    const req = http.request(`${a.url}/api/v1/video/upload`, { method: 'POST', agent: false, headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length } }, (r) => {
      r.resume();
      resolve(r.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(status, 413);
  assert.equal((await bucket.list('sources/')).length, before, 'no object for the refused upload');
});
