/**
 * The edge cache's tiers (src/edge/object-store.ts): the disk tier's byte count is the bytes of the
 * objects it holds, also when memory evicts an object before that object's first disk write has
 * finished (every stored object is written behind, and written again on eviction unless on disk).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CachedObject } from '../../src/edge/cached-object.js';
import { ObjectStore } from '../../src/edge/object-store.js';

function object(key: string, size: number): CachedObject {
  return { key, headers: [], body: Buffer.alloc(size, 1), etag: null, lastModifiedS: NaN, storedAt: Date.now(), originAgeS: 0, lifetimeMs: 60_000, immutable: true };
}

test('an object evicted from memory while its disk write is in flight is written and counted once', async () => {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'strom-edge-store-')), 'disk');
  const store = new ObjectStore(100_000, dir, 1_000_000);
  try {
    // Memory holds one of these: the second evicts the first at once, before its write completed.
    store.set(object('/v/a/seg_1.m4s', 60_000));
    store.set(object('/v/a/seg_2.m4s', 60_000));
    const disk = store.disk!;
    for (let i = 0; i < 100 && disk.index.size < 2; i++) await sleep(10);
    await sleep(50); // a second write of the same object, if one was started, lands meanwhile
    const s = store.stats();
    assert.equal(s.memory.evictions, 1);
    assert.equal(s.disk!.objects, 2);
    assert.equal(s.disk!.bytes, 120_000, 'two objects of 60 000 bytes');
    assert.equal(readdirSync(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0), 120_000);
    store.disk!.delete('/v/a/seg_1.m4s');
    store.disk!.delete('/v/a/seg_2.m4s');
    assert.equal(store.stats().disk!.bytes, 0, 'nothing left counted once both are removed');
  } finally {
    store.close();
    rmSync(path.dirname(dir), { recursive: true, force: true });
  }
});

test('an invalidation while disk writes are in flight: the objects are not indexed afterwards and their files are removed', async () => {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'strom-edge-store-')), 'disk');
  const store = new ObjectStore(100_000, dir, 1_000_000);
  try {
    store.set(object('/v/gone/seg_1.m4s', 60_000));
    store.set(object('/v/gone/seg_2.m4s', 60_000)); // evicts seg_1 from memory: two writes in flight
    store.set(object('/v/kept/seg_1.m4s', 30_000));
    store.deletePrefix('/v/gone/'); // the origin invalidated the asset before the writes finished
    for (let i = 0; i < 100 && store.disk!.index.size < 1; i++) await sleep(10);
    await sleep(100);
    assert.deepEqual([...store.disk!.index.keys()], ['/v/kept/seg_1.m4s']);
    assert.equal(store.hot('/v/gone/seg_2.m4s'), undefined);
    assert.equal(store.stats().disk!.bytes, 30_000);
    assert.equal(readdirSync(dir).length, 1, 'only the kept object has a file');
  } finally {
    store.close();
    rmSync(path.dirname(dir), { recursive: true, force: true });
  }
});
