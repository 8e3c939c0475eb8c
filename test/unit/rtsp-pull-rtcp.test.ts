/**
 * What Strom's RTSP client sends and how it keeps time: receiver reports with a PLI (RFC 3550
 * §6.4.2, RFC 4585 §6.3.1) laid out as a camera reads them, and the RTP clock bridging a jump of
 * the camera's timestamps and a restart (new SSRC) by the wall-clock gap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRtcp, receiverReport, RTCP_TYPE } from '../../src/live/rtp/rtcp.js';
import { RtpClock } from '../../src/live/rtp/rtp-clock.js';

test('a receiver report with a PLI: RR block fields, SDES, PSFB FMT=1 naming the media SSRC', () => {
  const ntpMs = Date.UTC(2026, 11, 7, 12, 0, 0);
  const b = receiverReport({ ssrc: 0x11223344, cname: 'strom', now: ntpMs + 500, pli: 0xaabbccdd, reports: [{ ssrc: 0xaabbccdd, lost: 3, fractionLost: 16, highestSeq: 0x1_0005, lastSr: { ntpMs, receivedAt: ntpMs } }] });
  const packets = parseRtcp(b);
  assert.deepEqual(packets.map((p) => p.type), [RTCP_TYPE.RR, RTCP_TYPE.SDES, RTCP_TYPE.PSFB]);
  assert.equal(b[0]! & 0x1f, 1, 'one report block');
  assert.equal(b.readUInt32BE(4), 0x11223344);
  assert.equal(b.readUInt32BE(8), 0xaabbccdd, 'the block is about the camera\'s SSRC');
  assert.equal(b[12], 16, 'fraction lost');
  assert.equal(b.readUIntBE(13, 3), 3, 'cumulative lost');
  assert.equal(b.readUInt32BE(16), 0x1_0005, 'extended highest sequence number');
  const ntp = ntpMs / 1000 + 2_208_988_800;
  assert.equal(b.readUInt32BE(24), Math.floor(ntp * 65536) % 2 ** 32, 'LSR: the middle 32 bits of the SR\'s NTP time');
  assert.equal(b.readUInt32BE(28), 32768, 'DLSR: 0.5 s in 1/65536 s');
  const pli = b.subarray(b.length - 12);
  assert.equal(pli[0]! & 0x1f, 1, 'FMT 1: PLI');
  assert.equal(pli.readUInt32BE(8), 0xaabbccdd);
});

test('the RTP clock: wrap-around unwrapped; a jump of more than 10 s and a restart bridged by the wall-clock gap', () => {
  let now = 1_000;
  const c = new RtpClock(90_000, 0, () => now);
  const first = c.toMs(0xffff_ffff - 90_000 + 1);
  now += 1_000;
  assert.equal(c.toMs(0), first + 1_000, 'across the 32-bit wrap');
  now += 40;
  assert.equal(c.toMs(90_000 * 3_600), first + 1_040, 'an hour ahead: the 40 ms that passed, not an hour');
  now += 40;
  assert.equal(c.toMs(90_000 * 3_600 + 3_600), first + 1_080);
  now += 200;
  c.restart();
  assert.equal(c.toMs(12_345), first + 1_280, 'a new SSRC continues by the 200 ms gap');
  now += 40;
  assert.equal(c.toMs(12_345 + 3_600), first + 1_320);
});
