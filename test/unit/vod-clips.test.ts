/** Pure parts of clips and oEmbed: range snapping, tfdt rebasing, cue cutting, the clip MPD, DVR clip ranges, oEmbed URL parsing and sizing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { box, fullBox, u32, u64 } from '../../src/media/iso-bmff/box.js';
import { isStromError } from '../../src/errors.js';
import { snapRange, spanNear } from '../../src/vod/clips/clip-range.js';
import { firstDecodeTimes, rebaseDelta, shiftDecodeTimes } from '../../src/vod/clips/tfdt-rebase.js';
import { cutCues } from '../../src/vod/clips/clip-captions.js';
import { clipMpd } from '../../src/vod/clips/clip-packager.js';
import { checkRange } from '../../src/vod/clips/clip-jobs.js';
import { dashManifest } from '../../src/vod/dash-manifest.js';
import { fitSize, parseVideoUrl } from '../../src/http/oembed-routes.js';
import type { Cue } from '../../src/vod/captions/webvtt.js';
import { dvrSelection } from '../../src/live/recording/dvr-clip.js';
import { dvrRange } from '../../src/live/live-dvr-clips.js';
import type { LiveSegment } from '../../src/live/formats/hls/ll-hls-muxer.js';

test('the range widens to the enclosing segment boundaries of the reference rendition', () => {
  const d = [1, 4, 4, 4, 2.5];
  assert.deepEqual(snapRange(d, 1.3, 7), { range: { start: 1, end: 9 }, span: { first: 1, last: 3 } });
  assert.deepEqual(snapRange(d, 5, 9).range, { start: 5, end: 9 }, 'boundaries already on a segment edge stay');
  assert.deepEqual(snapRange(d, 0, 15.5), { range: { start: 0, end: 15.5 }, span: { first: 0, last: 5 } });
  assert.deepEqual(snapRange(d, 14, 15).range, { start: 13, end: 15.5 });
});

test('audio takes the segments whose boundaries are nearest to the snapped video range', () => {
  const audio = [1.003, 4.011, 3.989, 4.011, 2.486];
  assert.deepEqual(spanNear(audio, { start: 1, end: 9 }), { first: 1, last: 3 });
  assert.deepEqual(spanNear(audio, { start: 13, end: 15.5 }), { first: 4, last: 5 });
});

/** A media segment: moof(mfhd, traf(tfhd, tfdt, trun)) per track + mdat. */
function segment(tracks: { id: number; t: number; v1?: boolean }[]): Buffer {
  const trafs = tracks.map((k) => box('traf', fullBox('tfhd', 0, 0x020000, u32(k.id)), fullBox('tfdt', k.v1 ? 1 : 0, 0, k.v1 ? u64(k.t) : u32(k.t)), fullBox('trun', 0, 0, u32(0))));
  return Buffer.concat([box('moof', fullBox('mfhd', 0, 0, u32(7)), ...trafs), box('mdat', Buffer.from('payload'))]);
}

test('tfdt of every track moves by its own delta; nothing else changes', () => {
  const origin = firstDecodeTimes(segment([{ id: 1, t: 1024 }, { id: 2, t: 0, v1: true }]));
  const mid = segment([{ id: 1, t: 90_000 * 5 + 1024 }, { id: 2, t: 48_000 * 5, v1: true }]);
  const delta = rebaseDelta(origin, firstDecodeTimes(mid));
  assert.deepEqual([...delta], [[1, 450_000n], [2, 240_000n]]);
  const moved = shiftDecodeTimes(mid, delta);
  assert.deepEqual([...firstDecodeTimes(moved)], [[1, 1024n], [2, 0n]]);
  assert.equal(moved.length, mid.length);
  assert.ok(moved.subarray(moved.length - 7).equals(Buffer.from('payload')));
  assert.throws(() => shiftDecodeTimes(segment([{ id: 1, t: 10 }]), new Map([[1, 11n]])), /decode time would become -1/);
});

