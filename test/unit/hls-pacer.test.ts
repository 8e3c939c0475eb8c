/**
 * The pacer of pulled HLS sources: units leave at their decode time against the wall clock,
 * interleaved across tracks in dts order, fetching waits while the queue is over its byte bound,
 * and close drops what is held.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aacUnit, avcUnit } from '../../src/live/formats/flv/unit-builders.js';
import { Pacer } from '../../src/live/pull/sources/hls/pacer.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';

test('units leave at their dts on the wall clock, in dts order across tracks', async () => {
  const out: Array<{ u: MediaUnit; at: number }> = [];
  const pacer = new Pacer((u) => out.push({ u, at: Date.now() }), 1 << 20);
  for (let i = 0; i <= 10; i++) pacer.push(avcUnit([Buffer.alloc(100)], 5000 + i * 60, 5000 + i * 60, i === 0));
  for (let i = 0; i <= 20; i++) pacer.push(aacUnit(Buffer.alloc(20), 5000 + i * 30));
  assert.equal(out.length, 0, 'nothing before start');
  const t0 = Date.now();
  pacer.start();
  await pacer.drained();
  assert.equal(out.length, 32);
  for (let i = 1; i < out.length; i++) assert.ok(out[i]!.u.dts >= out[i - 1]!.u.dts, 'dts order across tracks');
  for (const { u, at } of out) assert.ok(at - t0 >= u.dts - 5000 - 2, `dts ${u.dts} left at +${at - t0} ms`);
  assert.ok(out.at(-1)!.at - t0 >= 590 && out.at(-1)!.at - t0 < 1500, `600 ms of media took ${out.at(-1)!.at - t0} ms`);
  assert.equal(pacer.held(), 0);
});

test('room() waits while the queue is over its bound; close() drops everything and lets waiters go', async () => {
  const out: MediaUnit[] = [];
  const pacer = new Pacer((u) => out.push(u), 1000);
  for (let i = 0; i < 5; i++) pacer.push(avcUnit([Buffer.alloc(400)], i * 1000, i * 1000, i === 0));
  let roomy = false;
  const room = pacer.room().then(() => (roomy = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(roomy, false, 'over the bound: fetching waits');
  pacer.start();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(out.length, 1, 'the first unit left at once, the next one in 1 s');
  pacer.close();
  await room;
  assert.equal(pacer.held(), 0);
  pacer.push(aacUnit(Buffer.alloc(10), 0));
  assert.equal(pacer.held(), 0, 'closed: nothing is queued');
});
