/**
 * CMAF chunks: one `moof` + `mdat` per call (ISO/IEC 14496-12 §8.8.4–§8.8.12, SPECS.md "fMP4 /
 * CMAF"). Every traf uses default-base-is-moof (tfhd flag 0x020000), so data offsets are relative
 * to the moof start and a chunk can be appended to MSE on its own; tfdt is version 1 (64-bit decode
 * time) and trun is version 1 (signed composition offsets, B-frames) with per-sample duration,
 * size, flags and composition offset. The moof is measured before the mdat is laid out: its size
 * does not depend on the offset values, so it is built once with zero offsets, then for real.
 */
import { box, fullBox, u32, u64 } from '../../../media/iso-bmff/box.js';

/** One sample of a track run, in the track's timescale. */
export interface CmafSample {
  duration: number;
  size: number;
  /** Sync sample (keyframe); audio samples are always sync. */
  sync: boolean;
  /** pts − dts in the track timescale (may be negative with trun version 1). */
  cto: number;
}

/** The samples of one track in one chunk, with their payloads in decode order. */
export interface TrackRun {
  trackId: number;
  /** Decode time of the first sample (tfdt), in the track timescale. */
  baseDecodeTime: number;
  samples: CmafSample[];
  data: Buffer[];
}

/** sample_flags (§8.8.3.1): sync → depends_on=2; others → depends_on=1, is_non_sync_sample. */
export function sampleFlags(sync: boolean): number {
  return sync ? 0x02000000 : 0x01010000;
}

/** `mfhd` (§8.8.5): the fragment sequence number (increasing per chunk). */
export function mfhd(sequence: number): Buffer {
  return fullBox('mfhd', 0, 0, u32(sequence));
}

/** `tfhd` (§8.8.7) with default-base-is-moof and nothing else defaulted. */
export function tfhd(trackId: number): Buffer {
  return fullBox('tfhd', 0, 0x020000, u32(trackId));
}

/** `tfdt` (§8.8.12) version 1: 64-bit baseMediaDecodeTime. */
export function tfdt(baseDecodeTime: number): Buffer {
  return fullBox('tfdt', 1, 0, u64(baseDecodeTime));
}

/** `trun` (§8.8.8) version 1, flags data-offset|duration|size|flags|composition-offset (0xF01). */
export function trun(samples: readonly CmafSample[], dataOffset: number): Buffer {
  const b = Buffer.allocUnsafe(8 + 16 * samples.length);
  b.writeUInt32BE(samples.length, 0);
  b.writeInt32BE(dataOffset, 4);
  let o = 8;
  for (const s of samples) {
    b.writeUInt32BE(s.duration >>> 0, o);
    b.writeUInt32BE(s.size >>> 0, o + 4);
    b.writeUInt32BE(sampleFlags(s.sync) >>> 0, o + 8);
    b.writeInt32BE(s.cto | 0, o + 12);
    o += 16;
  }
  return fullBox('trun', 1, 0xf01, b);
}

/** `traf` (§8.8.6): tfhd + tfdt + trun. */
export function traf(run: TrackRun, dataOffset: number): Buffer {
  return box('traf', tfhd(run.trackId), tfdt(run.baseDecodeTime), trun(run.samples, dataOffset));
}

/** `moof` (§8.8.4); `offsets[i]` is the data offset of `runs[i]` from the moof's first byte. */
export function moof(sequence: number, runs: readonly TrackRun[], offsets: readonly number[]): Buffer {
  return box('moof', mfhd(sequence), ...runs.map((r, i) => traf(r, offsets[i] ?? 0)));
}

/** One CMAF chunk: moof + mdat (§8.1.1) holding each run's samples, tracks one after another. */
export function fragment(sequence: number, runs: readonly TrackRun[]): Buffer {
  const present = runs.filter((r) => r.samples.length > 0);
  const moofSize = moof(sequence, present, []).length;
  const offsets: number[] = [];
  let at = moofSize + 8; // first byte after the mdat header
  for (const r of present) {
    offsets.push(at);
    for (const d of r.data) at += d.length;
  }
  return Buffer.concat([moof(sequence, present, offsets), box('mdat', ...present.flatMap((r) => r.data))]);
}
