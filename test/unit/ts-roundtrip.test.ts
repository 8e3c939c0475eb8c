/**
 * TS muxer round trips: ffmpeg's TS → our demuxer → MediaUnits → our muxer → a .ts file that
 * ffprobe reads with the same streams, packet counts, keyframes and timestamps (±1 tick) and that
 * ffmpeg decodes without an error; FLV-born units (ms from 0) muxed the same way; packet-level rules
 * of the output (7 × 188-byte chunks, continuity counters, PCR spacing and order, PSI repetition).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { FlvDemuxer } from '../../src/live/formats/flv/flv-demuxer.js';
import { audioToUnit, videoToUnit } from '../../src/live/formats/flv/flv-tags.js';
import { parsePacket } from '../../src/live/formats/ts/packet.js';
import { parsePes } from '../../src/live/formats/ts/pes.js';
import { TsMuxer } from '../../src/live/formats/ts/ts-muxer.js';
import { isStromError } from '../../src/errors.js';
import { demux, ffmpegTs, hasEncoder, probe, sh, tempDir, unitKey, type ProbePacket, type Variant } from './ts-fixtures.js';

const dir = tempDir();
const opus = hasEncoder('libopus');

/** Mux units; every push returns full 1316-byte datagrams and at most one shorter, last chunk. */
function mux(units: readonly MediaUnit[], m = new TsMuxer()): Buffer[] {
  const out: Buffer[] = [];
  for (const u of units) {
    const chunks = m.push(u);
    chunks.slice(0, -1).forEach((c) => assert.equal(c.length, 1316, 'only the last chunk of a unit is short'));
    out.push(...chunks);
  }
  return out;
}

function samePackets(got: ProbePacket[], want: ProbePacket[], kind: string, shift = 0): void {
  assert.equal(got.length, want.length, `${kind} packet count`);
  got.forEach((p, i) => {
    const w = want[i]!;
    assert.ok(Math.abs(p.dts - w.dts - shift) <= 1 && Math.abs(p.pts - w.pts - shift) <= 1, `${kind} #${i}: ${p.pts}/${p.dts} vs ${w.pts}/${w.dts}`);
    assert.equal(p.key, w.key, `${kind} #${i} keyframe flag`);
  });
}

/** Decode the whole file; ffmpeg must report nothing at -v error. */
function decodesCleanly(file: string): void {
  assert.equal(sh('ffmpeg', ['-hide_banner', '-v', 'error', '-i', file, '-f', 'null', '-']), '');
}

/** Packet-level checks of a muxer output: chunk sizes, continuity, PCR order and spacing, PSI. */
function checkPackets(chunks: Buffer[]): void {
  for (const c of chunks) assert.ok(c.length % 188 === 0 && c.length > 0 && c.length <= 1316, `chunk of ${c.length} bytes`);
  const ts = Buffer.concat(chunks);
  const cc = new Map<number, number>();
  const pcrs: number[] = [];
  const videoDts: number[] = [];
  let pats = 0;
  for (let off = 0; off < ts.length; off += 188) {
    const p = parsePacket(ts, off)!;
    assert.ok(p, `packet at ${off}`);
    if (p.hasPayload) {
      const last = cc.get(p.pid);
      if (last !== undefined) assert.equal(p.cc, (last + 1) & 15, `cc on PID ${p.pid}`);
      cc.set(p.pid, p.cc);
    }
    if (p.pid === 0) pats++;
    if (p.pcr) pcrs.push(p.pcr.base);
    if (p.pid === 0x100 && p.pusi) {
      const pes = parsePes(ts.subarray(off + p.payloadOffset, off + 188))!;
      videoDts.push(pes.dts ?? pes.pts!);
      assert.ok(p.pcr !== null && p.pcr.base <= videoDts.at(-1)!, 'each video PES carries a PCR before its DTS');
    }
  }
  for (let i = 1; i < pcrs.length; i++) {
    assert.ok(pcrs[i]! >= pcrs[i - 1]!, 'PCR never goes back');
    assert.ok(pcrs[i]! - pcrs[i - 1]! <= 100 * 90, `PCR gap ${(pcrs[i]! - pcrs[i - 1]!) / 90} ms (§2.7.2: at most 100 ms)`);
  }
  assert.ok(pats >= 20, `PAT repeated (${pats})`);
}

