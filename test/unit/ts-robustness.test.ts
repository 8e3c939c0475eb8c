/**
 * TS demuxer under damage and at the edges: the 33-bit timestamp wrap, time-base jumps, lost and
 * duplicated packets (continuity counters), PAT/PMT with bad CRCs, garbage between and inside
 * packets, transport errors, and the PES size limits; plus the field codecs (PTS/DTS, PCR, CRC_32,
 * Opus channel configurations) at their extremes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { PID, parsePacket, readPcr, writePcr } from '../../src/live/formats/ts/packet.js';
import { readTimestamp, writeTimestamp } from '../../src/live/formats/ts/pes.js';
import { crc32 } from '../../src/live/formats/ts/psi-section.js';
import { Timeline, WRAP } from '../../src/live/formats/ts/timeline.js';
import { opusConfigForHead, opusHeadForConfig } from '../../src/live/formats/ts/opus-es.js';
import { TsDemuxer } from '../../src/live/formats/ts/ts-demuxer.js';
import { TsMuxer } from '../../src/live/formats/ts/ts-muxer.js';
import { isStromError } from '../../src/errors.js';
import { demux, ffmpegTs, prng, tempDir, unitKey } from './ts-fixtures.js';

const dir = tempDir();
const source = readFileSync(ffmpegTs(dir, 'h264-aac'));
const clean = demux(source);
const cleanKeys = clean.units.map(unitKey);

/** Offsets of every packet on a PID (matching `pred`). */
function packetsOf(ts: Buffer, pred: (pid: number, pusi: boolean) => boolean): number[] {
  const out: number[] = [];
  for (let off = 0; off + 188 <= ts.length; off += 188) {
    const p = parsePacket(ts, off);
    if (p && pred(p.pid, p.pusi)) out.push(off);
  }
  return out;
}

function monotonic(units: MediaUnit[]): void {
  for (const kind of ['video', 'audio'] as const) {
    const list = units.filter((u) => u.kind === kind);
    list.forEach((u, i) => {
      assert.ok(Number.isFinite(u.dts) && u.dts >= 0 && u.pts >= u.dts, `${kind} #${i} times ${u.dts}/${u.pts}`);
      if (i > 0) assert.ok(u.dts >= list[i - 1]!.dts, `${kind} #${i} dts ${u.dts} after ${list[i - 1]!.dts}`);
    });
  }
}

test('field codecs: PTS/DTS and PCR at 0 and 2^33 − 1, CRC_32 check value, Opus channel configurations', () => {
  const b = Buffer.alloc(6);
  for (const v of [0, 1, 2 ** 32, WRAP - 1, 123456789]) {
    writeTimestamp(b, 0, 2, v);
    assert.equal(readTimestamp(b, 0), v);
    writePcr(b, 0, v, 299);
    assert.deepEqual(readPcr(b, 0), { base: v, ext: 299 });
  }
  assert.equal(crc32(Buffer.from('123456789')), 0x0376e6e7); // CRC-32/MPEG-2 check value
  for (let code = 0; code <= 8; code++) assert.equal(opusConfigForHead(opusHeadForConfig(code, 312)!), code, `channel_config_code ${code}`);
  assert.equal(opusHeadForConfig(9, 0), null);
});

test('timeline: the 33-bit wrap moves on by 2^33, stragglers land before it, jumps are absorbed', () => {
  const t = new Timeline(10_000);
  const near = WRAP - 90_000; // 1 s before the wrap
  assert.equal(t.ticks(near), near);
  assert.equal(t.ticks(near + 45_000), near + 45_000);
  assert.equal(t.ticks(10), WRAP + 10, 'wrapped');
  assert.equal(t.ticks(WRAP - 1000), WRAP - 1000, 'late audio from before the wrap');
  assert.equal(t.ticks(90_000), WRAP + 90_000);
  assert.equal(t.wraps, 1);
  assert.equal(t.ticks(90_000 + 3600 * 90_000), WRAP + 90_000 + 90, 'a 1 h jump continues 1 ms on');
  assert.equal(t.ticks(90_000 + 3600 * 90_000 + 3000), WRAP + 90_000 + 90 + 3000);
  assert.equal(t.jumps, 1);
});

