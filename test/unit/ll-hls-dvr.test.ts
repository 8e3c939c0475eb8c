/**
 * DVR window of the LL-HLS muxer (`llhls.dvrWindowS`, `llhls.dvrMaxBytes`): complete segments older
 * than the LL window stay listed and servable while they are within the DVR seconds and bytes;
 * without DVR only `windowSegments` remain. Video only, 40 ms frames, keyframe every 10 frames,
 * parts 200 ms, segments 400 ms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlHlsMuxer, type LlHlsOptions } from '../../src/live/formats/hls/ll-hls-muxer.js';
import { videoToUnit } from '../../src/live/formats/flv/flv-tags.js';
import { avcConfigBody, avcFrameBody } from '../helpers/live-fixtures.js';

function feed(opts: Partial<LlHlsOptions>, frames: number): LlHlsMuxer {
  const mux = new LlHlsMuxer({ video: true, audio: false }, { partTargetMs: 200, segmentTargetMs: 400, windowSegments: 3, ...opts });
  mux.push(videoToUnit(avcConfigBody(), 0)!);
  for (let i = 0; i <= frames; i++) mux.push(videoToUnit(avcFrameBody(i % 10 === 0, i, 100), i * 40)!);
  return mux;
}

const complete = (m: LlHlsMuxer) => m.segments.filter((s) => s.complete).map((s) => s.msn);

test('without DVR only the LL window of complete segments is kept', () => {
  const mux = feed({}, 200); // 20 segments of 400 ms
  assert.deepEqual(complete(mux), [17, 18, 19]);
  assert.equal(mux.segmentBytes(10), null);
});

test('DVR keeps complete segments for dvrWindowS seconds, servable', () => {
  const mux = feed({ dvrWindowS: 2 }, 200);
  assert.deepEqual(complete(mux), [15, 16, 17, 18, 19], '2 s of 0.4 s complete segments listed');
  assert.ok(mux.segmentBytes(15)!.length > 0);
  assert.equal(mux.segmentBytes(14), null);
});

test('DVR is bounded by dvrMaxBytes before dvrWindowS', () => {
  const one = feed({}, 15).segmentBytes(0)!.length; // bytes of one 400 ms segment
  const mux = feed({ dvrWindowS: 60, dvrMaxBytes: one * 5 }, 200);
  const kept = complete(mux);
  assert.ok(kept.length >= 3 && kept.length <= 5, `kept ${kept.join(',')}`);
  assert.equal(kept.at(-1), 19);
});