function roundTrip(v: Variant): void {
  const input = ffmpegTs(dir, v);
  const { units } = demux(readFileSync(input));
  const chunks = mux(units);
  checkPackets(chunks);
  const out = path.join(dir, `${v}-out.ts`);
  writeFileSync(out, Buffer.concat(chunks));

  const want = probe(input);
  const got = probe(out);
  assert.deepEqual(got.streams, want.streams, 'same streams and codecs');
  samePackets(got.video, want.video, 'video');
  samePackets(got.audio, want.audio, 'audio');
  decodesCleanly(out);

  // Our own demuxer reads back the very same units (times to the tick, payloads byte for byte).
  const again = demux(Buffer.concat(chunks));
  assert.deepEqual(again.units.map(unitKey), units.map(unitKey));
  assert.equal(again.demuxer.counters().ccErrors, 0);
}

test('H.264 + AAC: ffmpeg TS → units → TS reads back the same in ffprobe and decodes cleanly', () => roundTrip('h264-aac'));
test('H.265 + AAC: ffmpeg TS → units → TS reads back the same in ffprobe and decodes cleanly', () => roundTrip('hevc-aac'));
test('H.264 + Opus: ffmpeg TS → units → TS reads back the same in ffprobe and decodes cleanly', { skip: opus ? false : 'this ffmpeg has no libopus encoder' }, () => roundTrip('h264-opus'));

test('FLV-born units (ms from 0, integer) become a TS shifted by the PCR delay, exact to the ms', () => {
  const flv = path.join(dir, 'in.flv');
  sh('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-f', 'lavfi', '-i', 'sine=sample_rate=44100',
    '-t', '1', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-bf', '2', '-c:a', 'aac', '-f', 'flv', flv]);
  const units: MediaUnit[] = [];
  for (const tag of new FlvDemuxer().push(readFileSync(flv))) {
    const u = tag.type === 9 ? videoToUnit(tag.body, tag.timestamp) : tag.type === 8 ? audioToUnit(tag.body, tag.timestamp) : null;
    if (u) units.push(u);
  }
  const out = path.join(dir, 'from-flv.ts');
  writeFileSync(out, Buffer.concat(mux(units, new TsMuxer({ pcrDelayMs: 200 }))));
  const got = probe(out);
  const media = units.filter((u) => !u.config);
  const want = (kind: string) => media.filter((u) => u.kind === kind).map((u) => ({ dts: u.dts * 90, pts: u.pts * 90, key: u.keyframe }));
  samePackets(got.video, want('video'), 'video', 200 * 90);
  assert.equal(got.audio.length, want('audio').length, 'audio packet count');
  got.audio.forEach((p, i) => assert.equal(p.dts, want('audio')[i]!.dts + 200 * 90, `audio #${i}`));
  decodesCleanly(out);
});

test('muxer: unsupported codecs are a typed error, media before its configuration is dropped', () => {
  const m = new TsMuxer();
  const vp9: MediaUnit = { kind: 'video', codec: 'vp9', dts: 0, pts: 0, keyframe: true, config: false, payload: Buffer.alloc(4), body: Buffer.alloc(5) };
  assert.throws(() => m.push(vp9), (e: unknown) => isStromError(e, 'BAD_REQUEST') && e.message.includes('vp9'));
  const frame: MediaUnit = { kind: 'audio', codec: 'aac', dts: 0, pts: 0, keyframe: true, config: false, payload: Buffer.alloc(10), body: Buffer.alloc(12) };
  assert.deepEqual(m.push(frame), []);
  assert.equal(m.droppedUnits, 1);
  assert.throws(() => new TsMuxer({ packetsPerChunk: 0 }), (e: unknown) => isStromError(e, 'BAD_REQUEST'));
  const badAsc: MediaUnit = { ...frame, config: true, payload: Buffer.from([0xf8, 0, 0]) }; // audioObjectType escape: not ADTS
  assert.throws(() => m.push(badAsc), (e: unknown) => isStromError(e, 'BAD_REQUEST'));
});
