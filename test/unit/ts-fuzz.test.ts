/**
 * Seeded fuzzing of the TS demuxer (and of the muxer behind it): a few thousand inputs made from
 * real ffmpeg transport streams by bit flips, truncation, duplication, garbage, packet reordering
 * and header rewrites, pushed in random chunks. The public API must never throw (a typed StromError
 * from the muxer is the only exception allowed), held bytes must stay within the configured limits
 * after every push, and every unit that comes out must be well-formed: config first on each track,
 * finite non-negative times with pts ≥ dts and dts that never go back, parseable NAL unit lengths.
 * A failing case names its seed and case number: the same seed reproduces it exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { isStromError } from '../../src/errors.js';
import { splitLengthPrefixed } from '../../src/live/formats/video/nal.js';
import { TsDemuxer } from '../../src/live/formats/ts/ts-demuxer.js';
import { TsMuxer } from '../../src/live/formats/ts/ts-muxer.js';
import { ffmpegTs, hasEncoder, prng, tempDir, type Variant } from './ts-fixtures.js';

const SEED = 0x5eed7;
const CASES = 3000;
/** Loose limits let most frames through; tight ones (below a keyframe's size) make the limits bite. */
const LIMITS = [{ maxPesBytes: 16 * 1024, maxPendingBytes: 24 * 1024 }, { maxPesBytes: 3500, maxPendingBytes: 4096 }];

const dir = tempDir();
const variants: Variant[] = ['h264-aac', 'hevc-aac', ...(hasEncoder('libopus') ? ['h264-opus' as const] : [])];
const sources = variants.map((v) => readFileSync(ffmpegTs(dir, v, 1)));

type Rnd = () => number;
const int = (r: Rnd, n: number) => Math.floor(r() * n);

/** One mutation of `b`; which one is drawn from the PRNG. */
function mutate(b: Buffer, r: Rnd): Buffer {
  switch (int(r, 7)) {
    case 0: { // bit flips
      const out = Buffer.from(b);
      for (let n = 1 + int(r, 30); n > 0; n--) {
        const i = int(r, out.length);
        out[i] = out[i]! ^ (1 << int(r, 8));
      }
      return out;
    }
    case 1: return b.subarray(0, int(r, b.length)); // truncation
    case 2: { // a range cut out
      const a = int(r, b.length);
      return Buffer.concat([b.subarray(0, a), b.subarray(a + int(r, 5000))]);
    }
    case 3: { // a range duplicated somewhere else
      const a = int(r, b.length);
      const len = int(r, 4000);
      const at = int(r, b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(a, a + len), b.subarray(at)]);
    }
    case 4: { // random garbage (with sync bytes sprinkled in) inserted
      const g = Buffer.from(Array.from({ length: 1 + int(r, 2000) }, () => (r() < 0.1 ? 0x47 : int(r, 256))));
      const at = int(r, b.length);
      return Buffer.concat([b.subarray(0, at), g, b.subarray(at)]);
    }
    case 5: { // whole packets swapped
      const out = Buffer.from(b);
      const n = Math.floor(out.length / 188);
      for (let k = 1 + int(r, 20); k > 0; k--) {
        const x = int(r, n) * 188;
        const y = int(r, n) * 188;
        const tmp = Buffer.from(out.subarray(x, x + 188));
        out.copy(out, x, y, y + 188);
        tmp.copy(out, y);
      }
      return out;
    }
    default: { // packet headers rewritten: PID, flags, counters, adaptation field lengths, PES/PSI starts
      const out = Buffer.from(b);
      const n = Math.floor(out.length / 188);
      for (let k = 1 + int(r, 40); k > 0; k--) {
        const at = int(r, n) * 188 + 1 + int(r, 12);
        out[at] = int(r, 256);
      }
      return out;
    }
  }
}

/** Checks every unit as it arrives. */
class UnitChecker {
  private readonly configured = new Set<string>();
  private readonly last = new Map<string, number>();
  count = 0;

  check(u: MediaUnit, where: string): void {
    this.count++;
    assert.ok(u.kind === 'video' || u.kind === 'audio', where);
    assert.ok(['avc', 'hevc', 'aac', 'opus'].includes(u.codec), `${where}: codec ${u.codec}`);
    assert.ok(Number.isFinite(u.dts) && Number.isFinite(u.pts) && u.dts >= 0 && u.pts >= u.dts, `${where}: times ${u.dts}/${u.pts}`);
    assert.ok(Buffer.isBuffer(u.payload) && Buffer.isBuffer(u.body) && u.body.length >= u.payload.length, `${where}: buffers`);
    if (u.config) this.configured.add(u.kind);
    else assert.ok(this.configured.has(u.kind), `${where}: ${u.kind} media before its configuration`);
    const prev = this.last.get(u.kind) ?? -Infinity;
    assert.ok(u.dts >= prev, `${where}: ${u.kind} dts ${u.dts} after ${prev}`);
    this.last.set(u.kind, u.dts);
    if (u.kind === 'video' && !u.config) assert.ok(splitLengthPrefixed(u.payload) !== null, `${where}: NAL unit lengths`);
  }
}

test(`seeded fuzz: ${CASES} mutated ffmpeg transport streams never break the demuxer or the muxer (seed ${SEED})`, () => {
  const r = prng(SEED);
  let typed = 0;
  const totals = { ccErrors: 0, resyncs: 0, droppedPes: 0, psiCrcErrors: 0, units: 0 };
  const warned = new Map<string, number>();
  for (let c = 0; c < CASES; c++) {
    const where = `seed ${SEED} case ${c}`;
    let input: Buffer = sources[c % sources.length]!;
    for (let m = 1 + int(r, 3); m > 0; m--) input = mutate(input, r);
    const checker = new UnitChecker();
    const collected: MediaUnit[] = [];
    const limits = LIMITS[c % 2]!;
    const d = new TsDemuxer({
      unit: (u) => (checker.check(u, where), collected.push(u)),
      warning: (w) => warned.set(w.code, (warned.get(w.code) ?? 0) + 1),
    }, limits);
    for (let i = 0; i < input.length;) {
      const n = 1 + int(r, r() < 0.5 ? 1316 : 8000);
      d.push(input.subarray(i, i + n));
      i += n;
      const held = d.pendingBytes();
      assert.ok(held <= limits.maxPendingBytes, `${where}: ${held} bytes held`);
    }
    d.flush();
    assert.equal(checker.count, d.counters().units);
    const k = d.counters();
    for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += k[key];

    // Whatever came out can be muxed again; only a typed error (a configuration TS cannot express) may stop a unit.
    const mux = new TsMuxer();
    for (const u of collected) {
      try {
        for (const chunk of mux.push(u)) assert.ok(chunk.length % 188 === 0 && chunk.length <= 1316, where);
      } catch (e) {
        assert.ok(isStromError(e), `${where}: muxer threw ${String(e)}`);
        typed++;
      }
    }
  }
  assert.ok(totals.units > CASES * 20, `units came through (${totals.units})`);
  assert.ok(totals.ccErrors > 0 && totals.resyncs > 0 && totals.droppedPes > 0 && totals.psiCrcErrors > 0, `damage was seen and counted: ${JSON.stringify(totals)}`);
  for (const code of ['pes-too-large', 'pending-limit', 'cc-error', 'sync-lost', 'psi-crc']) assert.ok((warned.get(code) ?? 0) > 0, `warning ${code} seen`);
  assert.ok(typed < CASES, `typed muxer errors: ${typed}`);
});
