/**
 * Direct uploads: a one-time tus URL from `POST /api/v1/uploads/direct` that tus-js-client uses
 * without any token; the video gets queued, the URL is then spent (410), expires (410, partial
 * bytes swept), refuses an Upload-Length past maxSizeBytes (413), a forged one is 404, an origin
 * other than corsOrigin is 403, GET reports the state and DELETE cancels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as tus from 'tus-js-client';
import { sha256, startUploads, type UploadServer } from '../helpers/upload-server.js';
import { makeClip, scratch } from '../helpers/vod-fixtures.js';

const T = { 'Tus-Resumable': '1.0.0' };

interface Created { id: string; videoId: string; uploadUrl: string; expiresAt: string; maxSizeBytes: number }

/** Create a direct upload with an API token; returns status and body. */
async function createDirect(s: UploadServer, body: Record<string, unknown>): Promise<{ status: number; body: Created & { error?: { code: string; message: string } } }> {
  const res = await fetch(`${s.url}/api/v1/uploads/direct`, { method: 'POST', headers: { authorization: `Bearer ${await s.token()}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() as Created & { error?: { code: string; message: string } } };
}

/** GET the state of a direct upload. */
async function state(s: UploadServer, id: string): Promise<{ state: string; videoId: string }> {
  const res = await fetch(`${s.url}/api/v1/uploads/direct/${id}`, { headers: { authorization: `Bearer ${await s.token()}` } });
  assert.equal(res.status, 200);
  return await res.json() as { state: string; videoId: string };
}

/** A tus creation POST against a direct upload URL, no Authorization header. */
function creation(url: string, length: number, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { ...T, 'Upload-Length': String(length), ...headers } });
}

/** Error code of a JSON error response. */
async function code(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

test('tus-js-client uploads a real mp4 through the one-time URL alone; the video is queued and the URL is spent', async (t) => {
  const s = await startUploads(t);
  const dir = scratch('direct');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const clip = readFileSync(await makeClip(path.join(dir, 'clip.mp4'), { seconds: 2 }));

  const { status, body: d } = await createDirect(s, { title: 'From a browser', visibility: 'signed', maxSizeBytes: 10 * 1024 * 1024 });
  assert.equal(status, 201);
  assert.match(d.uploadUrl, /^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/uploads\/direct\/[A-Za-z0-9_-]{43}$/);
  assert.equal(d.maxSizeBytes, 10 * 1024 * 1024);
  const before = await s.strom.control.store.videos.get(d.videoId);
  assert.equal(before?.status, 'waiting', 'the video exists from the start');
  assert.equal(before?.title, 'From a browser');
  assert.equal(before?.visibility, 'signed');
  const initial = await state(s, d.id);
  assert.equal(initial.state, 'waiting');
  assert.equal(initial.videoId, d.videoId);
  assert.ok(s.events.some((e) => e.type === 'video.created' && (e.data as { videoId: string }).videoId === d.videoId));
  // The credential is stored only as a hash.
  const row = await s.strom.control.store.directUploads.get(d.id);
  assert.ok(row && !d.uploadUrl.includes(row.token_hash) && row.token_hash.length === 64);

  assert.ok(clip.length > 2 * 16 * 1024, `clip of ${clip.length} bytes spans several chunks`);
  let midState = '';
  const url = await new Promise<string>((resolve, reject) => {
    const up: tus.Upload = new tus.Upload(clip, {
      endpoint: d.uploadUrl,
      chunkSize: 16 * 1024,
      retryDelays: [],
      metadata: { filename: 'clip.mp4', title: 'ignored: fixed by the direct upload' },
      // tus-js-client waits for this promise, so the state is read between two chunks.
      onAfterResponse: async (req) => {
        if (req.getMethod() === 'PATCH' && !midState) midState = (await state(s, d.id)).state;
      },
      onError: reject,
      onSuccess: () => resolve(up.url!),
    });
    up.start();
  });
  assert.ok(url.startsWith(`${d.uploadUrl}/${d.videoId}`), `upload URL ${url} is under the one-time URL, named by the fixed video id`);
  assert.equal(midState, 'uploading');
  const after = await s.strom.control.store.videos.get(d.videoId);
  assert.equal(after?.status, 'queued');
  assert.equal(after?.title, 'From a browser');
  assert.deepEqual(s.uploaded.map((u) => u.videoId), [d.videoId]);
  assert.equal(sha256(s.uploaded[0]!.sourceFile), sha256(clip), 'the stored source is the uploaded file');
  assert.equal((await state(s, d.id)).state, 'done');

  // Spent: a second creation, and resuming the finished upload, are 410.
  const again = await creation(d.uploadUrl, clip.length);
  assert.equal(again.status, 410);
  assert.equal(await code(again), 'DIRECT_UPLOAD_USED');
  const head = await fetch(url, { method: 'HEAD', headers: T });
  assert.equal(head.status, 410);
  // The API's tus endpoint still needs a token for the same video.
  assert.equal((await fetch(`${s.url}/api/v1/uploads/${d.videoId}`, { method: 'HEAD', headers: T })).status, 401);
  // Cancelling a finished direct upload is refused; the video stays.
  const del = await fetch(`${s.url}/api/v1/uploads/direct/${d.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${await s.token()}` } });
  assert.equal(del.status, 410);
  assert.equal((await s.strom.control.store.videos.get(d.videoId))?.status, 'queued');
});

test('a second creation while the upload is unfinished is 410 USED; HEAD/PATCH resume with the credential only', async (t) => {
  const s = await startUploads(t);
  const { body: d } = await createDirect(s, {});
  const first = await creation(d.uploadUrl, 10);
  assert.equal(first.status, 201);
  const loc = new URL(first.headers.get('location')!, s.url).toString();
  assert.equal(first.headers.get('strom-video-id'), d.videoId);
  const second = await creation(d.uploadUrl, 10);
  assert.equal(second.status, 410);
  assert.equal(await code(second), 'DIRECT_UPLOAD_USED');
  const patch = await fetch(loc, { method: 'PATCH', headers: { ...T, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body: new Uint8Array(Buffer.from('hello')) });
  assert.equal(patch.status, 204);
  const head = await fetch(loc, { method: 'HEAD', headers: T });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('upload-offset'), '5');
  // Two creations racing with a fresh URL: exactly one wins.
  const { body: raced } = await createDirect(s, {});
  const both = await Promise.all([creation(raced.uploadUrl, 10), creation(raced.uploadUrl, 10)]);
  assert.deepEqual(both.map((r) => r.status).sort(), [201, 410]);
  // Another video id under the same credential names nothing.
  assert.equal((await fetch(loc.replace(d.videoId, 'v_someoneelse0000000'), { method: 'HEAD', headers: T })).status, 404);
});

test('Upload-Length over maxSizeBytes is 413 naming both numbers, and the URL stays usable', async (t) => {
  const s = await startUploads(t);
  const { body: d } = await createDirect(s, { maxSizeBytes: 1000 });
  const res = await creation(d.uploadUrl, 1001);
  assert.equal(res.status, 413);
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'DIRECT_UPLOAD_TOO_LARGE');
  assert.match(body.error.message, /1001/);
  assert.match(body.error.message, /1000/);
  const deferred = await fetch(d.uploadUrl, { method: 'POST', headers: { ...T, 'Upload-Defer-Length': '1' } });
  assert.equal(deferred.status, 400);
  assert.equal((await state(s, d.id)).state, 'waiting');
  assert.equal((await creation(d.uploadUrl, 1000)).status, 201);
  // maxSizeBytes past uploads.maxBytes is refused when the direct upload is created.
  const over = await createDirect(s, { maxSizeBytes: s.strom.config.uploads.maxBytes + 1 });
  assert.equal(over.status, 400);
});

test('forged or missing credentials are 404; a foreign Origin is 403 when corsOrigin is set', async (t) => {
  const s = await startUploads(t);
  const { body: d } = await createDirect(s, { corsOrigin: 'https://app.example' });
  const forged = `${s.url}/api/v1/uploads/direct/${'A'.repeat(43)}`;
  const res = await creation(forged, 10);
  assert.equal(res.status, 404);
  assert.equal(await code(res), 'DIRECT_UPLOAD_NOT_FOUND');
  assert.equal((await creation(`${s.url}/api/v1/uploads/direct/short`, 10)).status, 404);
  // Without a credential the path is the API's create route, which needs a token.
  assert.equal((await fetch(`${s.url}/api/v1/uploads/direct`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 401);
  const foreign = await creation(d.uploadUrl, 10, { origin: 'https://evil.example' });
  assert.equal(foreign.status, 403);
  assert.equal(await code(foreign), 'DIRECT_UPLOAD_ORIGIN');
  const preflight = await fetch(d.uploadUrl, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
  assert.equal(preflight.status, 403);
  const okPreflight = await fetch(d.uploadUrl, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
  assert.equal(okPreflight.status, 204);
  assert.equal((await creation(d.uploadUrl, 10, { origin: 'https://app.example' })).status, 201);
});

test('an expired direct upload is 410 EXPIRED; the sweep deletes its partial bytes and waiting video', async (t) => {
  const s = await startUploads(t);
  const { body: d } = await createDirect(s, { expiresInS: 1 });
  const { body: unused } = await createDirect(s, { expiresInS: 1 });
  const first = await creation(d.uploadUrl, 10);
  assert.equal(first.status, 201);
  const loc = new URL(first.headers.get('location')!, s.url).toString();
  const patch = await fetch(loc, { method: 'PATCH', headers: { ...T, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body: new Uint8Array(Buffer.from('part')) });
  assert.equal(patch.status, 204);
  assert.ok(existsSync(path.join(s.dataDir, 'uploads', d.videoId)));
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await state(s, d.id)).state, 'expired');
  const late = await fetch(loc, { method: 'PATCH', headers: { ...T, 'Upload-Offset': '4', 'Content-Type': 'application/offset+octet-stream' }, body: new Uint8Array(Buffer.from('rest!!')) });
  assert.equal(late.status, 410);
  assert.equal(await code(late), 'DIRECT_UPLOAD_EXPIRED');
  const lateCreate = await creation(unused.uploadUrl, 10);
  assert.equal(lateCreate.status, 410);
  assert.equal(await code(lateCreate), 'DIRECT_UPLOAD_EXPIRED');
  assert.equal(await s.uploads.sweep(), 2);
  assert.equal(await s.strom.control.store.videos.get(d.videoId), undefined, 'the waiting video is gone');
  assert.equal(await s.strom.control.store.videos.get(unused.videoId), undefined);
  assert.deepEqual(readdirSync(path.join(s.dataDir, 'uploads')).filter((f) => f.startsWith(d.videoId)), [], 'partial bytes removed');
  assert.equal((await s.strom.control.store.directUploads.get(d.id))?.state, 'expired');
  assert.equal(s.uploaded.length, 0, 'nothing partial was published');
  assert.ok(s.events.some((e) => e.type === 'video.deleted' && (e.data as { videoId: string }).videoId === d.videoId));
});

test('DELETE cancels: the URL stops working, partial bytes and the waiting video are removed', async (t) => {
  const s = await startUploads(t);
  const { body: d } = await createDirect(s, {});
  const first = await creation(d.uploadUrl, 10);
  const loc = new URL(first.headers.get('location')!, s.url).toString();
  await fetch(loc, { method: 'PATCH', headers: { ...T, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body: new Uint8Array(Buffer.from('part')) });
  assert.equal((await state(s, d.id)).state, 'uploading');
  const del = await fetch(`${s.url}/api/v1/uploads/direct/${d.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${await s.token()}` } });
  assert.equal(del.status, 200);
  assert.equal(((await del.json()) as { state: string }).state, 'cancelled');
  const head = await fetch(loc, { method: 'HEAD', headers: T });
  assert.equal(head.status, 410);
  assert.equal((await creation(d.uploadUrl, 10)).status, 410);
  assert.equal(await s.strom.control.store.videos.get(d.videoId), undefined);
  assert.deepEqual(readdirSync(path.join(s.dataDir, 'uploads')).filter((f) => f.startsWith(d.videoId)), []);
  // Terminating through the token-holding tus endpoint cancels the direct upload as well.
  const { body: d2 } = await createDirect(s, {});
  assert.equal((await creation(d2.uploadUrl, 10)).status, 201);
  const term = await fetch(`${s.url}/api/v1/uploads/${d2.videoId}`, { method: 'DELETE', headers: { ...T, authorization: `Bearer ${await s.token()}` } });
  assert.equal(term.status, 204);
  for (let i = 0; i < 50 && (await state(s, d2.id)).state !== 'cancelled'; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal((await state(s, d2.id)).state, 'cancelled');
  // A token without videos:write may neither read nor cancel.
  const reader = await s.token(['videos:read']);
  assert.equal((await fetch(`${s.url}/api/v1/uploads/direct/${d.id}`, { headers: { authorization: `Bearer ${reader}` } })).status, 403);
  assert.equal((await fetch(`${s.url}/api/v1/uploads/direct/du_unknown`, { headers: { authorization: `Bearer ${await s.token()}` } })).status, 404);
});
