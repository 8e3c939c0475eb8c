/**
 * The MPEG-TS demuxer (ISO/IEC 13818-1 §2.4) as SRT publishers feed it: any bytes in any chunking.
 */
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { TsDemuxer } from '../../src/live/formats/ts/ts-demuxer.js';
import { invariant, type FuzzTarget } from '../engine/target.js';

const LIMITS = { maxPesBytes: 4096, maxPendingBytes: 8192 };

/** Push in pieces, then flush: no throw, held bytes within the limit, units well-formed and in order. */
export const tsDemux: FuzzTarget = {
  name: 'ts-demux',
  checks: 'push/flush never throw; the same units whether the stream arrives whole or in pieces; pendingBytes() ≤ maxPendingBytes after every push; units have finite dts ≥ 0, pts ≥ dts, per-track dts never goes back, payload ≤ maxPesBytes',
  dict: [Buffer.from([0x47, 0x40, 0x00, 0x10]), Buffer.from([0x47, 0x50, 0x00, 0x10]), Buffer.from([0x47, 0x41, 0x00, 0x30]), Buffer.from([0x47, 0x01, 0x00, 0x10]), Buffer.from([0, 0, 1, 0xe0]), Buffer.from([0, 0, 1, 0xc0]), Buffer.from([0x1b]), Buffer.from([0x0f]), Buffer.from([0x24]), Buffer.from([0xff, 0xf1]), Buffer.from([0, 0, 0, 1, 0x65])],
  maxLen: 188 * 64,
  run(input) {
    const split = demux(input, (k) => 1 + ((input[k % input.length]! * 31 + k) % 1400));
    const whole = demux(input, () => input.length);
    // SRT and TCP cut the stream anywhere: where it is cut must not change the units.
    invariant(split.join() === whole.join(), `split input gave ${split.length} units, whole input ${whole.length}`);
  },
};

/** Demuxes `input` pushed in pieces of `size(k)` bytes, checking every unit; unit signatures. */
function demux(input: Buffer, size: (k: number) => number): string[] {
  const last = new Map<string, number>();
  const sigs: string[] = [];
  const check = (u: MediaUnit): void => {
    invariant(Number.isFinite(u.dts) && u.dts >= 0 && u.pts >= u.dts, `unit dts ${u.dts} pts ${u.pts}`);
    invariant(u.payload.length <= LIMITS.maxPesBytes, `unit of ${u.payload.length} bytes over maxPesBytes`);
    const prev = last.get(u.kind);
    invariant(prev === undefined || u.dts >= prev, `${u.kind} dts went back from ${prev} to ${u.dts}`);
    last.set(u.kind, u.dts);
    sigs.push(`${u.kind}/${u.codec}/${u.dts}/${u.pts}/${u.keyframe}/${u.payload.length}`);
  };
  const d = new TsDemuxer({ unit: check }, LIMITS);
  for (let i = 0, k = 0; i < input.length; k++) {
    const n = size(k);
    d.push(input.subarray(i, i + n));
    invariant(d.pendingBytes() <= LIMITS.maxPendingBytes, `demuxer holds ${d.pendingBytes()} bytes, limit ${LIMITS.maxPendingBytes}`);
    i += n;
  }
  d.flush();
  return sigs;
}
