/** HotCache: a byte-bounded LRU; the budget must hold after every operation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HotCache } from '../../src/store/hot-cache.js';

const buf = (n: number, fill = 1) => Buffer.alloc(n, fill);

test('the byte budget holds after every insert', () => {
  const c = new HotCache(1000);
  for (let i = 0; i < 200; i++) {
    c.set(`k${i}`, buf(1 + ((i * 37) % 300)));
    assert.ok(c.stats().bytes <= 1000, `after insert ${i}: ${c.stats().bytes}`);
  }
  const s = c.stats();
  assert.ok(s.evictions > 0);
  assert.ok(s.entries > 1);
});

test('the least recently used entry is evicted first, and get refreshes', () => {
  const c = new HotCache(300);
  c.set('a', buf(100));
  c.set('b', buf(100));
  c.set('c', buf(100));
  assert.ok(c.get('a')); // a is now the most recent; b is the oldest
  c.set('d', buf(100));
  assert.equal(c.peek('b'), undefined);
  assert.ok(c.peek('a') && c.peek('c') && c.peek('d'));
  assert.equal(c.stats().evictions, 1);
});

test('peek neither refreshes nor counts', () => {
  const c = new HotCache(200);
  c.set('a', buf(100));
  c.set('b', buf(100));
  c.peek('a');
  c.set('c', buf(100));
  assert.equal(c.peek('a'), undefined, 'a stayed the oldest despite peek');
  assert.equal(c.stats().hits, 0);
  assert.equal(c.stats().misses, 0);
});

test('hits and misses are counted', () => {
  const c = new HotCache(100);
  c.set('a', buf(10));
  c.get('a');
  c.get('zzz');
  assert.deepEqual([c.stats().hits, c.stats().misses], [1, 1]);
});

test('a value larger than the whole budget is refused and evicts nothing', () => {
  const c = new HotCache(100);
  c.set('a', buf(60));
  assert.equal(c.set('big', buf(101)), false);
  assert.equal(c.peek('big'), undefined);
  assert.ok(c.peek('a'));
  assert.equal(c.stats().bytes, 60);
});

test('replacing a key with a too-large value drops the stale value', () => {
  const c = new HotCache(100);
  c.set('a', buf(50, 1));
  assert.equal(c.set('a', buf(200, 2)), false);
  assert.equal(c.peek('a'), undefined, 'the old bytes must not be served under the key any more');
  assert.equal(c.stats().bytes, 0);
});

test('replacing a key accounts bytes once', () => {
  const c = new HotCache(100);
  c.set('a', buf(50));
  c.set('a', buf(70));
  assert.equal(c.stats().bytes, 70);
  assert.equal(c.stats().entries, 1);
});

test('budget 0 caches nothing non-empty', () => {
  const c = new HotCache(0);
  assert.equal(c.set('a', buf(1)), false);
  assert.equal(c.stats().bytes, 0);
});

test('delete and deleteWhere release bytes', () => {
  const c = new HotCache(1000);
  c.set('/v/a/1', buf(100));
  c.set('/v/a/2', buf(100));
  c.set('/v/b/1', buf(100));
  assert.equal(c.deleteWhere((k) => k.startsWith('/v/a/')), 2);
  assert.equal(c.stats().bytes, 100);
  assert.equal(c.delete('/v/b/1'), true);
  assert.equal(c.delete('/v/b/1'), false);
  assert.equal(c.stats().bytes, 0);
});

test('repeated hits on the most recent key keep exact LRU order (the no-reorder shortcut)', () => {
  const c = new HotCache(300);
  c.set('a', buf(100));
  c.set('b', buf(100));
  assert.ok(c.get('a') && c.get('a')); // order b, a — the second hit needs no reorder
  c.set('c', buf(100)); // order b, a, c: c is now the most recent, not a
  assert.ok(c.get('a')); // must reorder: b, c, a
  c.delete('b');
  c.set('d', buf(100)); // c, a, d
  c.set('e', buf(100)); // evicts c
  assert.equal(c.peek('c'), undefined, 'c was the least recently used');
  assert.ok(c.peek('a') && c.peek('d') && c.peek('e'));
  assert.equal(c.stats().hits, 3);
});
