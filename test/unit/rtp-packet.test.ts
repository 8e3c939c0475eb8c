/** RTP/RTCP packets (RFC 3550 §5.1, §6.4.1), the UDP reorder buffer and decode-time estimation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStromError } from '../../src/errors.js';
import { DtsEstimator } from '../../src/live/rtp/dts-estimator.js';
import { ReorderBuffer } from '../../src/live/rtp/reorder-buffer.js';
import { parseRtcp, RTCP_TYPE, senderReport } from '../../src/live/rtp/rtcp.js';
import { parseRtp, serializeRtp, type RtpPacket } from '../../src/live/rtp/rtp-packet.js';

const invalid = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => isStromError(e, 'RTP_INVALID') && re.test(e.message));

test('RTP: serialize → parse keeps every field, with CSRCs and a header extension', () => {
  const payload = Buffer.from('hello rtp');
  const b = serializeRtp({ payloadType: 96, marker: true, sequenceNumber: 65535, timestamp: 0xfffffff0, ssrc: 0xdeadbeef, payload, csrc: [1, 2], extension: { profile: 0xbede, data: Buffer.from([1, 2, 3, 4]) } });
  const p = parseRtp(b);
  assert.equal(p.payloadType, 96);
  assert.equal(p.marker, true);
  assert.equal(p.sequenceNumber, 65535);
  assert.equal(p.timestamp, 0xfffffff0);
  assert.equal(p.ssrc, 0xdeadbeef);
  assert.deepEqual(p.csrc, [1, 2]);
  assert.equal(p.extension?.profile, 0xbede);
  assert.deepEqual([...p.extension!.data], [1, 2, 3, 4]);
  assert.equal(p.payload.toString(), 'hello rtp');
});

test('RTP: padding is removed; bad versions and lengths that lie are refused', () => {
  const b = serializeRtp({ payloadType: 0, marker: false, sequenceNumber: 1, timestamp: 2, ssrc: 3, payload: Buffer.from([9, 9, 0, 0, 3]) });
  b[0] = b[0]! | 0x20; // P bit: the last 3 bytes are padding
  assert.deepEqual([...parseRtp(b).payload], [9, 9]);
  invalid(() => parseRtp(Buffer.alloc(11)), /shorter than the 12-byte/);
  const v1 = Buffer.from(b);
  v1[0] = 0x40;
  invalid(() => parseRtp(v1), /version 1/);
  const pad = Buffer.from(b);
  pad[pad.length - 1] = 200;
  invalid(() => parseRtp(pad), /padding of 200/);
  const zeroPad = Buffer.from(b);
  zeroPad[zeroPad.length - 1] = 0;
  invalid(() => parseRtp(zeroPad), /padding of 0/);
  const cc = Buffer.from(b.subarray(0, 12));
  cc[0] = 0x8f; // 15 CSRCs in a 12-byte packet
  invalid(() => parseRtp(cc), /15 CSRC/);
  const ext = Buffer.concat([b.subarray(0, 12), Buffer.from([0xbe, 0xde, 0x00, 0x10])]);
  ext[0] = 0x90; // X bit, extension claims 16 words
  invalid(() => parseRtp(ext), /header extension of 16 words/);
});

test('RTCP: a sender report round-trips its NTP↔RTP mapping; compound lengths are checked', () => {
  const ntpMs = Date.UTC(2026, 0, 1, 12, 0, 0, 250);
  const sr = senderReport({ ssrc: 42, ntpMs, rtpTimestamp: 123456, packets: 10, octets: 1000, cname: 'strom' });
  assert.equal(sr.length % 4, 0);
  const [r, sdes] = parseRtcp(sr);
  assert.equal(r!.type, RTCP_TYPE.SR);
  assert.equal(r!.ssrc, 42);
  assert.ok(Math.abs(r!.sender!.ntpMs - ntpMs) < 0.01, `${r!.sender!.ntpMs} vs ${ntpMs}`);
  assert.equal(r!.sender!.rtpTimestamp, 123456);
  assert.equal(r!.sender!.packets, 10);
  assert.equal(sdes!.type, RTCP_TYPE.SDES);
  const lying = Buffer.from(sr);
  lying.writeUInt16BE(100, 2);
  invalid(() => parseRtcp(lying), /claims 404 bytes/);
  invalid(() => parseRtcp(Buffer.from([0x40, 200, 0, 0])), /version 1/);
  invalid(() => parseRtcp(Buffer.from([0x80, 200, 0, 1, 0, 0, 0, 1])), /sender report of 8 bytes/);
});

const pkt = (seq: number): RtpPacket => ({ payloadType: 96, marker: false, sequenceNumber: seq & 0xffff, timestamp: 0, ssrc: 1, csrc: [], extension: null, payload: Buffer.alloc(0) });
const seqs = (ps: RtpPacket[]) => ps.map((p) => p.sequenceNumber);

test('reorder buffer: swaps are put back, gaps are given up when the buffer fills, late packets dropped', () => {
  const r = new ReorderBuffer(3);
  assert.deepEqual(seqs(r.push(pkt(65534))), [65534]);
  assert.deepEqual(seqs(r.push(pkt(0))), []); // 65535 missing: wait (and across the wrap)
  assert.deepEqual(seqs(r.push(pkt(65535))), [65535, 0]);
  assert.equal(r.stats.reordered, 1);
  assert.deepEqual(seqs(r.push(pkt(2))), []); // 1 missing
  assert.deepEqual(seqs(r.push(pkt(3))), []);
  assert.deepEqual(seqs(r.push(pkt(4))), []);
  assert.deepEqual(seqs(r.push(pkt(5))), [2, 3, 4, 5]); // 4 held > 3: 1 is lost
  assert.equal(r.stats.lost, 1);
  assert.deepEqual(seqs(r.push(pkt(1))), []); // too late now
  assert.deepEqual(seqs(r.push(pkt(5))), []); // duplicate
  assert.equal(r.stats.late, 2);
  assert.deepEqual(seqs(r.push(pkt(9000))), [9000]); // a restart, not 3000 lost packets
  let now = 0;
  const slow = new ReorderBuffer(64, 100, () => now); // a slow track: the wait is bounded in time, not only in packets
  slow.push(pkt(1));
  assert.deepEqual(seqs(slow.push(pkt(3))), []);
  now = 150;
  assert.deepEqual(seqs(slow.push(pkt(4))), [3, 4]);
  assert.equal(slow.stats.lost, 1);
  const tcp = new ReorderBuffer(0); // size 0: gaps are counted, nothing waits
  tcp.push(pkt(10));
  assert.deepEqual(seqs(tcp.push(pkt(13))), [13]);
  assert.equal(tcp.stats.lost, 2);
});

test('DTS estimation: B-frame presentation order gives monotonic decode times never after presentation', () => {
  const d = 40;
  // x264 B-pyramid decode order: I0 P4 B2 b1 b3 P8 B6 b5 b7 …
  const order = [0, 4, 2, 1, 3, 8, 6, 5, 7, 12, 10, 9, 11, 16, 14, 13, 15];
  const e = new DtsEstimator();
  let last = -Infinity;
  const dts: number[] = [];
  for (const i of order) {
    const t = e.next(1000 + i * d);
    assert.equal(t.pts, 1000 + i * d, 'presentation times are kept');
    assert.ok(t.dts <= t.pts, `dts ${t.dts} after pts ${t.pts}`);
    assert.ok(t.dts >= last, `dts went back: ${last} → ${t.dts}`);
    last = t.dts;
    dts.push(t.dts);
  }
  assert.deepEqual(dts.slice(4), [1000, 1040, 1080, 1120, 1160, 1200, 1240, 1280, 1320, 1360, 1400, 1440, 1480], 'after the first frames, decode times are the sorted presentation times');
  const plain = new DtsEstimator(); // no B-frames: a constant offset
  const out = [0, 1, 2, 3, 4, 5, 6].map((i) => plain.next(i * d));
  assert.deepEqual(out.slice(4).map((t) => t.pts - t.dts), [160, 160, 160]);
});
