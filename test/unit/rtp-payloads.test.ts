/**
 * RTP payload formats round trips: H.264 STAP-A aggregation (RFC 6184 §5.7.1) with FU-A, H.265
 * single / AP / FU (RFC 7798 §4.4) and AAC `mpeg4-generic` AAC-hbr (RFC 3640 §3.3.6) with several
 * AUs per packet and fragmented AUs; malformed payloads drop their frame.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AacDepacketizer, packetizeAac } from '../../src/live/rtp/aac-rtp.js';
import { H264Depacketizer } from '../../src/live/rtp/h264-depacketizer.js';
import { packetizeH264 } from '../../src/live/rtp/h264-packetizer.js';
import { H265Depacketizer, packetizeH265 } from '../../src/live/rtp/h265-rtp.js';
import type { NalDepacketizer, NalAccessUnit } from '../../src/live/rtp/nal-depacketizer.js';

const h264 = (type: number, size: number) => Buffer.concat([Buffer.from([0x60 | type]), randomBytes(size - 1)]);
const h265 = (type: number, size: number) => Buffer.concat([Buffer.from([type << 1, 1]), randomBytes(size - 2)]);
const hex = (bs: readonly Buffer[]) => bs.map((b) => b.toString('hex'));

function feed(d: NalDepacketizer, pkts: ReadonlyArray<{ payload: Buffer; marker: boolean }>, ts: number, seq0: number): NalAccessUnit[] {
  return pkts.flatMap((p, i) => d.push((seq0 + i) & 0xffff, ts, p.marker, p.payload));
}

test('H.264: SPS/PPS/SEI share one STAP-A, a big IDR is fragmented as FU-A, and the access unit comes back whole', () => {
  const au = [h264(7, 25), h264(8, 6), h264(6, 40), h264(5, 9000)];
  const pkts = packetizeH264(au, 1400, true);
  assert.equal(pkts[0]!.payload[0]! & 0x1f, 24, 'first packet is a STAP-A');
  assert.equal(pkts[0]!.payload.length, 1 + 2 + 25 + 2 + 6 + 2 + 40);
  assert.ok(pkts.slice(1).every((p) => (p.payload[0]! & 0x1f) === 28 && p.payload.length <= 1400));
  const out = feed(new H264Depacketizer(), pkts, 3000, 7);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.keyframe, true);
  assert.deepEqual(hex(out[0]!.nalus), hex(au));
});

test('H.264: a STAP-A whose sizes lie drops the access unit', () => {
  const d = new H264Depacketizer();
  const bad = Buffer.from([24, 0, 10, 0x67, 1, 2]); // claims 10 bytes, has 3
  assert.deepEqual(d.push(1, 0, true, bad), []);
  assert.equal(d.dropped, 1);
  assert.equal(d.needKeyframe, true);
});

test('H.265: parameter sets aggregate (AP), a big IRAP fragments (FU), and both come back byte-identical', () => {
  const au = [h265(32, 24), h265(33, 40), h265(34, 8), h265(19, 6000)]; // VPS SPS PPS IDR_W_RADL
  const pkts = packetizeH265(au, 1200);
  assert.equal((pkts[0]!.payload[0]! >> 1) & 0x3f, 48, 'AP first');
  assert.ok(pkts.slice(1).every((p) => ((p.payload[0]! >> 1) & 0x3f) === 49 && p.payload.length <= 1200), 'then FUs');
  assert.equal(pkts.filter((p) => p.marker).length, 1);
  const out = feed(new H265Depacketizer(), pkts, 90_000, 65_534);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.keyframe, true);
  assert.deepEqual(hex(out[0]!.nalus), hex(au));
  const inter = packetizeH265([h265(1, 500)], 1200);
  assert.equal(inter.length, 1, 'a small NAL unit goes as a single NAL unit packet');
  const d = new H265Depacketizer();
  assert.equal(feed(d, inter, 1, 0)[0]!.keyframe, false);
});

test('H.265: a lost FU drops the frame and inter frames wait for the next IRAP', () => {
  const d = new H265Depacketizer();
  const key = packetizeH265([h265(19, 5000)], 1200);
  const lossy = key.filter((_, i) => i !== 2);
  assert.equal(lossy.flatMap((p, i) => d.push(i < 2 ? i : i + 1, 0, p.marker, p.payload)).length, 0);
  assert.equal(d.dropped, 1);
  assert.equal(feed(d, packetizeH265([h265(1, 300)], 1200), 3000, 10).length, 0, 'inter frame after the loss is dropped');
  assert.equal(feed(d, packetizeH265([h265(20, 300)], 1200), 6000, 11).length, 1, 'the next IRAP restarts output');
});

test('AAC-hbr: one AU per packet round-trips; a big AU is fragmented and reassembled', () => {
  const frame = randomBytes(300);
  const [p] = packetizeAac(frame);
  assert.deepEqual([...p!.subarray(0, 4)], [0x00, 0x10, 300 >> 5, (300 & 0x1f) << 3]);
  const d = new AacDepacketizer();
  const out = d.push(1, 1024, true, p!);
  assert.equal(out.length, 1);
  assert.ok(out[0]!.frame.equals(frame));
  const big = randomBytes(3000);
  const frags = packetizeAac(big, 1200);
  assert.equal(frags.length, 3);
  const got = frags.flatMap((f, i) => d.push(2 + i, 2048, i === frags.length - 1, f));
  assert.equal(got.length, 1);
  assert.ok(got[0]!.frame.equals(big));
});

test('AAC-hbr: several AUs in one packet get consecutive timestamps; bad headers are dropped', () => {
  const a = randomBytes(100);
  const b = randomBytes(120);
  const headers = Buffer.from([0x00, 0x20, 100 >> 5, (100 & 0x1f) << 3, 120 >> 5, (120 & 0x1f) << 3]); // 32 bits of AU headers
  const d = new AacDepacketizer();
  const out = d.push(5, 5000, true, Buffer.concat([headers, a, b]));
  assert.deepEqual(out.map((f) => f.timestamp), [5000, 6024]);
  assert.ok(out[0]!.frame.equals(a) && out[1]!.frame.equals(b));
  assert.deepEqual(d.push(6, 7048, true, Buffer.from([0x00, 0xff, 0, 0])), [], 'headers longer than the packet');
  assert.equal(d.push(7, 8072, true, Buffer.concat([headers, a])).length, 1, 'the complete first AU is kept, the truncated second dropped');
  assert.equal(d.dropped, 2);
});