test('33-bit wrap: a stream muxed across 2^33 demuxes with monotonic times and unchanged durations', () => {
  const start = (WRAP - 90_000) / 90 - clean.units[0]!.dts; // the wrap comes 1 s into the stream
  const shifted = clean.units.map((u) => ({ ...u, dts: u.dts + start, pts: u.pts + start }));
  const m = new TsMuxer();
  const ts = Buffer.concat(shifted.flatMap((u) => m.push(u)));
  const { units, demuxer } = demux(ts);
  assert.equal(units.length, clean.units.length);
  monotonic(units);
  units.forEach((u, i) => {
    const w = shifted[i]!;
    assert.ok(Math.abs(u.dts - w.dts) < 0.02 && Math.abs(u.pts - w.pts) < 0.02, `#${i} ${u.dts} vs ${w.dts}`);
  });
  assert.ok(units.at(-1)!.dts * 90 > WRAP, 'the timeline went past 2^33');
  assert.equal(demuxer.counters().timestampJumps, 0);
});

test('lost packets are continuity errors: the damaged PES is dropped, the rest flows on', () => {
  const video = packetsOf(source, (pid, pusi) => pid === 0x100 && !pusi);
  const lost = new Set([video[20]!, video[90]!, video[150]!]);
  const damaged = Buffer.concat(packetsOf(source, () => true).filter((o) => !lost.has(o)).map((o) => source.subarray(o, o + 188)));
  const { units, demuxer, warnings } = demux(damaged);
  const c = demuxer.counters();
  assert.equal(c.ccErrors, 3);
  assert.equal(c.droppedPes, 3);
  assert.equal(warnings.filter((w) => w.code === 'cc-error').length, 3);
  const frames = units.filter((u) => u.kind === 'video' && !u.config);
  assert.equal(frames.length, 57, 'three frames lost, all others kept');
  monotonic(units);
});

test('a duplicated packet is dropped silently (§2.4.3.3 allows one), a third copy is an error', () => {
  const all = packetsOf(source, () => true);
  const at = packetsOf(source, (pid, pusi) => pid === 0x100 && !pusi)[10]!;
  const copy = (times: number) => Buffer.concat(all.flatMap((o) => Array<Buffer>(o === at ? times : 1).fill(source.subarray(o, o + 188))));
  const once = demux(copy(2));
  assert.deepEqual(once.units.map(unitKey), cleanKeys);
  assert.deepEqual([once.demuxer.counters().duplicates, once.demuxer.counters().ccErrors], [1, 0]);
  const twice = demux(copy(3));
  assert.equal(twice.demuxer.counters().ccErrors, 1);
});

test('PAT/PMT with a bad CRC are ignored and counted; the next good ones are used', () => {
  const broken = Buffer.from(source);
  const pat = packetsOf(broken, (pid) => pid === PID.PAT);
  const pmt = packetsOf(broken, (pid) => pid === 0x1000);
  const flip = (at: number, bits: number) => (broken[at] = broken[at]! ^ bits);
  flip(pat[0]! + 10, 0x01); // inside the first PAT's program loop
  flip(pmt[1]! + 18, 0x20); // inside the stream loop of the first PMT read (the first PAT is bad)
  broken[pmt[3]! + 17] = 0x24; // a later PMT claims H.265 on the video PID, with a stale CRC
  const { units, demuxer, warnings } = demux(broken);
  const c = demuxer.counters();
  assert.equal(c.psiCrcErrors, 3);
  assert.equal(warnings.filter((w) => w.code === 'psi-crc').length, 3);
  assert.ok(c.unknownPidPackets > 0, 'packets before the first good PAT/PMT have nowhere to go');
  const frames = units.filter((u) => u.kind === 'video' && !u.config);
  assert.ok(frames[0]!.keyframe && frames.length === 30, `video starts at the next keyframe (${frames.length} frames)`);
  assert.ok(units.every((u) => u.kind !== 'video' || u.codec === 'avc'), 'the bad PMT changed nothing');
  let last = -1;
  for (const k of units.filter((u) => !u.config).map(unitKey)) {
    const i = cleanKeys.indexOf(k, last + 1);
    assert.ok(i > last, 'every recovered unit is a clean one, in order');
    last = i;
  }
  const configs = (list: MediaUnit[]) => list.filter((u) => u.config).map((u) => `${u.kind}:${u.payload.toString('hex')}`).sort();
  assert.deepEqual(configs(units), configs(clean.units), 'the same configuration records');
});

