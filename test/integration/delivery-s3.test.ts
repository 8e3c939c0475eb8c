/**
 * The delivery origin reading from object storage: one asset published to a private s3rver
 * (through the real AWS SDK) and served by a Strom node whose own data directory never held it,
 * side by side with a node serving the same files from disk. A representative subset of
 * delivery-http's rules must hold on both with the same bytes — 200 bodies and types, single,
 * suffix, open and multipart ranges, 416, If-None-Match / If-Modified-Since 304s keeping the
 * validators, If-Range, HEAD, 404s — in memory and streamed as ranged GetObjects. Hot requests
 * cost no storage operation (no HEAD per request); a delivery worker process reads the bucket
 * too; an unreachable bucket is a 503 STORAGE_UNAVAILABLE naming endpoint and bucket.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { testConfig } from '../../src/config.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { parseByteranges, request, startStrom, tempDir, type FullResponse, type Running } from '../helpers/http-client.js';
import { startS3 } from '../helpers/s3.js';

const ID = 'a1';
const diskData = tempDir('s3-disk');
const assetDir = path.join(diskData, 'assets', ID);
const s3 = await startS3();
let disk: Running;
let bucket: Running;
let streamed: Running;

const file = (rel: string) => readFileSync(path.join(assetDir, rel));

before(async () => {
  await makeFixtureAsset({ dataDir: diskData, id: ID, seconds: 2 });
  rmSync(path.join(assetDir, '.fixture'));
  const storage = new S3Storage(testConfig(s3.settings('strom/')).storage.s3);
  // Publish a copy (the disk node keeps its own files).
  const copy = tempDir('s3-publish');
  cpSync(assetDir, path.join(copy, ID), { recursive: true });
  await storage.publish(path.join(copy, ID), `assets/${ID}/`);
  storage.close();
  rmSync(copy, { recursive: true, force: true });
  disk = await startStrom({ dataDir: diskData });
  bucket = await startStrom({ ...s3.settings('strom/') }); // its own, empty data directory
  streamed = await startStrom({ ...s3.settings('strom/'), 'delivery.maxObjectBytes': '16KB', 'delivery.streamChunkBytes': 4096 });
});

after(async () => {
  await disk?.stop();
  await bucket?.stop();
  await streamed?.stop();
  rmSync(diskData, { recursive: true, force: true });
});

const SEG = 'v360/seg_00001.m4s';
const servers = () => [
  { name: 'bucket', s: bucket },
  { name: 'bucket, streamed', s: streamed },
];
/** Headers that must match between the disk and the bucket node (validators differ: S3 ETags, upload times). */
const SAME = ['content-type', 'content-length', 'content-range', 'cache-control', 'accept-ranges', 'access-control-allow-origin'];
function assertLike(r: FullResponse, d: FullResponse, what: string): void {
  assert.equal(r.status, d.status, `${what}: status`);
  for (const h of SAME) assert.equal(r.headers[h], d.headers[h], `${what}: ${h}`);
  assert.ok(r.body.equals(d.body), `${what}: body`);
}

describe('same answers as the disk origin', () => {
  const cases: Array<[string, string, Record<string, string>]> = [
    ['master playlist', 'master.m3u8', {}],
    ['media playlist', 'v360/index.m3u8', {}],
    ['init segment', 'v360/init.mp4', {}],
    ['media segment', SEG, {}],
    ['download mp4', 'download.mp4', {}],
    ['poster', 'poster.jpg', {}],
    ['single range', SEG, { range: 'bytes=0-99' }],
    ['suffix range', SEG, { range: 'bytes=-500' }],
    ['open range', SEG, { range: 'bytes=1000-' }],
    ['range past the end', SEG, { range: 'bytes=10-99999999' }],
    ['unsatisfiable range', SEG, { range: 'bytes=99999999-' }],
    ['unparseable range (ignored)', SEG, { range: 'bytes=abc' }],
    ['missing object', 'v360/seg_99999.m4s', {}],
    ['unknown extension', 'v360/index.txt', {}],
  ];
  for (const { name, s } of [{ name: 'bucket', s: () => bucket }, { name: 'bucket, streamed', s: () => streamed }]) {
    for (const [what, rel, headers] of cases) {
      test(`${name}: ${what}`, async () => {
        const d = await request(`${disk.url}/v/${ID}/${rel}`, { headers });
        const r = await request(`${s().url}/v/${ID}/${rel}`, { headers });
        assertLike(r, d, what);
      });
    }
  }

  test('multipart byteranges carry the same parts', async () => {
    for (const { name, s } of servers()) {
      const r = await request(`${s.url}/v/${ID}/${SEG}`, { headers: { range: 'bytes=0-9,100-199,-50' } });
      assert.equal(r.status, 206, name);
      const parts = parseByteranges(String(r.headers['content-type']), r.body);
      const seg = file(SEG);
      assert.deepEqual(parts.map((p) => p.body), [seg.subarray(0, 10), seg.subarray(100, 200), seg.subarray(seg.length - 50)], name);
    }
  });

  test('HEAD: the GET headers, no body', async () => {
    for (const { name, s } of servers()) {
      const r = await request(`${s.url}/v/${ID}/${SEG}`, { method: 'HEAD' });
      assert.equal(r.status, 200, name);
      assert.equal(r.headers['content-length'], String(file(SEG).length), name);
      assert.equal(r.body.length, 0, name);
    }
  });
});

