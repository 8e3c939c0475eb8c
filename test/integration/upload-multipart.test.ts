/**
 * `POST /api/v1/video/upload` (multipart): bytes land on disk intact, the size limit cuts the
 * stream off with 413 and leaves nothing behind, wrong bodies are refused, and a 300 MB body
 * generated on the fly passes through without the server's RSS growing with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { noise, sha256, startUploads } from '../helpers/upload-server.js';

const BOUNDARY = 'strom-test-boundary-7f3a';

/** Head and tail of a multipart body with a `title` field and one file part. */
function framing(title: string | null, field = 'file'): { head: Buffer; tail: Buffer } {
  let head = '';
  if (title !== null) head += `--${BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\n${title}\r\n`;
  head += `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${field}"; filename="clip.mp4"\r\nContent-Type: video/mp4\r\n\r\n`;
  return { head: Buffer.from(head), tail: Buffer.from(`\r\n--${BOUNDARY}--\r\n`) };
}

/** POST a streamed body with http.request (the response may come before the body is sent). */
function post(url: string, token: string, body: Readable, length: number, type = `multipart/form-data; boundary=${BOUNDARY}`): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/api/v1/video/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type, 'content-length': length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown> }));
    });
    req.on('error', reject);
    body.on('error', reject);
    body.pipe(req).on('error', () => undefined); // EPIPE after an early 413 is expected
  });
}

test('a small multipart file → 201 with the video JSON; the bytes on disk match', async (t) => {
  const s = await startUploads(t);
  const token = await s.token();
  const data = noise(300_000, 3);
  const { head, tail } = framing('Holiday');
  const body = Buffer.concat([head, data, tail]);
  const res = await post(s.url, token, Readable.from([body]), body.length);
  assert.equal(res.status, 201);
  const id = String(res.json.id);
  assert.equal(res.json.title, 'Holiday');
  assert.equal(res.json.status, 'queued');
  const api = await fetch(`${s.url}/api/v1/videos/${id}`, { headers: { authorization: `Bearer ${await s.token(['videos:read'])}` } });
  assert.deepEqual(await api.json(), res.json, 'same shape as GET /api/v1/videos/:id');
  const source = path.join(s.dataDir, 'sources', id, 'source');
  assert.equal(sha256(source), sha256(data));
  assert.deepEqual(s.uploaded, [{ videoId: id, sourceFile: source }]);
  assert.deepEqual(readdirSync(path.join(s.dataDir, 'uploads')), [], 'temp file moved, not copied');
});

test('over uploads.maxBytes → 413 mid-stream, partial file deleted, no video row', async (t) => {
  const s = await startUploads(t, { 'uploads.maxBytes': 100_000 });
  const token = await s.token();
  const { head, tail } = framing('too big');
  // Declared length within the pre-check slack, so the limit must be enforced while streaming.
  const body = Buffer.concat([head, noise(130_000), tail]);
  const res = await post(s.url, token, Readable.from([body]), body.length);
  assert.equal(res.status, 413);
  assert.equal((res.json.error as { code: string }).code, 'UPLOAD_TOO_LARGE');
  await new Promise((r) => setTimeout(r, 20)); // let the unlink land
  assert.deepEqual(readdirSync(path.join(s.dataDir, 'uploads')), []);
  assert.equal((await s.strom.control.store.videos.list({ limit: 5 })).items.length, 0);
  assert.equal(s.uploaded.length, 0);
});

test('non-multipart → 415; no file part → 400 naming the field; no token → 401', async (t) => {
  const s = await startUploads(t);
  const token = await s.token();
  const json = await post(s.url, token, Readable.from([Buffer.from('{}')]), 2, 'application/json');
  assert.equal(json.status, 415);
  const onlyField = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n--${BOUNDARY}--\r\n`);
  const missing = await post(s.url, token, Readable.from([onlyField]), onlyField.length);
  assert.equal(missing.status, 400);
  assert.match(String((missing.json.error as { message: string }).message), /"file"/);
  const anon = await fetch(`${s.url}/api/v1/video/upload`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, body: onlyField });
  assert.equal(anon.status, 401);
  assert.equal(anon.headers.get('access-control-allow-origin'), '*', 'browsers can read the 401');
  const preflight = await fetch(`${s.url}/api/v1/video/upload`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
  assert.equal(preflight.status, 204);
  assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/);
});

test('a 300 MB multipart body streams to disk without RSS growing with it', async (t) => {
  const s = await startUploads(t);
  const token = await s.token();
  const total = 300 * 1024 * 1024;
  const chunk = noise(1024 * 1024, 11);
  const { head, tail } = framing('big');
  // Generated on the fly: the same 1 MiB chunk, pulled only as the socket drains.
  async function* gen() {
    yield head;
    for (let sent = 0; sent < total; sent += chunk.length) yield chunk;
    yield tail;
  }
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  t.after(() => clearInterval(sampler));
  const res = await post(s.url, token, Readable.from(gen(), { objectMode: false }), head.length + total + tail.length);
  clearInterval(sampler);
  assert.equal(res.status, 201);
  assert.equal(res.json.status, 'queued');
  const grew = peak - before;
  assert.ok(grew < 100 * 1024 * 1024, `RSS grew by ${Math.round(grew / 1048576)} MiB for a 300 MiB body`);
});