test('garbage between packets costs nothing but a resync; garbage inside a packet stays in that one frame', () => {
  const rnd = prng(42);
  const garbage = Buffer.from(Array.from({ length: 1000 }, () => (rnd() < 0.05 ? 0x47 : Math.floor(rnd() * 256))));
  const cut = 188 * 150;
  const between = demux(Buffer.concat([source.subarray(0, cut), garbage, source.subarray(cut)]));
  assert.deepEqual(between.units.map(unitKey), cleanKeys);
  assert.deepEqual([between.demuxer.counters().resyncs, between.demuxer.counters().skippedBytes], [1, 1000]);

  // Cut into a packet, the garbage ends up in that packet's payload: TS has no payload checksum, so
  // the PES it belongs to goes on with bad bytes; the stream around it is unharmed.
  const at = packetsOf(source, (pid, pusi) => pid === 0x100 && !pusi)[60]!;
  const inside = demux(Buffer.concat([source.subarray(0, at + 100), garbage, source.subarray(at + 100)]), 1316);
  assert.equal(inside.demuxer.counters().resyncs, 1);
  assert.ok(inside.warnings.some((w) => w.code === 'sync-lost'));
  assert.equal(inside.units.length, clean.units.length);
  assert.deepEqual(inside.units.filter((u) => u.kind === 'audio').map(unitKey), cleanKeys.filter((k) => k.startsWith('audio')));
  monotonic(inside.units);

  const leading = demux(Buffer.concat([garbage, source]), 7);
  assert.deepEqual(leading.units.map(unitKey), cleanKeys, 'sync found after leading garbage in 7-byte reads');
});

test('transport_error_indicator and scrambled packets are skipped and counted', () => {
  const b = Buffer.from(source);
  const video = packetsOf(b, (pid, pusi) => pid === 0x100 && !pusi);
  b[video[5]! + 1] = b[video[5]! + 1]! | 0x80; // TEI
  b[video[40]! + 3] = b[video[40]! + 3]! | 0x80; // scrambling control '10'
  const { demuxer } = demux(b);
  const c = demuxer.counters();
  assert.deepEqual([c.transportErrors, c.scrambled], [1, 1]);
  assert.equal(c.ccErrors, 2, 'the skipped packets leave gaps in the counter');
});

test('PES above maxPesBytes are dropped; held bytes never exceed maxPendingBytes', () => {
  let peak = 0;
  const units: MediaUnit[] = [];
  const limits = { maxPesBytes: 1500, maxPendingBytes: 4096 };
  assert.throws(() => new TsDemuxer({ unit: () => {} }, { maxPendingBytes: 1000 }), (e: unknown) => isStromError(e, 'BAD_REQUEST'));
  const d = new TsDemuxer({ unit: (u) => units.push(u) }, limits);
  for (let i = 0; i < source.length; i += 1316) {
    d.push(source.subarray(i, i + 1316));
    peak = Math.max(peak, d.pendingBytes());
  }
  d.flush();
  assert.ok(peak <= limits.maxPendingBytes, `peak ${peak}`);
  const c = d.counters();
  assert.ok(c.droppedPes > 0, 'large frames dropped');
  assert.ok(units.some((u) => u.kind === 'audio' && !u.config), 'small audio PES still pass');
});

test('muxer: a track that appears later gets a new PMT version, which the demuxer follows', () => {
  const audioConfig = clean.units.find((u) => u.kind === 'audio' && u.config)!;
  const rest = clean.units.filter((u) => u !== audioConfig);
  const half = rest.findIndex((u) => u.kind === 'video' && u.keyframe && !u.config && u.dts > rest[0]!.dts); // second keyframe
  const late = [...rest.slice(0, half).filter((u) => u.kind === 'video'), audioConfig, ...rest.slice(half)];
  const m = new TsMuxer();
  const ts = Buffer.concat(late.flatMap((u) => m.push(u)));
  const programs: Array<[number, string[]]> = [];
  const units: MediaUnit[] = [];
  const d = new TsDemuxer({ unit: (u) => units.push(u), program: (p) => programs.push([p.version, p.streams.map((s) => String(s.codec))]) });
  d.push(ts);
  d.flush();
  assert.deepEqual(programs, [[0, ['avc']], [1, ['avc', 'aac']]]);
  assert.equal(units.filter((u) => u.kind === 'audio' && !u.config).length, rest.slice(half).filter((u) => u.kind === 'audio').length);
  assert.equal(units.filter((u) => u.kind === 'video' && !u.config).length, 60);
});
