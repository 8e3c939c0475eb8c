/**
 * Seeded fuzzing of what an RTSP peer controls: the request reader, the SDP parser, RTP/RTCP
 * parsing and the H.264, H.265 and AAC depacketizers. Inputs are valid messages and packets
 * mutated by bit flips, truncation, cuts, duplication, garbage and rewritten length fields, pushed
 * in random chunks. Nothing may throw except a catalog error (StromError), the reader's buffer
 * stays within its limits, and what comes out is well-formed (requests with a method and URI,
 * access units with non-empty NAL units, AAC frames no longer than their packet). A failing case
 * names its seed and case number: the same seed reproduces it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStromError } from '../../src/errors.js';
import { AacDepacketizer, packetizeAac } from '../../src/live/rtp/aac-rtp.js';
import { H264Depacketizer } from '../../src/live/rtp/h264-depacketizer.js';
import { packetizeH264 } from '../../src/live/rtp/h264-packetizer.js';
import { H265Depacketizer, packetizeH265 } from '../../src/live/rtp/h265-rtp.js';
import { parseRtcp, senderReport } from '../../src/live/rtp/rtcp.js';
import { parseRtp, serializeRtp } from '../../src/live/rtp/rtp-packet.js';
import { interleavedFrame, RtspReader } from '../../src/live/rtsp/rtsp-message.js';
import { parseSdp } from '../../src/live/rtsp/sdp.js';
import { prng } from './ts-fixtures.js';

const SEED = 0x2f5e;
const CASES = 2000;
type Rnd = () => number;
const int = (r: Rnd, n: number) => Math.floor(r() * n);
const bytes = (r: Rnd, n: number) => Buffer.from(Array.from({ length: n }, () => int(r, 256)));

function mutate(b: Buffer, r: Rnd): Buffer {
  switch (int(r, 6)) {
    case 0: {
      const out = Buffer.from(b);
      for (let n = 1 + int(r, 8); n > 0 && out.length > 0; n--) {
        const i = int(r, out.length);
        out[i] = out[i]! ^ (1 << int(r, 8));
      }
      return out;
    }
    case 1: return b.subarray(0, int(r, b.length + 1));
    case 2: {
      const a = int(r, b.length + 1);
      return Buffer.concat([b.subarray(0, a), b.subarray(a + int(r, 40))]);
    }
    case 3: {
      const a = int(r, b.length + 1);
      return Buffer.concat([b.subarray(0, a), b.subarray(int(r, b.length + 1)), b.subarray(a)]);
    }
    case 4: return Buffer.concat([b, bytes(r, int(r, 64))]);
    default: { // a 16-bit length-ish field rewritten
      const out = Buffer.from(b);
      if (out.length >= 2) out.writeUInt16BE(int(r, 0x10000), int(r, out.length - 1));
      return out;
    }
  }
}

/** Run `fn`; a StromError is an allowed outcome, anything else fails the case. */
function allowed(fn: () => void, what: string): void {
  try {
    fn();
  } catch (err) {
    assert.ok(isStromError(err), `${what}: threw ${String(err)}`);
  }
}

const requests = [
  'OPTIONS rtsp://127.0.0.1:8554/live/cam1 RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: Lavf\r\n\r\n',
  'ANNOUNCE rtsp://127.0.0.1/live/secret RTSP/1.0\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: 30\r\n\r\nv=0\r\nm=video 0 RTP/AVP 96\r\nabc\r\n',
  'SETUP rtsp://h/live/cam1/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: 0123456789abcdef\r\n\r\n',
];

