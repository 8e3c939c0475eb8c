/**
 * fMP4 (CMAF) as a pulled HLS source reads it: the init section's tracks (ISO/IEC 14496-12 moov,
 * avcC/hvcC/esds/dOps) and media segments (moof/traf/tfhd/tfdt/trun + mdat). The input is an init
 * section followed by media segments, as a file written with empty_moov + frag_keyframe is.
 */
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { Fmp4Demuxer } from '../../src/live/pull/sources/hls/fmp4-demuxer.js';
import { Fmp4Error } from '../../src/live/pull/sources/hls/fmp4-init.js';
import { invariant, type FuzzTarget } from '../engine/target.js';

/** init() then push() of the same bytes: only Fmp4Error; units have finite times and a payload inside their body. */
export const fmp4: FuzzTarget = {
  name: 'fmp4',
  checks: 'init and push return or throw Fmp4Error only; every unit has finite dts and pts, a payload within its FLV body, and each track sends its decoder configuration before its first sample',
  dict: ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd', 'avc1', 'avcC', 'mp4a', 'esds', 'Opus', 'dOps', 'moof', 'traf', 'tfhd', 'tfdt', 'trun', 'mdat', 'mvex', 'trex', Buffer.from([0, 0, 0, 1]), Buffer.from([0xff, 0xff, 0xff, 0xff])],
  maxLen: 16384,
  run(input) {
    const units: MediaUnit[] = [];
    const d = new Fmp4Demuxer((u) => units.push(u));
    try {
      d.init(input);
      d.push(input);
    } catch (err) {
      invariant(err instanceof Fmp4Error, `unexpected error: ${String(err)}`);
    }
    const configured = new Set<string>();
    for (const u of units) {
      invariant(Number.isFinite(u.dts) && Number.isFinite(u.pts), `unit times ${u.dts}/${u.pts}`);
      invariant(u.payload.length <= u.body.length, 'payload larger than its body');
      if (u.config) configured.add(u.kind);
      else invariant(configured.has(u.kind), `a ${u.kind} sample before its configuration`);
    }
  },
};