test('range checks name the offending value', () => {
  const code = (f: () => void) => {
    try {
      f();
    } catch (err) {
      return isStromError(err) ? `${err.statusCode} ${err.message}` : String(err);
    }
    return 'ok';
  };
  assert.match(code(() => checkRange(-1, 3, 10, 1)), /^400 invalid clip start -1/);
  assert.match(code(() => checkRange(3, 3, 10, 1)), /^400 invalid clip end 3: must be greater than start/);
  assert.match(code(() => checkRange(2, 11, 10, 1)), /^400 invalid clip end 11: is beyond the video's duration of 10\.000 s/);
  assert.match(code(() => checkRange(2, 2.5, 10, 1)), /^400 invalid clip end 2\.5: makes a clip of 0\.500 s/);
  assert.equal(code(() => checkRange(2, 4, 10, 1)), 'ok');
});

test('captions: cues overlapping the range are clamped and shifted', () => {
  const cue = (startS: number, endS: number, text: string): Cue => ({ id: null, startS, endS, settings: '', text, line: 1 });
  const out = cutCues([cue(0, 1, 'a'), cue(3.5, 4.5, 'b'), cue(5, 6, 'c'), cue(8.5, 9.5, 'd')], { start: 4, end: 9 });
  assert.deepEqual(out.map((c) => [c.text, c.startS, c.endS]), [['b', 0, 0.5], ['c', 1, 2], ['d', 4.5, 5]]);
});

test('the clip MPD carries the clip duration and each representation’s new timeline', () => {
  const seg = (d: number[]) => d.map((x, i) => ({ uri: `seg_${String(i).padStart(5, '0')}.m4s`, durationS: x, bytes: 1000 }));
  const src = dashManifest(
    [{ rendition: { kind: 'video', name: 'v240', width: 426, height: 240, fps: 30, kbps: 300 }, codecs: 'avc1.64000d', segments: seg([1, 1, 1, 1]), initBytes: 0 }],
    { rendition: { kind: 'audio', name: 'a128', kbps: 128, channels: 2, sampleRate: 48000 }, codecs: 'mp4a.40.2', segments: seg([1.003, 0.997, 1, 1]), initBytes: 0 },
    { durationS: 4, segmentSeconds: 1 },
  );
  const mpd = clipMpd(src, new Map([['v240', seg([1, 1])], ['a128', seg([0.997, 1])]]), 2);
  assert.match(mpd, /mediaPresentationDuration="PT2\.000S"/);
  assert.match(mpd, /initialization="v240\/init\.mp4"[^>]*><SegmentTimeline><S t="0" d="1000" r="1"\/><\/SegmentTimeline>/);
  assert.match(mpd, /initialization="a128\/init\.mp4"[^>]*><SegmentTimeline><S t="0" d="997"\/><S d="1000"\/><\/SegmentTimeline>/);
});

test('oEmbed: watch and embed URLs of our origin name a video; others do not', () => {
  const base = 'https://video.example.com';
  assert.deepEqual(parseVideoUrl(`${base}/#/watch/v_abc`, base), { id: 'v_abc', token: undefined });
  assert.deepEqual(parseVideoUrl(`${base}/embed/v_abc?token=a.b.c`, base), { id: 'v_abc', token: 'a.b.c' });
  assert.equal(parseVideoUrl('https://other.example.com/embed/v_abc', base), null);
  assert.equal(parseVideoUrl(`${base}/library`, base), null);
  assert.deepEqual(parseVideoUrl('https://h.example/strom/embed/x1', 'https://h.example/strom/'), { id: 'x1', token: undefined });
  assert.throws(() => parseVideoUrl('not a url', base), /not an absolute URL/);
});

test('oEmbed sizes keep the aspect ratio inside maxwidth and maxheight', () => {
  assert.deepEqual(fitSize(1920, 1080, undefined, undefined), { width: 640, height: 360 });
  assert.deepEqual(fitSize(1920, 1080, 320, undefined), { width: 320, height: 180 });
  assert.deepEqual(fitSize(1920, 1080, 1000, 100), { width: 177, height: 100 });
  assert.deepEqual(fitSize(320, 240, 1000, undefined), { width: 320, height: 240 }, 'never larger than the video');
});

test('DVR clips: ranges relative to the live edge widen to the window’s segments; before the window is refused', () => {
  const seg = (msn: number, durationMs: number, complete = true): LiveSegment => ({ msn, parts: [], complete, startMs: msn * 1000, durationMs, pdtMs: 0, initVersion: 0, discontinuity: false });
  const window = [seg(10, 1000), seg(11, 1000), seg(12, 1500), seg(13, 1000), seg(14, 400, false)];
  const last3 = dvrSelection(window, 's1', -3, 0);
  assert.deepEqual(last3.segments.map((s) => s.msn), [11, 12, 13], 'the segment in progress is not clipped');
  assert.deepEqual([last3.start, last3.end], [-3.5, 0]);
  const mid = dvrSelection(window, 's1', -2.2, -1.2);
  assert.deepEqual(mid.segments.map((s) => s.msn), [12]);
  assert.deepEqual([mid.start, mid.end], [-2.5, -1]);
  assert.throws(() => dvrSelection(window, 's1', -5, 0), /clip start -5 s is outside the DVR window of live stream "s1", which holds the last 4\.500 s/);
  assert.deepEqual(dvrRange({ last: 30 }), { start: -30, end: 0 });
  assert.throws(() => dvrRange({ start: -3, end: 1 }), /invalid clip end 1/);
});
