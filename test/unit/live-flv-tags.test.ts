/** FLV tag ↔ MediaUnit: legacy AVC/AAC, Enhanced RTMP FourCC (hvc1, av01, vp09, Opus), shared tag Buffers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { audioToUnit, flvTagOf, videoToUnit } from '../../src/live/formats/flv/flv-tags.js';
import { aacInfo, avcCodecString } from '../../src/live/stream/codec-config.js';
import { FlvDemuxer } from '../../src/live/formats/flv/flv-demuxer.js';
import { flvHeader, httpChunkOf } from '../../src/live/formats/flv/flv-tags.js';

test('legacy AVC: sequence header, keyframe with composition time, inter frame', () => {
  const cfg = videoToUnit(Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]), 0)!;
  assert.deepEqual([cfg.codec, cfg.config, cfg.keyframe], ['avc', true, true]);
  assert.equal(avcCodecString(cfg.payload), 'avc1.64001f');
  const key = videoToUnit(Buffer.from([0x17, 1, 0, 0, 80, 9, 9]), 1000)!;
  assert.deepEqual([key.dts, key.pts, key.keyframe, key.config, key.payload.toString('hex')], [1000, 1080, true, false, '0909']);
  const inter = videoToUnit(Buffer.from([0x27, 1, 0xff, 0xff, 0xf6, 1]), 1040)!;
  assert.deepEqual([inter.pts, inter.keyframe], [1030, false], 'negative composition time');
  assert.equal(videoToUnit(Buffer.from([0x17, 2, 0, 0, 0]), 0), null, 'end of sequence is not carried');
});

test('Enhanced RTMP video: FourCC hvc1/av01/vp09, packet types, CodedFramesX', () => {
  const ex = (frameType: number, packetType: number, fourcc: string, rest: number[]) =>
    Buffer.concat([Buffer.from([0x80 | (frameType << 4) | packetType]), Buffer.from(fourcc, 'latin1'), Buffer.from(rest)]);
  const hevcCfg = videoToUnit(ex(1, 0, 'hvc1', [1, 2, 3]), 0)!;
  assert.deepEqual([hevcCfg.codec, hevcCfg.config, hevcCfg.payload.toString('hex')], ['hevc', true, '010203']);
  const hevcFrame = videoToUnit(ex(1, 1, 'hvc1', [0, 0, 40, 7]), 100)!;
  assert.deepEqual([hevcFrame.pts, hevcFrame.keyframe, hevcFrame.payload.toString('hex')], [140, true, '07']);
  const hevcX = videoToUnit(ex(2, 3, 'hvc1', [8]), 140)!;
  assert.deepEqual([hevcX.pts, hevcX.keyframe, hevcX.payload.toString('hex')], [140, false, '08'], 'CodedFramesX has no composition time');
  const av1 = videoToUnit(ex(1, 1, 'av01', [0x12, 0]), 0)!;
  assert.deepEqual([av1.codec, av1.keyframe, av1.payload.length], ['av1', true, 2], 'AV1 frames carry no composition time');
  assert.equal(videoToUnit(ex(2, 1, 'vp09', [1]), 0)!.codec, 'vp9');
  assert.equal(videoToUnit(ex(1, 2, 'av01', []), 0), null, 'SequenceEnd');
});

test('audio: AAC config/raw, Enhanced RTMP Opus, MP3; AudioSpecificConfig info', () => {
  const cfg = audioToUnit(Buffer.from([0xaf, 0, 0x12, 0x10]), 0)!;
  assert.deepEqual([cfg.codec, cfg.config], ['aac', true]);
  assert.deepEqual(aacInfo(cfg.payload), { codecString: 'mp4a.40.2', sampleRate: 44100, channels: 2 });
  assert.equal(audioToUnit(Buffer.from([0xaf, 1, 5]), 20)!.config, false);
  const opusHead = audioToUnit(Buffer.concat([Buffer.from([0x90]), Buffer.from('Opus'), Buffer.from('OpusHead')]), 0)!;
  assert.deepEqual([opusHead.codec, opusHead.config, opusHead.payload.toString()], ['opus', true, 'OpusHead']);
  const opus = audioToUnit(Buffer.concat([Buffer.from([0x91]), Buffer.from('Opus'), Buffer.from([1, 2])]), 20)!;
  assert.deepEqual([opus.config, opus.payload.length], [false, 2]);
  assert.equal(audioToUnit(Buffer.from([0x2f, 1]), 0)!.codec, 'mp3');
});

test('flvTagOf builds one shared tag per unit, readable by the demuxer with extended timestamps', () => {
  const u = videoToUnit(Buffer.from([0x17, 1, 0, 0, 0, 9]), 0x01020304)!;
  const tag = flvTagOf(u);
  assert.equal(flvTagOf(u), tag, 'cached: the same Buffer for every reader');
  assert.equal(tag.length, 11 + 6 + 4);
  assert.equal(tag.readUInt32BE(tag.length - 4), 17, 'PreviousTagSize');
  const d = new FlvDemuxer();
  const tags = d.push(Buffer.concat([flvHeader(true, true), tag.subarray(0, 5)]));
  assert.equal(tags.length, 0);
  const [t] = d.push(tag.subarray(5));
  assert.deepEqual([t!.type, t!.timestamp, t!.body.toString('hex')], [9, 0x01020304, '170100000009']);
  assert.equal(d.flags, 5);
});

test('httpChunkOf frames the shared tag as one HTTP/1.1 chunk, once per unit', () => {
  const u = videoToUnit(Buffer.alloc(300, 0x17), 40)!;
  const c = httpChunkOf(u);
  assert.equal(httpChunkOf(u), c);
  const tagLen = 11 + 300 + 4;
  assert.equal(c.toString('latin1', 0, 5), `${tagLen.toString(16)}\r\n`);
  assert.ok(c.subarray(5, 5 + tagLen).equals(flvTagOf(u)));
  assert.equal(c.toString('latin1', 5 + tagLen), '\r\n');
});

/** An FLV header whose DataOffset leaves `extra` bytes after the 9-byte header, then PreviousTagSize0 and `tags`. */
function flvWithLongHeader(extra: number, tags: Buffer[]): Buffer {
  const head = Buffer.alloc(9 + extra + 4, 0xee); // the extension bytes look like anything, even a tag
  head.write('FLV', 0, 'latin1');
  head[3] = 1;
  head[4] = 5;
  head.writeUInt32BE(9 + extra, 5);
  head.writeUInt32BE(0, 9 + extra);
  return Buffer.concat([head, ...tags]);
}