describe('validators from the bucket', () => {
  test('a strong ETag and Last-Modified; If-None-Match and If-Modified-Since give 304 with them', async () => {
    for (const { name, s } of servers()) {
      const r = await request(`${s.url}/v/${ID}/${SEG}`);
      const etag = String(r.headers.etag);
      assert.match(etag, /^"[0-9a-f-]+"$/, name);
      const nm = await request(`${s.url}/v/${ID}/${SEG}`, { headers: { 'if-none-match': etag } });
      assert.equal(nm.status, 304, name);
      assert.equal(nm.headers.etag, etag, name);
      assert.equal(nm.headers['cache-control'], 'public, max-age=31536000, immutable', name);
      assert.equal(nm.body.length, 0, name);
      const ims = await request(`${s.url}/v/${ID}/${SEG}`, { headers: { 'if-modified-since': String(r.headers['last-modified']) } });
      assert.equal(ims.status, 304, name);
      const im = await request(`${s.url}/v/${ID}/${SEG}`, { headers: { 'if-match': '"other"' } });
      assert.equal(im.status, 412, name);
      const ir = await request(`${s.url}/v/${ID}/${SEG}`, { headers: { range: 'bytes=0-9', 'if-range': etag } });
      assert.equal(ir.status, 206, name);
      const stale = await request(`${s.url}/v/${ID}/${SEG}`, { headers: { range: 'bytes=0-9', 'if-range': '"stale"' } });
      assert.equal(stale.status, 200, name);
      assert.ok(stale.body.equals(file(SEG)), name);
    }
  });

  test('every node sends the same ETag for the same object', async () => {
    const a = await request(`${bucket.url}/v/${ID}/${SEG}`);
    const b = await request(`${streamed.url}/v/${ID}/${SEG}`);
    assert.equal(a.headers.etag, b.headers.etag);
  });
});

