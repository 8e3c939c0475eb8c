/** RFC 6184 packetizer/depacketizer round trips: FU-A at MTU 1200, STAP-A, loss → frame dropped (never corrupted); SPS picture size. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { H264Depacketizer, type H264AccessUnit } from '../../src/live/rtp/h264-depacketizer.js';
import { packetizeH264, parseAvcConfig, splitAvcc } from '../../src/live/rtp/h264-packetizer.js';
import { spsSize } from '../../src/live/rtp/h264-sps.js';
import { avcDecoderConfig } from '../../src/live/formats/flv/unit-builders.js';

const nal = (type: number, size: number) => Buffer.concat([Buffer.from([0x60 | type]), randomBytes(size - 1)]);

function feed(d: H264Depacketizer, pkts: { payload: Buffer; marker: boolean }[], ts: number, seq0: number, skip = -1) {
  const out: H264AccessUnit[] = [];
  pkts.forEach((p, i) => {
    if (i !== skip) out.push(...d.push((seq0 + i) & 0xffff, ts, p.marker, p.payload));
  });
  return out;
}

test('an IDR access unit larger than the MTU goes out as FU-A at 1200 bytes and comes back byte-identical', () => {
  const au = [nal(7, 20), nal(8, 5), nal(5, 50_000), nal(6, 300)];
  const pkts = packetizeH264(au, 1200);
  assert.ok(pkts.length > 40, `${pkts.length} packets`);
  assert.ok(pkts.every((p) => p.payload.length <= 1200));
  assert.deepEqual(pkts.map((p) => p.marker).filter(Boolean).length, 1);
  assert.equal(pkts.at(-1)!.marker, true);
  assert.ok(pkts.some((p) => (p.payload[0]! & 0x1f) === 28), 'FU-A used');
  const d = new H264Depacketizer();
  const out = feed(d, pkts, 9000, 65_530); // wraps the 16-bit sequence number
  assert.equal(out.length, 1);
  assert.equal(out[0]!.keyframe, true);
  assert.equal(out[0]!.timestamp, 9000);
  assert.deepEqual(out[0]!.nalus.map((n) => n.toString('hex')), au.map((n) => n.toString('hex')));
});

test('a lost FU-A fragment drops the frame; inter frames wait for the next IDR', () => {
  const d = new H264Depacketizer();
  const idr = packetizeH264([nal(5, 5000)]);
  assert.equal(feed(d, idr, 0, 100).length, 1);
  const p1 = packetizeH264([nal(1, 5000)]);
  assert.equal(feed(d, p1, 3000, 100 + idr.length, 2).length, 0, 'frame with a hole is dropped');
  assert.equal(d.dropped, 1);
  assert.equal(d.needKeyframe, true);
  let seq = 100 + idr.length + p1.length;
  const p2 = packetizeH264([nal(1, 800)]);
  assert.equal(feed(d, p2, 6000, seq).length, 0, 'inter frame after a loss is dropped');
  seq += p2.length;
  const idr2 = packetizeH264([nal(5, 3000)]);
  const got = feed(d, idr2, 9000, seq);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.keyframe, true);
  assert.equal(d.needKeyframe, false);
});

test('STAP-A and single NAL packets; a missing marker is recovered by the timestamp change', () => {
  const sps = nal(7, 12);
  const pps = nal(8, 4);
  const stap = Buffer.concat([Buffer.from([24]), Buffer.from([0, sps.length]), sps, Buffer.from([0, pps.length]), pps]);
  const d = new H264Depacketizer();
  const idr = nal(5, 400);
  assert.equal(d.push(1, 10, false, stap).length, 0);
  assert.equal(d.push(2, 10, false, idr).length, 0); // marker lost
  const out = d.push(3, 20, true, nal(1, 100));
  assert.equal(out.length, 2);
  assert.deepEqual(out[0]!.nalus, [sps, pps, idr]);
  assert.equal(out[1]!.keyframe, false);
});

test('AVCC split and AVCDecoderConfigurationRecord parse are inverse to the unit builders', () => {
  const sps = nal(7, 15);
  const pps = nal(8, 6);
  const cfg = parseAvcConfig(avcDecoderConfig(sps, [pps]));
  assert.ok(cfg);
  assert.deepEqual(cfg.sps, [sps]);
  assert.deepEqual(cfg.pps, [pps]);
  assert.equal(cfg.lengthSize, 4);
  const a = nal(5, 70);
  const b = nal(6, 9);
  const avcc = Buffer.concat([Buffer.from([0, 0, 0, a.length]), a, Buffer.from([0, 0, 0, b.length]), b, Buffer.from([0, 0, 9])]);
  assert.deepEqual(splitAvcc(avcc), [a, b], 'truncated trailing length is ignored');
  assert.equal(parseAvcConfig(Buffer.from([1, 2, 3])), null);
});

test('an access unit past the byte bound is dropped, and the next IDR decodes', () => {
  const d = new H264Depacketizer(10_000);
  let seq = 0;
  for (let i = 0; i < 20; i++) assert.equal(d.push(seq++, 100, false, nal(1, 1000)).length, 0); // no marker, same timestamp
  assert.equal(d.push(seq++, 100, true, nal(1, 1000)).length, 0);
  assert.equal(d.dropped, 1);
  const idr = packetizeH264([nal(5, 3000)]);
  const got = feed(d, idr, 200, seq);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.keyframe, true);
});

test('picture size from real x264 SPSs (High with cropping, Baseline, Main)', () => {
  for (const [profile, w, hgt] of [['high', 640, 360], ['baseline', 320, 240], ['main', 854, 480]] as const) {
    const r = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${w}x${hgt}:rate=1`, '-frames:v', '1', '-c:v', 'libx264', '-profile:v', profile, '-f', 'h264', '-'], { maxBuffer: 1 << 24 });
    assert.equal(r.status, 0, String(r.stderr));
    const out = r.stdout;
    const starts: number[] = []; // Annex B start codes 00 00 01 (ITU-T H.264 §B.2)
    for (let i = 0; i + 2 < out.length; i++) if (out[i] === 0 && out[i + 1] === 0 && out[i + 2] === 1) starts.push(i + 3);
    const nals = starts.map((s0, k) => out.subarray(s0, k + 1 < starts.length ? starts[k + 1]! - 3 : out.length));
    const sps = nals.find((n) => (n[0]! & 0x1f) === 7);
    assert.ok(sps, 'x264 wrote an SPS');
    assert.deepEqual(spsSize(sps), { width: w, height: hgt }, profile);
  }
  assert.equal(spsSize(Buffer.from([0x67, 0x64])), null, 'truncated SPS');
});