test('FLV demuxer: a DataOffset past the first read skips the same bytes however the stream is cut (fuzz regression)', () => {
  const units = [videoToUnit(Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]), 0)!, videoToUnit(Buffer.from([0x17, 1, 0, 0, 0, 9, 9, 9]), 40)!];
  const stream = flvWithLongHeader(200, units.map((u) => flvTagOf(u)));
  const tagsOf = (step: number) => {
    const d = new FlvDemuxer();
    const out = [];
    for (let i = 0; i < stream.length; i += step) out.push(...d.push(stream.subarray(i, i + step)));
    return out.map((t) => `${t.type}/${t.timestamp}/${t.body.toString('hex')}`);
  };
  const whole = tagsOf(stream.length);
  assert.deepEqual(whole, ['9/0/17000000000164001f', '9/40/1701000000090909']);
  for (const step of [13, 14, 50, 211, 212, 213]) assert.deepEqual(tagsOf(step), whole, `cut every ${step} bytes`);
});

test('FLV demuxer: a header size below 9 is refused with BAD_REQUEST', () => {
  const bad = flvWithLongHeader(0, []);
  bad.writeUInt32BE(4, 5);
  assert.throws(() => new FlvDemuxer().push(bad), (err: Error & { code?: string }) => err.code === 'BAD_REQUEST' && /FLV header size 4/.test(err.message));
});
