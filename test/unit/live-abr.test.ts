/**
 * Live ABR building blocks: the ladder (parsing, rungs below the source, even widths, the
 * ffmpeg alignment flags, one pipe per rung) and the segmenter's follower mode (a rendition that
 * joins mid-stream starts on a source segment start and then cuts exactly where the source cut,
 * with the source's MSN, part index and part number).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { abrFfmpegArgs, parseLadder, rungsFor } from '../../src/live/abr/abr-ladder.js';
import { LiveSegmenter, type CmafPart } from '../../src/live/formats/cmaf/live-segmenter.js';
import { audioToUnit, videoToUnit } from '../../src/live/formats/flv/flv-tags.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { aacConfigBody, aacFrameBody, avcConfigBody, avcFrameBody } from '../helpers/live-fixtures.js';

test('ladder: parse, rungs strictly below the source, even widths, aligned ffmpeg outputs', () => {
  assert.deepEqual(parseLadder(['360p', '720p', '360p']), [720, 360]);
  assert.throws(() => parseLadder(['720']), /live\.abrLadder.*"720"/);
  assert.throws(() => parseLadder(['361p']), /even height/);
  const rungs = rungsFor([720, 360, 240], { width: 1280, height: 720 });
  assert.deepEqual(rungs.map((r) => [r.name, r.width, r.height]), [['360p', 640, 360], ['240p', 426, 240]]);
  assert.deepEqual(rungsFor([720], { width: 640, height: 360 }), [], 'never upscaled or duplicated');
  const args = abrFfmpegArgs(rungs, { preset: 'veryfast', audio: 'copy' });
  assert.deepEqual(args.filter((a) => a.startsWith('pipe:')), ['pipe:0', 'pipe:3', 'pipe:4']);
  for (const flag of ['-copyts', '-force_key_frames', 'source', 'passthrough', '1:1000']) assert.ok(args.includes(flag), flag);
  assert.equal(args.filter((a) => a === '-bf').length, 2);
  assert.ok(!abrFfmpegArgs(rungs, { preset: 'veryfast', audio: 'none' }).includes('0:a:0?'));
});

const v = (i: number): MediaUnit => videoToUnit(avcFrameBody(i % 10 === 0, i, 100), i * 40)!;
const a = (i: number): MediaUnit => audioToUnit(aacFrameBody(20), i * 40)!;
const configs = () => [videoToUnit(avcConfigBody(), 0)!, audioToUnit(aacConfigBody(), 0)!];

test('follower mode: joins on a source segment start, then same cuts and numbers as the source', () => {
  const src: CmafPart[] = [];
  const leader = new LiveSegmenter({ video: true, audio: true }, { partTargetMs: 200, segmentTargetMs: 800 }, (p) => src.push(p));
  const out: CmafPart[] = [];
  const follower = new LiveSegmenter({ video: true, audio: true }, { partTargetMs: 200, segmentTargetMs: 800 }, (p) => out.push(p), {}, (dts) => leader.boundaries.get(dts));
  for (const u of configs()) {
    leader.push(u);
    follower.push(u);
  }
  // The follower sees frames from 10 on (a keyframe that is NOT a source segment start: segments are 2 GOPs).
  for (let i = 0; i <= 90; i++) {
    leader.push(v(i));
    leader.push(a(i));
    if (i >= 10) {
      follower.push(v(i));
      follower.push(a(i));
    }
  }
  assert.equal(out[0]!.startMs, 800, 'starts at the next source segment start (frame 20), not at frame 10');
  const key = (p: CmafPart) => `${p.msn}/${p.index}/${p.seq}/${p.startMs}/${p.durationMs}/${p.lastOfSegment}/${p.independent}`;
  const common = src.filter((p) => p.startMs >= 800 && p.seq <= out.at(-1)!.seq);
  assert.ok(common.length >= 10);
  assert.deepEqual(out.map(key), common.map(key), 'identical boundaries and numbers');
  assert.ok(leader.boundaries.size <= 256, 'bounded');
});
