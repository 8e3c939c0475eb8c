/** Stream hub: GOP-cache join, bounded readers that skip to the next keyframe, slow-reader disconnect. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { pino } from 'pino';
import { audioToUnit, videoToUnit } from '../../src/live/formats/flv/flv-tags.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { LiveStream } from '../../src/live/stream/stream.js';
import type { ReaderSink } from '../../src/live/stream/reader.js';

const log = pino({ level: 'silent' });

function video(key: boolean, dts: number, size = 1000): MediaUnit {
  const b = Buffer.alloc(5 + size);
  b[0] = key ? 0x17 : 0x27;
  b[1] = 1;
  return videoToUnit(b, dts)!;
}

class FakeSink implements ReaderSink {
  got: MediaUnit[] = [];
  writable = true;
  closedWith: string | null = null;
  write(units: readonly MediaUnit[]): boolean {
    this.got.push(...units);
    return this.writable;
  }
  close(reason: string): void {
    this.closedWith = reason;
  }
}

function newStream(limits = { maxBytes: 10_000, maxUnits: 8, graceMs: 0 }, gop = 1 << 20): LiveStream {
  const s = new LiveStream('s1', gop, limits, log);
  s.attach({ id: 'p', remote: 'x', close() {} }, false);
  s.push(videoToUnit(Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]), 0)!, 9);
  s.push(audioToUnit(Buffer.from([0xaf, 0, 0x12, 0x10]), 0)!, 4);
  return s;
}

test('a reader joining mid-GOP gets the sequence headers and the GOP from its keyframe', async () => {
  const s = newStream();
  for (let i = 0; i < 10; i++) s.push(video(i % 5 === 0, i * 40, 100), 105);
  const sink = new FakeSink();
  s.addReader('http-flv', sink, () => {});
  await tick();
  assert.deepEqual(sink.got.map((u) => [u.kind, u.config, u.keyframe, u.dts]), [
    ['video', true, true, 0], ['audio', true, true, 0],
    ['video', false, true, 200], ['video', false, false, 240], ['video', false, false, 280], ['video', false, false, 320], ['video', false, false, 360],
  ]);
});

test('the GOP cache is bounded: over gopCacheMaxBytes a new viewer waits for the next keyframe', async () => {
  const s = newStream(undefined, 2000);
  for (let i = 0; i < 5; i++) s.push(video(i === 0, i * 40, 1000), 1005);
  const sink = new FakeSink();
  s.addReader('http-flv', sink, () => {});
  s.push(video(false, 200), 1005);
  s.push(video(true, 240), 1005);
  await tick();
  assert.deepEqual(sink.got.filter((u) => !u.config).map((u) => [u.keyframe, u.dts]), [[true, 240]]);
});

test('a blocked reader overflows, drops to the next keyframe (counted), and a fast reader keeps every unit', async () => {
  const s = newStream({ maxBytes: 5_000, maxUnits: 100, graceMs: 60_000 });
  const slow = new FakeSink();
  const fast = new FakeSink();
  s.push(video(true, 0), 1005);
  s.addReader('http-flv', slow, () => {});
  const fastReader = s.addReader('ws-flv', fast, () => {});
  await tick();
  slow.writable = false;
  s.push(video(false, 40), 1005); // slow's last accepted write: now blocked
  await tick();
  const before = slow.got.length;
  for (let i = 2; i < 12; i++) {
    s.push(video(i === 10, i * 40), 1005);
    await tick(); // one unit per tick: the fast reader drains each time
  }
  assert.equal(slow.got.length, before, 'nothing written while blocked');
  assert.equal(fast.got.filter((u) => !u.config).length, 12, 'fast reader got every unit');
  assert.equal(fastReader.drops, 0);
  const slowReader = [...s.readers].find((r) => r !== fastReader)!;
  assert.ok(slowReader.drops > 0 && slowReader.skips >= 1, `drops ${slowReader.drops}`);
  assert.equal(s.totalDrops(), slowReader.drops);
  slow.writable = true;
  slowReader.resume();
  const resumed = slow.got.slice(before).filter((u) => !u.config);
  assert.deepEqual([resumed[0]!.keyframe, resumed[0]!.dts], [true, 400], 'resumes at the next keyframe');
  assert.equal(slow.closedWith, null);
});

test('a reader still behind after the grace period is disconnected with a reason', async () => {
  const s = newStream({ maxBytes: 3_000, maxUnits: 100, graceMs: 0 });
  const slow = new FakeSink();
  slow.writable = false;
  s.push(video(true, 0), 1005);
  let left = '';
  s.addReader('rtmp', slow, (_r, reason) => (left = reason));
  await tick();
  for (let i = 1; i < 20; i++) s.push(video(i % 4 === 0, i * 40), 1005);
  assert.match(slow.closedWith ?? '', /behind/);
  assert.equal(left, slow.closedWith);
  assert.equal(s.readers.size, 0);
  assert.equal(s.slowDisconnects, 1);
  assert.ok(s.drops > 0);
});

test('bitrate and fps come from completed seconds of ingest', () => {
  while (Date.now() % 1000 > 700); // stay inside one wall-clock second for the pushes below
  const s = newStream();
  const now = Date.now();
  assert.deepEqual(s.rates(now), { bitrate: 0, fps: 0 });
  for (let i = 0; i < 25; i++) s.push(video(i === 0, i * 40), 1000);
  const r = s.rates(now + 1000);
  assert.equal(r.fps, 25);
  assert.equal(r.bitrate, (25 * 1000 + 13) * 8);
});
