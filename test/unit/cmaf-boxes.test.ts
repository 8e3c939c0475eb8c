/** CMAF box writers: parse the produced bytes back and check every field players depend on. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fragment, sampleFlags } from '../../src/live/formats/cmaf/fragment.js';
import { initSegment } from '../../src/live/formats/cmaf/init-segment.js';
import { dOps, type CmafTrack } from '../../src/live/formats/cmaf/sample-entry.js';

interface Box { type: string; start: number; size: number; body: Buffer }

/** Top-level boxes of `buf` (ISO/IEC 14496-12 §4.2). */
function boxes(buf: Buffer, base = 0): Box[] {
  const out: Box[] = [];
  for (let o = 0; o + 8 <= buf.length;) {
    const size = buf.readUInt32BE(o);
    assert.ok(size >= 8 && o + size <= buf.length, `box at ${o} has size ${size}`);
    out.push({ type: buf.toString('latin1', o + 4, o + 8), start: base + o, size, body: buf.subarray(o + 8, o + size) });
    o += size;
  }
  return out;
}

/** The box at a path of types (containers only), e.g. find(init, 'moov', 'trak'). */
function find(buf: Buffer, ...path: string[]): Box[] {
  let level = boxes(buf);
  for (let i = 0; i < path.length; i++) {
    const hits = level.filter((b) => b.type === path[i]);
    if (i === path.length - 1) return hits;
    assert.ok(hits[0], `no ${path[i]} box`);
    level = boxes(hits[0].body, hits[0].start + 8);
  }
  return [];
}

const avcC = Buffer.from([1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 2, 0x68, 0xee]);
const video: CmafTrack = { id: 1, kind: 'video', codec: 'avc', timescale: 90000, config: avcC, width: 640, height: 360 };
const audio: CmafTrack = { id: 2, kind: 'audio', codec: 'aac', timescale: 44100, config: Buffer.from([0x12, 0x10]), sampleRate: 44100, channels: 2 };

test('init segment: ftyp iso6/cmfc, moov with one trak per track, empty sample tables, mvex/trex', () => {
  const init = initSegment([video, audio]);
  const ftyp = find(init, 'ftyp')[0]!;
  assert.equal(ftyp.body.toString('latin1', 0, 4), 'iso6');
  assert.match(ftyp.body.toString('latin1', 8), /cmfc/);
  const traks = find(init, 'moov', 'trak');
  assert.equal(traks.length, 2);
  const mdhd = find(traks[0]!.body, 'mdia', 'mdhd')[0]!;
  assert.equal(mdhd.body.readUInt32BE(12), 90000, 'video timescale');
  assert.equal(find(traks[1]!.body, 'mdia', 'mdhd')[0]!.body.readUInt32BE(12), 44100, 'audio timescale = sample rate');
  assert.equal(find(traks[0]!.body, 'mdia', 'hdlr')[0]!.body.toString('latin1', 8, 12), 'vide');
  assert.equal(find(traks[1]!.body, 'mdia', 'hdlr')[0]!.body.toString('latin1', 8, 12), 'soun');
  const stbl = find(traks[0]!.body, 'mdia', 'minf', 'stbl')[0]!;
  const kids = boxes(stbl.body).map((b) => b.type);
  assert.deepEqual(kids, ['stsd', 'stts', 'stsc', 'stsz', 'stco']);
  const stsd = boxes(stbl.body)[0]!;
  const avc1 = boxes(stsd.body.subarray(8))[0]!;
  assert.equal(avc1.type, 'avc1');
  assert.equal(avc1.body.readUInt16BE(24), 640);
  assert.equal(avc1.body.readUInt16BE(26), 360);
  const avcCBox = boxes(avc1.body.subarray(78))[0]!;
  assert.equal(avcCBox.type, 'avcC');
  assert.deepEqual(avcCBox.body, avcC, 'avcC carries the FLV sequence header verbatim');
  const mp4a = boxes(boxes(find(traks[1]!.body, 'mdia', 'minf', 'stbl')[0]!.body)[0]!.body.subarray(8))[0]!;
  assert.equal(mp4a.type, 'mp4a');
  assert.equal(mp4a.body.readUInt16BE(16), 2, 'channels');
  assert.equal(mp4a.body.readUInt32BE(24) >>> 16, 44100, 'sample rate 16.16');
  const esds = boxes(mp4a.body.subarray(28))[0]!;
  assert.equal(esds.type, 'esds');
  assert.ok(esds.body.includes(Buffer.from([0x05, 0x80, 0x80, 0x80, 2, 0x12, 0x10])), 'DecoderSpecificInfo = AudioSpecificConfig');
  const trex = find(init, 'moov', 'mvex', 'trex');
  assert.deepEqual(trex.map((t) => t.body.readUInt32BE(4)), [1, 2]);
});

