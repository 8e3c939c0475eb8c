/**
 * The edge's HTTP viewer count: a viewer is an address seen on a surface within the window, counted
 * once however often it asks, forgotten after the window, and the tracked set is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ViewerCounter } from '../../src/edge/viewer-counter.js';

const count = (c: ViewerCounter, now: number) => Object.fromEntries(c.active(now));

test('each address counts once per surface, for as long as it keeps asking within the window', () => {
  const c = new ViewerCounter(10_000);
  for (let t = 0; t < 5_000; t += 100) {
    c.saw('10.0.0.1', 'vod', t);
    if (t === 1_000) c.saw('10.0.0.2', 'vod', t);
    if (t === 2_000) c.saw('10.0.0.1', 'll-hls', t);
  }
  assert.deepEqual(count(c, 5_000), { vod: 2, 'll-hls': 1, 'll-dash': 0 });
  // 10.0.0.2 last asked at 1 s: gone at 11.001 s; 10.0.0.1 asked until 4.9 s (recorded at 4 s at the latest).
  assert.deepEqual(count(c, 11_001), { vod: 1, 'll-hls': 1, 'll-dash': 0 });
  assert.deepEqual(count(c, 13_999), { vod: 1, 'll-hls': 0, 'll-dash': 0 });
  assert.deepEqual(count(c, 14_001), { vod: 0, 'll-hls': 0, 'll-dash': 0 }, 'recorded with 1 s resolution: the 4.9 s request counts as 4 s');
});

test('an address that keeps asking is kept alive past the window of its first request', () => {
  const c = new ViewerCounter(3_000);
  for (let t = 0; t <= 20_000; t += 500) c.saw('10.0.0.9', 'll-dash', t);
  assert.deepEqual(count(c, 20_500), { vod: 0, 'll-hls': 0, 'll-dash': 1 });
});

test('at most maxTracked addresses are remembered: the oldest of the surface make room', () => {
  const c = new ViewerCounter(60_000, 100);
  for (let i = 0; i < 250; i++) c.saw(`10.0.${i >> 8}.${i & 255}`, 'vod', i);
  assert.deepEqual(count(c, 300), { vod: 100, 'll-hls': 0, 'll-dash': 0 });
  c.saw('10.9.9.9', 'll-hls', 400);
  const after = count(c, 400);
  assert.equal(after.vod! + after['ll-hls']!, 100, 'the bound holds across surfaces');
  // Expiry frees room that later addresses can use.
  assert.deepEqual(count(c, 70_000), { vod: 0, 'll-hls': 0, 'll-dash': 0 });
  for (let i = 0; i < 100; i++) c.saw(`10.1.0.${i}`, 'll-dash', 70_000);
  assert.deepEqual(count(c, 70_000), { vod: 0, 'll-hls': 0, 'll-dash': 100 });
});
