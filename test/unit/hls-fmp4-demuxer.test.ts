/**
 * The fMP4 reader of pulled HLS sources against Strom's own CMAF writer (src/live/formats/cmaf):
 * tracks, timescales and decoder configurations from the init section; samples, times (tfdt +
 * durations, signed composition offsets), keyframes and payloads from fragments; configuration
 * units first and again only when an init section changes them; refusals as Fmp4Error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fragment } from '../../src/live/formats/cmaf/fragment.js';
import { initSegment } from '../../src/live/formats/cmaf/init-segment.js';
import type { CmafTrack } from '../../src/live/formats/cmaf/sample-entry.js';
import { opusHead } from '../../src/live/formats/flv/unit-builders.js';
import { Fmp4Demuxer } from '../../src/live/pull/sources/hls/fmp4-demuxer.js';
import { Fmp4Error } from '../../src/live/pull/sources/hls/fmp4-init.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';

const avcC = Buffer.from([1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 2, 0x68, 0xee]);
const video: CmafTrack = { id: 1, kind: 'video', codec: 'avc', timescale: 90000, config: avcC, width: 640, height: 360 };
const audio: CmafTrack = { id: 2, kind: 'audio', codec: 'aac', timescale: 44100, config: Buffer.from([0x12, 0x10]), sampleRate: 44100, channels: 2 };

/** An AVCC sample of NAL units with 4-byte lengths. */
function avcc(...nalus: Buffer[]): Buffer {
  return Buffer.concat(nalus.flatMap((n) => [Buffer.from([0, 0, 0, n.length]), n]));
}

test('init + fragments → config units first, then samples with times in ms, keyframes and payloads', () => {
  const out: MediaUnit[] = [];
  const d = new Fmp4Demuxer((u) => out.push(u));
  d.init(initSegment([video, audio]));
  const idr = avcc(Buffer.from([0x65, 1, 2, 3]));
  const p = avcc(Buffer.from([0x41, 9]), Buffer.from([0x41, 8, 7]));
  const seg = (n: number, base: number) => fragment(n, [
    { trackId: 1, baseDecodeTime: base * 90, samples: [{ duration: 3600, size: idr.length, sync: true, cto: 7200 }, { duration: 3600, size: p.length, sync: false, cto: -3600 }], data: [idr, p] },
    { trackId: 2, baseDecodeTime: Math.round((base * 44100) / 1000), samples: [{ duration: 1024, size: 3, sync: true, cto: 0 }], data: [Buffer.from([0x21, 0x10, 0x04])] },
  ]);
  d.push(Buffer.concat([seg(1, 10_000), seg(2, 10_080)]));
  const v = out.filter((u) => u.kind === 'video');
  const a = out.filter((u) => u.kind === 'audio');
  assert.deepEqual(v.map((u) => [u.config, u.keyframe, u.dts, u.pts]), [[true, true, 10_000, 10_000], [false, true, 10_000, 10_080], [false, false, 10_040, 10_000], [false, true, 10_080, 10_160], [false, false, 10_120, 10_080]]);
  assert.deepEqual(v[0]!.payload, avcC, 'the avcC record as the sequence header');
  assert.deepEqual(v[2]!.payload, p, 'NAL units with 4-byte lengths');
  assert.equal(v[1]!.body[0], 0x17, 'FLV AVC keyframe header');
  assert.deepEqual(a.map((u) => [u.config, u.codec, u.dts]), [[true, 'aac', 10_000], [false, 'aac', 10_000], [false, 'aac', 10_080]]);
  assert.deepEqual(a[0]!.payload, audio.config, 'the AudioSpecificConfig from esds');
  assert.deepEqual(a[1]!.payload, Buffer.from([0x21, 0x10, 0x04]));
  out.length = 0;
  d.init(initSegment([video, audio]));
  d.push(seg(3, 10_160));
  assert.equal(out.filter((u) => u.config).length, 0, 'the same init again: no new configuration units');
  d.init(initSegment([{ ...video, config: Buffer.concat([avcC, Buffer.from([0])]) }, audio]));
  d.push(seg(4, 10_240));
  assert.deepEqual(out.filter((u) => u.config).map((u) => u.kind), ['video'], 'a changed init: that track’s configuration again');
});

test('Opus from dOps; HEVC from hvcC; refusals as Fmp4Error', () => {
  const out: MediaUnit[] = [];
  const d = new Fmp4Demuxer((u) => out.push(u));
  d.init(initSegment([{ ...audio, codec: 'opus', timescale: 48000, config: opusHead(2, 312) }]));
  d.push(fragment(1, [{ trackId: 2, baseDecodeTime: 48000, samples: [{ duration: 960, size: 2, sync: true, cto: 0 }], data: [Buffer.from([0xfc, 0xff])] }]));
  assert.deepEqual(out.map((u) => [u.codec, u.config, u.dts]), [['opus', true, 1000], ['opus', false, 1000]]);
  assert.equal(out[0]!.payload.toString('latin1', 0, 8), 'OpusHead');
  assert.equal(out[0]!.payload[9], 2, 'channels');
  const hvcC = Buffer.alloc(23);
  hvcC[0] = 1;
  hvcC[21] = 0x0f; // lengthSizeMinusOne 3
  const hevc: MediaUnit[] = [];
  const h = new Fmp4Demuxer((u) => hevc.push(u));
  h.init(initSegment([{ ...video, codec: 'hevc', config: hvcC }]));
  const sample = avcc(Buffer.from([0x26, 1, 0xaa]));
  h.push(fragment(1, [{ trackId: 1, baseDecodeTime: 90000, samples: [{ duration: 3000, size: sample.length, sync: true, cto: 0 }], data: [sample] }]));
  assert.deepEqual(hevc.map((u) => [u.codec, u.config, u.keyframe, u.dts]), [['hevc', true, true, 1000], ['hevc', false, true, 1000]]);
  assert.deepEqual(hevc[0]!.payload, hvcC);
  assert.deepEqual(hevc[1]!.payload, sample);
  assert.throws(() => new Fmp4Demuxer(() => undefined).push(Buffer.alloc(16)), Fmp4Error, 'a segment before any init');
  assert.throws(() => new Fmp4Demuxer(() => undefined).init(Buffer.from('not an mp4 at all')), Fmp4Error);
  const truncated = fragment(1, [{ trackId: 2, baseDecodeTime: 0, samples: [{ duration: 960, size: 2, sync: true, cto: 0 }], data: [Buffer.from([0xfc, 0xff])] }]);
  assert.throws(() => d.push(truncated.subarray(0, truncated.length - 1)), Fmp4Error, 'a cut segment');
});
