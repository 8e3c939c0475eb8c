/** Ogg pages, ADTS framing and the Opus TOC table of the live audio bridge (src/live/transcode), checked against ffmpeg output. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { LiveSegmenter, type CmafPart } from '../../src/live/formats/cmaf/live-segmenter.js';
import { opusConfigUnit, opusHead, opusUnit } from '../../src/live/formats/flv/unit-builders.js';
import { AdtsParser, adtsHeader, adtsToAsc, ascToAdts } from '../../src/live/formats/audio/adts.js';
import { OGG_BOS, OGG_CONTINUED, oggCrc, oggPage, OggReader } from '../../src/live/formats/audio/ogg.js';
import { BridgeTimeline } from '../../src/live/transcode/timeline.js';
import { OPUS_FRAME_SAMPLES, opusHeadInfo, opusPacketSamples } from '../../src/live/formats/audio/opus-toc.js';

function ffmpeg(args: string[]): Buffer {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args], { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr?.toString());
  return r.stdout;
}

test('Ogg writer → reader round trip: lacing of 0, 254, 255, 510 and 1000-byte packets, byte-by-byte delivery', () => {
  const packets = [0, 254, 255, 510, 1000].map((n) => Buffer.alloc(n, n & 0xff));
  const pages = [
    oggPage({ headerType: OGG_BOS, granule: 0n, serial: 7, seq: 0, packets: [Buffer.from('OpusHead-ish')] }),
    oggPage({ headerType: 0, granule: 960n, serial: 7, seq: 1, packets }),
  ];
  const all = Buffer.concat([Buffer.from('junk before'), ...pages]);
  const r = new OggReader();
  const got = [];
  for (let i = 0; i < all.length; i++) got.push(...r.push(all.subarray(i, i + 1)));
  assert.equal(got.length, 2);
  assert.equal(got[0]!.headerType, OGG_BOS);
  assert.equal(got[1]!.granule, 960n);
  assert.equal(got[1]!.serial, 7);
  assert.equal(got[1]!.seq, 1);
  assert.deepEqual(got[1]!.packets.map((p) => p.length), [0, 254, 255, 510, 1000]);
  assert.ok(got[1]!.packets.every((p, i) => p.equals(packets[i]!)));
  assert.equal(r.badPages, 0);
});

test('Ogg reader joins a packet continued across pages and skips a page with a bad CRC', () => {
  const big = Buffer.alloc(600, 9);
  // A packet split by hand: 255 + 255 on page 1 (no terminating lacing value), 90 on page 2 (continued).
  const p1 = oggPage({ headerType: 0, granule: -1n, serial: 1, seq: 0, packets: [] });
  const head = Buffer.from(p1.subarray(0, 26)); // up to page_segments
  const page1 = Buffer.concat([head, Buffer.from([2, 255, 255]), big.subarray(0, 510)]);
  page1.writeUInt32LE(0, 22);
  page1.writeUInt32LE(oggCrc(page1), 22);
  const page2raw = Buffer.concat([Buffer.from(head), Buffer.from([1, 90]), big.subarray(510)]);
  page2raw[5] = OGG_CONTINUED;
  page2raw.writeUInt32LE(1, 18);
  page2raw.writeUInt32LE(0, 22);
  page2raw.writeUInt32LE(oggCrc(page2raw), 22);
  const corrupt = oggPage({ headerType: 0, granule: 5n, serial: 1, seq: 2, packets: [Buffer.from('x')] });
  corrupt.writeUInt8(corrupt.at(-1)! ^ 0xff, corrupt.length - 1);
  const r = new OggReader();
  const pages = r.push(Buffer.concat([page1, page2raw, corrupt]));
  assert.equal(pages.length, 2);
  assert.deepEqual(pages[0]!.packets, []);
  assert.equal(pages[1]!.packets.length, 1);
  assert.ok(pages[1]!.packets[0]!.equals(big));
  assert.equal(r.badPages, 1);
});

test('Ogg CRC and page layout match pages ffmpeg wrote (libopus, 20 ms pages)', () => {
  const file = ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '0.5', '-c:a', 'libopus', '-f', 'ogg', '-page_duration', '20000', 'pipe:1']);
  let off = 0;
  let n = 0;
  const r = new OggReader();
  const parsed = r.push(file);
  while (off < file.length) {
    assert.equal(file.toString('latin1', off, off + 4), 'OggS');
    const nseg = file[off + 26]!;
    let len = 27 + nseg;
    for (let i = 0; i < nseg; i++) len += file[off + 27 + i]!;
    const page = Buffer.from(file.subarray(off, off + len));
    const crc = page.readUInt32LE(22);
    page.writeUInt32LE(0, 22);
    assert.equal(oggCrc(page), crc, `CRC of page ${n}`);
    const p = parsed[n]!;
    if ((p.headerType & OGG_CONTINUED) === 0 && nseg > 0 && file[off + 26 + nseg]! < 255) {
      // our writer produces the same bytes for the same fields and packets
      assert.ok(oggPage(p).equals(file.subarray(off, off + len)), `page ${n} rebuilt byte for byte`);
    }
    off += len;
    n++;
  }
  assert.equal(parsed.length, n);
  assert.ok(n >= 20, `${n} pages for 0.5 s at 20 ms pages`);
  assert.equal(r.badPages, 0);
  const head = opusHeadInfo(parsed[0]!.packets[0]!);
  assert.ok(head !== null && head.channels === 1 && head.preSkip > 0);
  assert.equal(parsed[1]!.packets[0]!.toString('latin1', 0, 8), 'OpusTags');
  const audio = parsed.slice(2).flatMap((p) => p.packets);
  assert.ok(audio.every((pkt) => opusPacketSamples(pkt) === 960), 'ffmpeg libopus default: 20 ms packets');
});

test('ADTS header build → parse round trip, ASC conversion, resync after garbage', () => {
  const asc = Buffer.from([0x12, 0x10]); // AAC-LC, 44.1 kHz, stereo
  const cfg = ascToAdts(asc)!;
  assert.deepEqual(cfg, { objectType: 2, sampleRateIndex: 4, channels: 2 });
  assert.ok(adtsToAsc(cfg).equals(asc));
  assert.equal(ascToAdts(Buffer.from([0x2b, 0x92, 0x08, 0x00])), null, 'object type 5 (SBR) has no ADTS profile');
  assert.equal(ascToAdts(Buffer.from([0x17, 0x80])), null, 'explicit sample rate (index 15)');
  const frames = [10, 300, 1500].map((n) => Buffer.alloc(n, n & 0xff));
  const stream = Buffer.concat([Buffer.from([1, 2, 0xff, 3]), ...frames.flatMap((f) => [adtsHeader(cfg, f.length), f])]);
  const p = new AdtsParser();
  const out = [...p.push(stream.subarray(0, 100)), ...p.push(stream.subarray(100))];
  assert.deepEqual(out.map((f) => f.frame.length), [10, 300, 1500]);
  assert.ok(out.every((f, i) => f.frame.equals(frames[i]!) && f.config.sampleRateIndex === 4 && f.config.channels === 2 && f.config.objectType === 2));
  assert.equal(p.skipped, 4);
  assert.throws(() => adtsHeader(cfg, 9000), RangeError);
});

test('ADTS parser reads ffmpeg\'s AAC encoder output frame for frame', () => {
  const file = ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '1', '-ac', '2', '-c:a', 'aac', '-f', 'adts', 'pipe:1']);
  const p = new AdtsParser();
  const frames = p.push(file);
  assert.equal(p.skipped, 0);
  assert.ok(frames.length >= 47 && frames.length <= 50, `${frames.length} frames of 1024 samples for 1 s at 48 kHz (+ priming)`);
  assert.ok(adtsToAsc(frames[0]!.config).equals(Buffer.from([0x11, 0x90])), 'LC, 48 kHz, stereo');
});

test('Opus TOC frame durations (RFC 6716 §3.1) and frame counts (§3.2)', () => {
  assert.deepEqual(OPUS_FRAME_SAMPLES.slice(0, 4), [480, 960, 1920, 2880]); // SILK NB
  assert.deepEqual(OPUS_FRAME_SAMPLES.slice(12, 16), [480, 960, 480, 960]); // Hybrid
  assert.deepEqual(OPUS_FRAME_SAMPLES.slice(28, 32), [120, 240, 480, 960]); // CELT FB
  const toc = (config: number, code: number) => (config << 3) | code;
  assert.equal(opusPacketSamples(Buffer.from([toc(31, 0)])), 960); // one 20 ms CELT frame
  assert.equal(opusPacketSamples(Buffer.from([toc(31, 1), 0, 0])), 1920); // two equal frames
  assert.equal(opusPacketSamples(Buffer.from([toc(16, 2), 1, 0])), 240); // two 2.5 ms frames
  assert.equal(opusPacketSamples(Buffer.from([toc(3, 3), 2])), 5760); // 2 × 60 ms = 120 ms, the maximum
  assert.equal(opusPacketSamples(Buffer.from([toc(3, 3), 3])), 0, '3 × 60 ms exceeds 120 ms');
  assert.equal(opusPacketSamples(Buffer.from([toc(31, 3), 0])), 0, 'zero frames');
  assert.equal(opusPacketSamples(Buffer.from([toc(31, 3)])), 0, 'code 3 without a count byte');
  assert.equal(opusPacketSamples(Buffer.alloc(0)), 0);
  assert.equal(opusHeadInfo(Buffer.from('OpusTags')), null);
});

test('CMAF segmenter times Opus samples by their TOC: 10 ms packets get 480-tick durations at the 48 kHz timescale', () => {
  const parts: CmafPart[] = [];
  const seg = new LiveSegmenter({ video: false, audio: true }, { partTargetMs: 200, segmentTargetMs: 400 }, (p) => parts.push(p));
  seg.push(opusConfigUnit(opusHead(2), 0));
  const tenMs = Buffer.from([(30 << 3) | 0, 1, 2, 3]); // CELT FB 10 ms, one frame
  for (let i = 0; i < 150; i++) seg.push(opusUnit(tenMs, i * 10));
  assert.ok(seg.init!.includes('dOps', 0, 'latin1'));
  assert.ok(parts.length >= 5);
  let next = -1;
  for (const p of parts) {
    const { base, durations } = trafTiming(p.bytes);
    assert.ok(durations.every((d) => d === 480), `part ${p.seq}: ${durations.join(',')}`);
    if (next >= 0) assert.equal(base, next, 'tfdt continues where the previous part ended');
    next = base + durations.reduce((n, d) => n + d, 0);
    assert.ok(p.durationMs <= 200);
  }
});

/** tfdt baseMediaDecodeTime and trun sample durations of a single-traf fragment. */
function trafTiming(frag: Buffer): { base: number; durations: number[] } {
  const tfdt = frag.indexOf('tfdt', 0, 'latin1');
  const base = frag[tfdt + 4] === 1 ? Number(frag.readBigUInt64BE(tfdt + 8)) : frag.readUInt32BE(tfdt + 8);
  const trun = frag.indexOf('trun', 0, 'latin1');
  const flags = frag.readUIntBE(trun + 5, 3);
  const count = frag.readUInt32BE(trun + 8);
  let off = trun + 12 + (flags & 1 ? 4 : 0) + (flags & 4 ? 4 : 0);
  const durations: number[] = [];
  for (let i = 0; i < count; i++) {
    if (flags & 0x100) durations.push(frag.readUInt32BE(off));
    off += [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length * 4;
  }
  return { base, durations };
}

test('bridge timeline: output follows the input dts through a publisher gap, starts at −priming, measures latency', () => {
  const tl = new BridgeTimeline();
  // 10 AAC-like input units of 20 ms from dts 1000, then a 2 s gap (publisher reconnect), 10 more.
  for (let i = 0; i < 10; i++) tl.fed(1000 + i * 20, 20, i * 20);
  for (let i = 0; i < 10; i++) tl.fed(3200 + i * 20, 20, 200 + i * 20);
  assert.equal(tl.resyncs, 1, 'the gap is one discontinuity');
  tl.primed(5);
  const outs = Array.from({ length: 20 }, (_, i) => tl.out(20, 1000 + i));
  assert.equal(outs[0]!.dts, 995, 'first packet starts priming before the first input');
  assert.equal(outs[1]!.dts, 1015);
  assert.equal(outs[10]!.dts, 1195, 'the packet straddling the gap starts on the old timeline');
  assert.equal(outs[11]!.dts, 3215, 'packets after the gap carry the new input timeline');
  assert.ok(outs.slice(1).every((o, i) => o.dts >= outs[i]!.dts), 'monotonic');
  assert.equal(outs[3]!.latencyMs, 1003 - 60, 'packet 3 ends at position 75, completed by input 3 (written at 60)');
  assert.ok(Math.abs(tl.lagMs - 5) < 1e-9, 'lag = fed − returned audio (the priming is returned on top)');
  const rounding = new BridgeTimeline();
  for (let i = 0; i < 100; i++) rounding.fed(Math.round(i * 23.22), 23.22, 0); // RTMP ms rounding is not a gap
  assert.equal(rounding.resyncs, 0);
});
