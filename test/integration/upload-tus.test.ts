/**
 * tus 1.0 uploads at /api/v1/uploads: tus-js-client interrupted and resumed ends byte-identical,
 * creation-with-upload, termination, expiry, HEAD/PATCH protocol errors, size limit, auth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tus from 'tus-js-client';
import { noise, sha256, startUploads, type UploadServer } from '../helpers/upload-server.js';

const T = { 'Tus-Resumable': '1.0.0' };
/** tus-js-client's Node build has FileUrlStorage, but its type declarations omit it. */
const FileUrlStorage = (tus as unknown as { FileUrlStorage: new (file: string) => tus.UrlStorage }).FileUrlStorage;

/** POST a creation request; returns the response. */
async function create(s: UploadServer, token: string, headers: Record<string, string>, body?: Buffer): Promise<Response> {
  return fetch(`${s.url}/api/v1/uploads`, { method: 'POST', headers: { ...T, authorization: `Bearer ${token}`, ...headers }, body: body ? new Uint8Array(body) : undefined });
}

/** Absolute upload URL of a creation response. */
function uploadUrl(s: UploadServer, res: Response): string {
  return new URL(res.headers.get('location')!, s.url).toString();
}

function meta(m: Record<string, string>): string {
  return Object.entries(m).map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`).join(',');
}

test('tus-js-client: upload, abort midway, resume from the previous upload, sha256 matches', async (t) => {
  const s = await startUploads(t);
  const token = await s.token();
  const data = noise(2 * 1024 * 1024 + 12345);
  const storeDir = mkdtempSync(path.join(tmpdir(), 'strom-tus-urls-'));
  t.after(() => rmSync(storeDir, { recursive: true, force: true }));
  const opts = (onChunk?: (accepted: number) => void): tus.UploadOptions => ({
    endpoint: `${s.url}/api/v1/uploads`,
    chunkSize: 256 * 1024,
    retryDelays: [],
    headers: { Authorization: `Bearer ${token}` },
    metadata: { filename: 'clip.mp4', title: 'My clip', visibility: 'signed' },
    urlStorage: new FileUrlStorage(path.join(storeDir, 'urls.json')),
    storeFingerprintForResuming: true,
    onChunkComplete: (_size, accepted) => onChunk?.(accepted),
  });

  // First attempt: abort after ~1 MiB was accepted.
  const first = await new Promise<{ url: string; accepted: number }>((resolve, reject) => {
    const up: tus.Upload = new tus.Upload(data, {
      ...opts((accepted) => {
        if (accepted >= 1024 * 1024) void up.abort().then(() => resolve({ url: up.url!, accepted }));
      }),
      onError: reject,
      onSuccess: () => reject(new Error('finished before the abort')),
    });
    up.start();
  });
  const head = await fetch(first.url, { method: 'HEAD', headers: { ...T, authorization: `Bearer ${token}` } });
  const offset = Number(head.headers.get('upload-offset'));
  assert.ok(offset >= first.accepted && offset < data.length, `offset ${offset} after abort`);
  const videoId = head.headers.get('strom-video-id')!;
  assert.equal((await s.strom.control.store.videos.get(videoId))?.status, 'waiting');

  // Second attempt: a new Upload finds the stored URL and continues from the server's offset.
  let firstProgress = -1;
  const resumedUrl = await new Promise<string>((resolve, reject) => {
    const up = new tus.Upload(data, {
      ...opts(),
      onProgress: (sent) => {
        if (firstProgress < 0) firstProgress = sent;
      },
      onError: reject,
      onSuccess: () => resolve(up.url!),
    });
    void up.findPreviousUploads().then((prev) => {
      assert.equal(prev.length, 1, 'the aborted upload was stored');
      up.resumeFromPreviousUpload(prev[0]!);
      up.start();
    }, reject);
  });
  assert.equal(resumedUrl, first.url, 'resumed the same upload');
  assert.ok(firstProgress >= offset, `resume started at ${firstProgress}, not at 0`);

  const row = await s.strom.control.store.videos.get(videoId);
  assert.equal(row?.status, 'queued');
  assert.equal(row?.title, 'My clip');
  assert.equal(row?.visibility, 'signed');
  const source = path.join(s.dataDir, 'sources', videoId, 'source');
  assert.equal(row?.source_path, source);
  assert.equal(sha256(source), sha256(data));
  assert.deepEqual(s.uploaded, [{ videoId, sourceFile: source }]);
  assert.deepEqual(s.events.filter((e) => e.type === 'video.created').map((e) => e.data), [{ videoId, title: 'My clip' }]);
});

test('creation-with-upload finishes in one POST; Strom-Video-Id names the video', async (t) => {
  const s = await startUploads(t);
  const token = await s.token();
  const data = noise(70_000, 7);
  const res = await create(s, token, { 'Upload-Length': String(data.length), 'Content-Type': 'application/offset+octet-stream', 'Upload-Metadata': meta({ filename: 'a.mov' }) }, data);
  assert.equal(res.status, 201);
  assert.equal(res.headers.get('upload-offset'), String(data.length));
  const id = res.headers.get('strom-video-id')!;
  assert.match(id, /^v_[A-Za-z0-9]{16}$/);
  assert.match(res.headers.get('access-control-expose-headers') ?? '', /Strom-Video-Id/);
  assert.equal(sha256(path.join(s.dataDir, 'sources', id, 'source')), sha256(data));
  const row = await s.strom.control.store.videos.get(id);
  assert.equal(row?.title, 'a.mov');
  assert.equal(s.uploaded.length, 1);
});

test('termination deletes the upload and its waiting video; HEAD then 404', async (t) => {
  const s = await startUploads(t);
  const token = await s.token();
  const res = await create(s, token, { 'Upload-Length': '1000' });
  assert.equal(res.status, 201);
  const url = uploadUrl(s, res);
  const id = res.headers.get('strom-video-id')!;
  assert.ok(await s.strom.control.store.videos.get(id));
  const patch = await fetch(url, { method: 'PATCH', headers: { ...T, authorization: `Bearer ${token}`, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' }, body: Buffer.alloc(300, 1) });
  assert.equal(patch.status, 204);
  const del = await fetch(url, { method: 'DELETE', headers: { ...T, authorization: `Bearer ${token}` } });
  assert.equal(del.status, 204);
  await waitFor(async () => (await s.strom.control.store.videos.get(id)) === undefined);
  assert.ok(!existsSync(path.join(s.dataDir, 'uploads', id)));
  const head = await fetch(url, { method: 'HEAD', headers: { ...T, authorization: `Bearer ${token}` } });
  assert.equal(head.status, 404);
  assert.ok(s.events.some((e) => e.type === 'video.deleted'));
});

test('HEAD, PATCH content type, offset conflict, size limits', async (t) => {
  const s = await startUploads(t, { 'uploads.maxBytes': 64 * 1024 });
  const token = await s.token();
  const auth = { ...T, authorization: `Bearer ${token}` };
  const res = await create(s, token, { 'Upload-Length': '1000' });
  const url = uploadUrl(s, res);
  assert.match(res.headers.get('upload-expires') ?? '', /GMT$/);

  const head = await fetch(url, { method: 'HEAD', headers: auth });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('upload-offset'), '0');
  assert.equal(head.headers.get('upload-length'), '1000');
  assert.equal(head.headers.get('cache-control'), 'no-store');

  const wrongType = await fetch(url, { method: 'PATCH', headers: { ...auth, 'Content-Type': 'application/json', 'Upload-Offset': '0' }, body: '{}' });
  assert.equal(wrongType.status, 415);
  const conflict = await fetch(url, { method: 'PATCH', headers: { ...auth, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '5' }, body: Buffer.alloc(10) });
  assert.equal(conflict.status, 409);

  const tooBig = await create(s, token, { 'Upload-Length': String(64 * 1024 + 1) });
  assert.equal(tooBig.status, 413);
  const options = await fetch(`${s.url}/api/v1/uploads`, { method: 'OPTIONS' });
  assert.equal(options.headers.get('tus-max-size'), String(64 * 1024));

  // Deferred length: the PATCH itself would cross the limit.
  const deferred = await create(s, token, { 'Upload-Defer-Length': '1' });
  assert.equal(deferred.status, 201);
  const over = await fetch(uploadUrl(s, deferred), { method: 'PATCH', headers: { ...auth, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' }, body: Buffer.alloc(64 * 1024 + 10) });
  assert.equal(over.status, 413);
  assert.equal(s.uploaded.length, 0);
});

test('uploads need a videos:write token', async (t) => {
  const s = await startUploads(t);
  const none = await fetch(`${s.url}/api/v1/uploads`, { method: 'POST', headers: { ...T, 'Upload-Length': '10' } });
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
  const bad = await fetch(`${s.url}/api/v1/uploads`, { method: 'POST', headers: { ...T, 'Upload-Length': '10', authorization: 'Bearer not.a.jwt' } });
  assert.equal(bad.status, 401);
  const reader = await create(s, await s.token(['videos:read']), { 'Upload-Length': '10' });
  assert.equal(reader.status, 403);
  const rows = await s.strom.control.store.videos.list({ limit: 10 });
  assert.equal(rows.items.length, 0, 'no video for refused uploads');
});

test('expired unfinished uploads are swept with their waiting video', async (t) => {
  const s = await startUploads(t, { 'uploads.expireAfterMs': 1000 });
  const token = await s.token();
  const res = await create(s, token, { 'Upload-Length': '100' });
  const id = res.headers.get('strom-video-id')!;
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(await s.uploads.sweep(), 1);
  assert.equal(await s.strom.control.store.videos.get(id), undefined);
  assert.ok(!existsSync(path.join(s.dataDir, 'uploads', id)));
});

/** Poll `cond` until true (bounded). */
async function waitFor(cond: () => Promise<boolean>, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail('condition never became true');
}