describe('cost and resilience', () => {
  test('hot requests make no storage request at all (metadata and body cached)', async () => {
    const ops = async () => (await bucket.strom.obs.metrics.registry.getSingleMetric('strom_storage_operations_total')!.get()).values.reduce((n, v) => n + v.value, 0);
    await request(`${bucket.url}/v/${ID}/v240/seg_00000.m4s`);
    const before = await ops();
    for (let i = 0; i < 20; i++) assert.equal((await request(`${bucket.url}/v/${ID}/v240/seg_00000.m4s`)).status, 200);
    assert.equal(await ops(), before);
  });

  test('a first (cold) request of a small object is one GET, not a HEAD and a GET', async () => {
    const count = async (op: string) => (await bucket.strom.obs.metrics.registry.getSingleMetric('strom_storage_operations_total')!.get()).values
      .filter((v) => v.labels.op === op).reduce((n, v) => n + v.value, 0);
    const [gets, stats] = [await count('get'), await count('stat')];
    assert.equal((await request(`${bucket.url}/v/${ID}/v240/seg_00001.m4s`)).status, 200);
    assert.equal(await count('get'), gets + 1);
    assert.equal(await count('stat'), stats);
  });

  test('after delivery.metaTtlMs one LIST per asset re-checks its entries; a deleted object then 404s', async (t) => {
    // A TTL long enough that a loaded machine serves the five requests below inside one TTL: past it,
    // a playlist's next load is a HEAD by design and the count below would measure the machine.
    const ttl = 1500;
    const n = await startStrom({ ...s3.settings('strom/'), 'delivery.metaTtlMs': ttl });
    t.after(() => n.stop());
    const count = async (op: string) => (await n.strom.obs.metrics.registry.getSingleMetric('strom_storage_operations_total')!.get()).values
      .filter((v) => v.labels.op === op).reduce((sum, v) => sum + v.value, 0);
    const rels = ['v360/seg_00000.m4s', 'v360/seg_00001.m4s', 'v240/seg_00000.m4s', 'master.m3u8', 'v360/index.m3u8'];
    for (const rel of rels) assert.equal((await request(`${n.url}/v/${ID}/${rel}`)).status, 200, rel);
    await new Promise((r) => setTimeout(r, ttl + 100));
    const [lists, stats] = [await count('list'), await count('stat')];
    for (const rel of rels) assert.equal((await request(`${n.url}/v/${ID}/${rel}`)).status, 200, 'stale entries are served while re-checked');
    for (let i = 0; i < 50 && (await count('list')) === lists; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await count('list'), lists + 1, 'one LIST for the whole asset');
    assert.equal(await count('stat'), stats, 'no HEAD per object');

    // An object removed from the bucket behind Strom's back is noticed by the next re-check.
    const storage = new S3Storage(testConfig(s3.settings('strom/')).storage.s3);
    t.after(() => storage.close());
    const copy = tempDir('s3-gone');
    t.after(() => rmSync(copy, { recursive: true, force: true }));
    cpSync(assetDir, path.join(copy, 'gone'), { recursive: true });
    await storage.publish(path.join(copy, 'gone'), 'assets/gone/');
    assert.equal((await request(`${n.url}/v/gone/${SEG}`)).status, 200);
    await storage.delete(`assets/gone/${SEG}`);
    await new Promise((r) => setTimeout(r, ttl + 100));
    await request(`${n.url}/v/gone/${SEG}`); // stale: served once more, re-check starts
    let status = 200;
    for (let i = 0; i < 50 && status === 200; i++) {
      await new Promise((r) => setTimeout(r, 20));
      status = (await request(`${n.url}/v/gone/${SEG}`)).status;
    }
    assert.equal(status, 404);
  });

  test('a delivery worker process reads the bucket through its own client', async (t) => {
    const w = await startStrom({ ...s3.settings('strom/'), 'delivery.workers': 1 });
    t.after(() => w.stop());
    for (let tries = 0; tries < 100 && (w.strom.deliveryWorkers?.readyCount() ?? 0) < 1; tries++) await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 6; i++) {
      const r = await request(`${w.url}/v/${ID}/v360/seg_00000.m4s`); // fresh connections: main and worker in turn
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(file('v360/seg_00000.m4s')));
    }
    const stats = await w.strom.deliveryWorkers!.stats();
    assert.ok(stats.some((s) => s.requests > 0), 'the worker answered some of them');
  });

  test('an unreachable bucket is a 503 STORAGE_UNAVAILABLE naming endpoint and bucket, not a crash', async (t) => {
    const dead = await startStrom({ ...s3.settings('strom/'), 'storage.s3.endpoint': 'http://127.0.0.1:1', 'storage.s3.bucket': 'media', 'storage.s3.requestTimeoutMs': 1000 });
    t.after(() => dead.stop());
    const r = await request(`${dead.url}/v/${ID}/${SEG}`);
    assert.equal(r.status, 503);
    const body = JSON.parse(r.body.toString()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'STORAGE_UNAVAILABLE');
    assert.match(body.error.message, /s3:\/\/media\/strom\/ at http:\/\/127\.0\.0\.1:1/);
    assert.equal((await request(`${dead.url}/v/${ID}/${SEG}`, { headers: { range: 'bytes=0-9' } })).status, 503);
    // Readiness says why: the bucket check fails naming it; a node whose bucket answers is ready.
    const ready = JSON.parse((await request(`${dead.url}/readyz`)).body.toString()) as { checks: Record<string, string> };
    assert.match(ready.checks.bucket ?? '', /s3:\/\/media\/strom\/ at http:\/\/127\.0\.0\.1:1/);
    const fine = JSON.parse((await request(`${bucket.url}/readyz`)).body.toString()) as { checks: Record<string, string> };
    assert.equal(fine.checks.bucket, 'ok');
  });
});
