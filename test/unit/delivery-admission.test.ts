/**
 * The hot cache's admission policy (file-catalog.ts `admits`): every miss is admitted
 * while the cache has room; once full, an object enters only on its second miss while its key is
 * still in the doorkeeper, whose memory is as many keys as the cache holds objects.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileCatalog } from '../../src/http/delivery/file-catalog.js';
import { parseAssetPath } from '../../src/http/delivery/safe-path.js';

test('misses are cached while there is room, then only on a second miss; pooled reads return exact bytes', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-admission-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'a'));
  for (let i = 0; i < 40; i++) writeFileSync(path.join(dir, 'a', `s${i}.m4s`), Buffer.alloc(1000, i));
  const catalog = new FileCatalog({ assetsDir: dir, cacheBytes: 4000, maxObjectBytes: 4000, metaTtlMs: 60_000, metaEntries: 1000, playlistMaxAgeS: 60, commonHeaders: [] });
  const entry = async (i: number) => (await catalog.load(`/v/a/s${i}.m4s`, parseAssetPath(`/v/a/s${i}.m4s`, '/v/')))!;

  for (let i = 0; i < 4; i++) await catalog.body(await entry(i));
  assert.equal(catalog.hot.stats().entries, 4, 'room: every miss admitted');
  const e5 = await entry(5);
  const first = await catalog.body(e5);
  assert.deepEqual(first, Buffer.alloc(1000, 5));
  assert.equal(catalog.hot.peek(e5.key), undefined, 'full: a first miss is served but not cached');
  await catalog.body(e5);
  assert.notEqual(catalog.hot.peek(e5.key), undefined, 'its second miss is admitted');
  assert.equal(catalog.hot.stats().evictions, 1);

  // bodyForSend: a non-admitted miss reads into a pooled buffer, reused after release
  const e6 = await entry(6);
  const a = await catalog.bodyForSend(e6);
  assert.deepEqual(a.buf, Buffer.alloc(1000, 6));
  a.release();
  const e7 = await entry(7);
  const b = await catalog.bodyForSend(e7);
  assert.deepEqual(b.buf, Buffer.alloc(1000, 7));
  assert.equal(b.buf.buffer, a.buf.buffer, 'the released buffer was reused');
  b.release();
  assert.equal(catalog.hot.peek(e7.key), undefined);
  // …and its second miss through bodyForSend is admitted too (admission decided once per miss)
  const c = await catalog.bodyForSend(e7);
  assert.deepEqual(c.buf, Buffer.alloc(1000, 7));
  c.release();
  assert.notEqual(catalog.hot.peek(e7.key), undefined, 'second miss through the lean path is cached');

  // the doorkeeper forgets: after more distinct misses than the cache holds objects, a key counts as new again
  for (let i = 10; i < 30; i++) await catalog.body(await entry(i));
  await catalog.body(e6);
  assert.equal(catalog.hot.peek(e6.key), undefined, 'forgotten by the doorkeeper');
});
