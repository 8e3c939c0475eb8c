/** LiveSegmenter state machine with synthetic units: cutting rules, audio-only, configuration changes, flush. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveSegmenter, PART_SLACK_MS, type CmafPart } from '../../src/live/formats/cmaf/live-segmenter.js';
import { audioToUnit, videoToUnit } from '../../src/live/formats/flv/flv-tags.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { aacConfigBody, aacFrameBody, avcConfigBody, avcFrameBody } from '../helpers/live-fixtures.js';

const v = (i: number, key = i % 10 === 0): MediaUnit => videoToUnit(avcFrameBody(key, i, 100), i * 40)!;
const a = (i: number): MediaUnit => audioToUnit(aacFrameBody(20), Math.round(i * 23.22))!;

function run(units: MediaUnit[], expect = { video: true, audio: true }) {
  const parts: CmafPart[] = [];
  const s = new LiveSegmenter(expect, { partTargetMs: 200, segmentTargetMs: 400 }, (p) => parts.push(p));
  for (const u of units) s.push(u);
  return { s, parts };
}

test('nothing before the configuration and the first keyframe; parts ≤ target; segments at keyframes ≥ target', () => {
  const units = [v(0), videoToUnit(avcConfigBody(), 0)!, audioToUnit(aacConfigBody(), 0)!];
  for (let i = 1; i <= 45; i++) units.push(v(i), a(i * 40 / 23.22));
  const { s, parts } = run(units);
  assert.ok(s.init);
  assert.equal(parts[0]!.startMs, 400, 'starts at the first keyframe after the configuration (frame 10)');
  for (const p of parts) assert.ok(p.durationMs <= 200, `part ${p.seq}: ${p.durationMs} ms`);
  assert.deepEqual(parts.filter((p) => p.index === 0).map((p) => p.startMs), [400, 800, 1200, 1600], 'segments start on keyframes');
  assert.ok(parts.filter((p) => p.index === 0).every((p) => p.independent));
  assert.ok(parts.filter((p) => p.index > 0).every((p) => !p.independent));
  assert.deepEqual(parts.filter((p) => p.lastOfSegment).map((p) => p.msn), [0, 1, 2]);
});

test('audio-only: every frame is a sync sample, parts and segments cut on audio time', () => {
  const units = [audioToUnit(aacConfigBody(), 0)!];
  for (let i = 0; i < 60; i++) units.push(a(i));
  const { parts } = run(units, { video: false, audio: true });
  assert.ok(parts.length >= 5);
  for (const p of parts) assert.ok(p.durationMs <= 200 && p.independent);
  assert.ok(parts.some((p) => p.lastOfSegment));
});

test('a changed configuration ends the segment and bumps the init version; an identical one does nothing', () => {
  const units = [videoToUnit(avcConfigBody(), 0)!, audioToUnit(aacConfigBody(), 0)!];
  for (let i = 0; i <= 14; i++) units.push(v(i));
  units.push(videoToUnit(avcConfigBody(), 600)!); // repeated sequence header: a splice, not a new configuration
  units.push(v(15, true));
  const changed = avcConfigBody();
  changed[6] = 0x4d;
  units.push(videoToUnit(changed, 640)!);
  units.push(v(16, false), v(17, false)); // dropped: wait for a keyframe under the new configuration
  for (let i = 20; i <= 31; i++) units.push(v(i));
  const { s, parts } = run(units);
  const first = parts.find((p) => p.initVersion === 1)!;
  assert.ok(first, 'parts after the change use init version 1');
  assert.equal(s.initVersion, 1, 'the repeated identical header did not bump the version');
  const splice = parts.find((p) => p.startMs === 600)!;
  assert.ok(splice && splice.index === 0 && !splice.discontinuity && splice.initVersion === 0, 'identical header: new segment, same init, no discontinuity');
  assert.equal(first.discontinuity, true);
  assert.equal(first.index, 0, 'the new configuration starts a new segment');
  assert.equal(first.startMs, 800, 'at the first keyframe after the change');
  const before = parts[parts.indexOf(first) - 1]!;
  assert.equal(before.lastOfSegment, true, 'the old segment was closed by the change');
  assert.ok(s.init!.includes(changed.subarray(5)), 'new init carries the new avcC');
  assert.equal(parts.filter((p) => p.discontinuity).length, 1);
});

test('flush emits the pending samples as a final part that closes the segment', () => {
  const units = [videoToUnit(avcConfigBody(), 0)!, audioToUnit(aacConfigBody(), 0)!];
  for (let i = 0; i <= 3; i++) units.push(v(i));
  const { s, parts } = run(units);
  assert.equal(parts.length, 0);
  s.flush();
  assert.equal(parts.length, 1);
  assert.equal(parts[0]!.lastOfSegment, true);
  assert.equal(parts[0]!.durationMs, 160, 'last frame duration estimated from the previous delta');
});

test('30 fps in millisecond timestamps: 15 frames per 500 ms part, no lone-frame part before each keyframe', () => {
  const ms = (i: number) => Math.round((i * 1000) / 30); // FLV/RTMP: 0, 33, 67, 100, … (33/34 ms frames)
  const units = [videoToUnit(avcConfigBody(), 0)!];
  for (let i = 0; i < 180; i++) units.push(videoToUnit(avcFrameBody(i % 60 === 0, i, 100), ms(i))!); // 2 s GOP
  const parts: CmafPart[] = [];
  const s = new LiveSegmenter({ video: true, audio: false }, { partTargetMs: 500, segmentTargetMs: 2000 }, (p) => parts.push(p));
  for (const u of units) s.push(u);
  const firstTwo = parts.filter((p) => p.msn < 2);
  assert.deepEqual(firstTwo.map((p) => p.index), [0, 1, 2, 3, 0, 1, 2, 3], 'four parts per 2 s segment');
  for (const p of firstTwo) {
    assert.ok(p.durationMs >= 499 && p.durationMs <= 500 + PART_SLACK_MS, `part ${p.msn}.${p.index}: ${p.durationMs} ms`);
  }
});
