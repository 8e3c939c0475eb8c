/** The stream's standby slot (backup ingest): what readers get at a switch, rebasing, bounds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { pino } from 'pino';
import { audioToUnit, videoToUnit } from '../../src/live/formats/flv/flv-tags.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { LiveStream, type Publisher, type PublisherSwitch } from '../../src/live/stream/stream.js';
import type { ReaderSink } from '../../src/live/stream/reader.js';

const log = pino({ level: 'silent' });
const limits = { maxBytes: 1 << 20, maxUnits: 1000, graceMs: 0 };

function video(key: boolean, dts: number, size = 100): MediaUnit {
  const b = Buffer.alloc(5 + size);
  b[0] = key ? 0x17 : 0x27;
  b[1] = 1;
  return videoToUnit(b, dts)!;
}
const avcConfig = (profile = 0x64) => videoToUnit(Buffer.from([0x17, 0, 0, 0, 0, 1, profile, 0, 0x1f]), 0)!;
const aacConfig = () => audioToUnit(Buffer.from([0xaf, 0, 0x12, 0x10]), 0)!;

function publisher(id: string, extra: Partial<Publisher> = {}): Publisher & { keyframeAsks: number } {
  const p = { id, remote: 'x', keyframeAsks: 0, close() {}, requestKeyframe() { p.keyframeAsks++; }, ...extra };
  return p;
}

class Sink implements ReaderSink {
  got: MediaUnit[] = [];
  write(units: readonly MediaUnit[]): boolean {
    this.got.push(...units);
    return true;
  }
  close(): void {}
}

function live(gop = 1 << 20): { s: LiveStream; a: Publisher; sink: Sink; switches: PublisherSwitch[] } {
  const s = new LiveStream('s1', gop, limits, log);
  const switches: PublisherSwitch[] = [];
  s.onSwitch = (e) => switches.push(e);
  const a = publisher('a');
  s.attach(a, false);
  s.push(avcConfig(), 9, a);
  s.push(aacConfig(), 4, a);
  for (let i = 0; i < 5; i++) s.push(video(i === 0, i * 40), 105, a);
  const sink = new Sink();
  s.addReader('http-flv', sink, () => {});
  return { s, a, sink, switches };
}

test('standby units are kept, not fanned out; a switch sends its headers then its GOP, rebased one frame after the last dts', async () => {
  const { s, a, sink, switches } = live();
  const b = publisher('b', { backup: true });
  s.setStandby(b, 'backup');
  s.push(avcConfig(0x4d), 9, b);
  s.push(aacConfig(), 4, b);
  for (let i = 0; i < 8; i++) s.push(video(i % 5 === 0, 90_000 + i * 40), 105, b); // GOP from its keyframe at 90200
  await tick();
  assert.ok(sink.got.every((u) => u.dts < 90_000), 'nothing of the standby reached the reader');
  const n = sink.got.length;
  s.switchToStandby('primary left', false);
  assert.equal(s.publisher, b);
  assert.equal(s.standby, null);
  await tick();
  const after = sink.got.slice(n);
  assert.deepEqual(after.map((u) => [u.kind, u.config, u.keyframe, u.dts]), [
    ['video', true, true, 160], ['audio', true, true, 160], // headers at the last dts sent
    ['video', false, true, 200], ['video', false, false, 240], ['video', false, false, 280], // 160 + 40 (one frame)
  ]);
  s.push(video(false, 90_320), 105, b);
  s.push(video(false, 90_000), 105, a); // the old publisher's late unit: dropped
  await tick();
  assert.deepEqual(sink.got.slice(n + 5).map((u) => u.dts), [320]);
  assert.deepEqual(switches.map((e) => [e.from.id, e.to.id, e.configChanged]), [['a', 'b', true]]);
});

test('a standby without a keyframe: readers wait for it; the encoder is asked for one', async () => {
  const { s, sink } = live();
  const b = publisher('b', { backup: true });
  s.setStandby(b, 'backup');
  s.push(avcConfig(), 9, b);
  s.push(aacConfig(), 4, b);
  await tick();
  s.switchToStandby('primary left', false);
  assert.equal(b.keyframeAsks, 1);
  const n = sink.got.length;
  s.push(video(false, 7000), 105, b);
  s.push(video(true, 7040), 105, b);
  await tick();
  assert.deepEqual(sink.got.slice(n).filter((u) => !u.config).map((u) => [u.keyframe, u.dts]), [[true, 240]],
    'the non-keyframe is skipped; the keyframe lands one frame after the last dts');
});

test('a returning primary takes over at its first keyframe; the active backup goes back to standby', async () => {
  const { s, a, sink, switches } = live();
  const p = publisher('p');
  s.setStandby(p, 'primary');
  s.push(avcConfig(), 9, p);
  s.push(video(false, 5000), 105, p);
  assert.equal(s.publisher, a, 'no keyframe yet');
  s.push(video(true, 5040), 105, p);
  assert.equal(s.publisher, p);
  assert.equal(s.standby?.publisher, a);
  assert.equal(s.standby?.role, 'backup');
  assert.deepEqual(switches.map((e) => [e.from.id, e.to.id, e.configChanged]), [['a', 'p', true]], 'p sent no audio header: the config differs');
  await tick();
  const frames = sink.got.filter((u) => !u.config).map((u) => u.dts);
  assert.deepEqual(frames, [0, 40, 80, 120, 160, 200]);
});

test('the standby GOP is bounded like the GOP cache', () => {
  const { s } = live(1000);
  const b = publisher('b', { backup: true });
  s.setStandby(b, 'backup');
  for (let i = 0; i < 20; i++) s.push(video(i === 0, i * 40, 100), 105, b);
  assert.equal(s.standby!.gop.length, 0, 'over the bound the GOP is dropped until the next keyframe');
  s.push(video(true, 800), 105, b);
  assert.equal(s.standby!.gop.length, 1);
});

test('an audio-only standby keeps about the last second of audio', () => {
  const s = new LiveStream('s2', 1 << 20, limits, log);
  s.attach(publisher('a'), false);
  const b = publisher('b', { backup: true });
  s.setStandby(b, 'backup');
  s.push(aacConfig(), 4, b);
  for (let i = 0; i < 100; i++) s.push(audioToUnit(Buffer.from([0xaf, 1, 1, 2, 3]), i * 23)!, 5, b);
  const gop = s.standby!.gop;
  assert.ok(gop.length > 0 && gop.at(-1)!.dts - gop[0]!.dts < 1000, `${gop.length} frames kept`);
});