test('hvc1/av01/Opus sample entries are written; dOps is converted from OpusHead', () => {
  const opusHead = Buffer.concat([Buffer.from('OpusHead', 'latin1'), Buffer.from([1, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0])]);
  const d = dOps(opusHead);
  assert.equal(d.toString('latin1', 4, 8), 'dOps');
  assert.equal(d[9], 2, 'channels');
  assert.equal(d.readUInt16BE(10), 312, 'pre-skip, big-endian');
  assert.equal(d.readUInt32BE(12), 48000);
  for (const [codec, entry] of [['hevc', 'hvc1'], ['av1', 'av01']] as const) {
    const init = initSegment([{ ...video, codec }]);
    assert.ok(init.includes(Buffer.from(entry, 'latin1')), `${codec} → ${entry}`);
  }
  const init = initSegment([{ ...audio, codec: 'opus', config: opusHead, timescale: 48000 }]);
  assert.ok(init.includes(Buffer.from('Opus', 'latin1')) && init.includes(Buffer.from('dOps', 'latin1')));
  assert.throws(() => initSegment([{ ...audio, codec: 'mp3' }]), /cannot be packaged/);
});

test('fragment: mfhd sequence, tfhd default-base-is-moof, tfdt v1, trun v1 with signed offsets and data offsets into mdat', () => {
  const v = [Buffer.alloc(100, 1), Buffer.alloc(50, 2), Buffer.alloc(30, 3)];
  const a = [Buffer.alloc(20, 7), Buffer.alloc(21, 8)];
  const chunk = fragment(7, [
    { trackId: 1, baseDecodeTime: 2 ** 33 + 5, samples: [{ duration: 3000, size: 100, sync: true, cto: 6000 }, { duration: 3000, size: 50, sync: false, cto: -3000 }, { duration: 3003, size: 30, sync: false, cto: 0 }], data: v },
    { trackId: 2, baseDecodeTime: 44100, samples: [{ duration: 1024, size: 20, sync: true, cto: 0 }, { duration: 1024, size: 21, sync: true, cto: 0 }], data: a },
  ]);
  const [moof, mdat] = boxes(chunk);
  assert.equal(moof!.type, 'moof');
  assert.equal(mdat!.type, 'mdat');
  assert.equal(find(chunk, 'moof', 'mfhd')[0]!.body.readUInt32BE(4), 7);
  const trafs = find(chunk, 'moof', 'traf');
  assert.equal(trafs.length, 2);
  const tracks = [v, a];
  trafs.forEach((traf, i) => {
    const tfhd = boxes(traf.body).find((b) => b.type === 'tfhd')!;
    assert.equal(tfhd.body.readUInt32BE(0) & 0xffffff, 0x020000, 'default-base-is-moof only');
    const tfdt = boxes(traf.body).find((b) => b.type === 'tfdt')!;
    assert.equal(tfdt.body[0], 1, 'tfdt version 1');
    assert.equal(Number(tfdt.body.readBigUInt64BE(4)), i === 0 ? 2 ** 33 + 5 : 44100);
    const trun = boxes(traf.body).find((b) => b.type === 'trun')!;
    assert.equal(trun.body[0], 1, 'trun version 1');
    assert.equal(trun.body.readUInt32BE(0) & 0xffffff, 0xf01);
    const count = trun.body.readUInt32BE(4);
    assert.equal(count, tracks[i]!.length);
    const offset = trun.body.readInt32BE(8);
    assert.deepEqual(chunk.subarray(offset, offset + tracks[i]![0]!.length), tracks[i]![0], 'data offset points at the first sample, relative to moof');
    if (i === 0) {
      assert.deepEqual([0, 1, 2].map((k) => trun.body.readInt32BE(12 + 16 * k + 12)), [6000, -3000, 0], 'signed composition offsets');
      assert.deepEqual([0, 1, 2].map((k) => trun.body.readUInt32BE(12 + 16 * k + 8)), [sampleFlags(true), sampleFlags(false), sampleFlags(false)]);
      assert.deepEqual([0, 1, 2].map((k) => trun.body.readUInt32BE(12 + 16 * k)), [3000, 3000, 3003]);
    }
  });
  assert.equal(mdat!.size, 8 + 100 + 50 + 30 + 20 + 21);
});