test('RTSP reader: mutated request streams with interleaved data never throw anything but catalog errors, and stay bounded', () => {
  const r = prng(SEED);
  const limits = { maxHeaderBytes: 512, maxBodyBytes: 256 };
  for (let c = 0; c < CASES; c++) {
    const parts: Buffer[] = [];
    for (let n = 1 + int(r, 4); n > 0; n--) parts.push(int(r, 3) === 0 ? interleavedFrame(int(r, 4), bytes(r, int(r, 300))) : Buffer.from(requests[int(r, requests.length)]!));
    const wire = mutate(Buffer.concat(parts), r);
    const reader = new RtspReader(limits);
    allowed(() => {
      for (let off = 0; off < wire.length;) {
        const step = 1 + int(r, 200);
        for (const item of reader.push(wire.subarray(off, off + step))) {
          if (item.type === 'request') {
            assert.ok(item.request.method.length > 0 && item.request.uri.length > 0, `case ${c}: empty method or URI`);
            assert.ok(item.request.body.length <= limits.maxBodyBytes, `case ${c}: body over the limit`);
          }
        }
        assert.ok(reader.buffered <= limits.maxHeaderBytes + limits.maxBodyBytes + 4 + 0x10000 + 200, `case ${c} (seed ${SEED}): ${reader.buffered} bytes held`);
        off += step;
      }
    }, `seed ${SEED} case ${c}`);
  }
});

const sdp = [
  'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=x', 't=0 0',
  'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z0LADdkB,aMuMsg==', 'a=control:streamid=0',
  'm=audio 0 RTP/AVP 97', 'a=rtpmap:97 MPEG4-GENERIC/44100/2', 'a=fmtp:97 mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1210', 'a=control:streamid=1',
].join('\r\n');

test('SDP parser: mutated descriptions parse or fail with a catalog error', () => {
  const r = prng(SEED + 1);
  for (let c = 0; c < CASES; c++) {
    const text = mutate(Buffer.from(sdp), r).toString('latin1');
    allowed(() => {
      const d = parseSdp(text);
      assert.ok(d.media.length <= 8);
      for (const m of d.media) assert.ok(m.payloadType >= 0 && m.payloadType <= 127 && m.clockRate >= 0, `case ${c}`);
    }, `seed ${SEED + 1} case ${c}`);
  }
});

test('RTP/RTCP parsers and depacketizers: mutated packets give catalog errors or well-formed frames', () => {
  const r = prng(SEED + 2);
  const nal = (h: number[], n: number) => Buffer.concat([Buffer.from(h), bytes(r, n)]);
  const h264 = packetizeH264([nal([0x67], 20), nal([0x68], 4), nal([0x65], 5000)], 1200, true);
  const h265 = packetizeH265([nal([0x40, 1], 20), nal([0x42, 1], 30), nal([0x44, 1], 6), nal([0x26, 1], 4000)], 1200);
  const aac = packetizeAac(bytes(r, 2000), 700).map((payload, i, all) => ({ payload, marker: i === all.length - 1 }));
  const sources = [{ pkts: h264, make: () => new H264Depacketizer(64 * 1024) }, { pkts: h265, make: () => new H265Depacketizer(64 * 1024) }, { pkts: aac, make: () => new AacDepacketizer() }];
  for (let c = 0; c < CASES; c++) {
    const src = sources[c % sources.length]!;
    const d = src.make();
    let seq = int(r, 0x10000);
    for (let round = 0; round < 3; round++) {
      for (const p of src.pkts) {
        const wire = serializeRtp({ payloadType: 96, marker: p.marker, sequenceNumber: seq, timestamp: round * 3000, ssrc: 1, payload: p.payload });
        seq = (seq + 1 + (int(r, 20) === 0 ? 1 : 0)) & 0xffff; // an occasional gap
        const bad = int(r, 4) === 0 ? mutate(wire, r) : wire;
        allowed(() => {
          const pkt = parseRtp(bad);
          const out = d.push(pkt.sequenceNumber, pkt.timestamp, pkt.marker, pkt.payload);
          for (const f of out) {
            if ('nalus' in f) assert.ok(f.nalus.length > 0 && f.nalus.every((n) => n.length > 0), `case ${c}: empty NAL unit`);
            else assert.ok(f.frame.length > 0 && f.frame.length <= 0x1fff, `case ${c}: AAC frame of ${f.frame.length}`);
          }
        }, `seed ${SEED + 2} case ${c}`);
      }
    }
    allowed(() => parseRtcp(mutate(senderReport({ ssrc: 1, ntpMs: 1e12, rtpTimestamp: 5, packets: 1, octets: 1, cname: 'x' }), r)), `seed ${SEED + 2} RTCP case ${c}`);
  }
});
