/**
 * H.264 / H.265 elementary streams from TS (ISO/IEC 13818-1 §2.14 / §2.17: one Annex B access unit
 * per PES) → MediaUnits: length-prefixed NAL units without parameter sets, access unit delimiters
 * or filler data (those have no place in an `avc1`/`hvc1` sample, ISO/IEC 14496-15 §5.3.2 / §8.3.2);
 * keyframe = an IDR picture (H.264 nal_unit_type 5), an H.264 I picture with a recovery point SEI
 * (how open-GOP encoders mark their entry points, Annex D), or an IRAP picture (H.265 types 16…23).
 * The in-band SPS/PPS(/VPS) become a decoder configuration unit, emitted before the first keyframe
 * and again whenever they change. Frames before the first keyframe are dropped: no viewer could
 * decode them.
 */
import type { MediaUnit } from '../../stream/media-unit.js';
import { avcConfigUnit, avcDecoderConfig, avcUnit } from '../flv/unit-builders.js';
import { hevcConfigUnit, hevcDecoderConfig, hevcUnit } from './hevc.js';
import { AVC_NAL, HEVC_NAL, avcHasRecoveryPoint, avcIntraSlice, avcType, hevcType, sameNalus, splitAnnexB } from '../video/nal.js';

/** Parameter sets in force: [VPS, SPS, PPS] (VPS empty for H.264). */
type ParamSets = [Buffer[], Buffer[], Buffer[]];

export class VideoEs {
  private params: ParamSets = [[], [], []];
  private configured = false;
  private started = false;
  /** Access units dropped because no keyframe (or no parameter sets) had come yet. */
  droppedBeforeKeyframe = 0;
  /** Parameter sets that could not be turned into a configuration record. */
  badParameterSets = 0;

  constructor(readonly codec: 'avc' | 'hevc') {}

  /** One access unit in Annex B form; appends its units (a configuration unit first when it changed). */
  push(annexB: Buffer, dts: number, pts: number, out: MediaUnit[]): void {
    const hevc = this.codec === 'hevc';
    const frame: Buffer[] = [];
    const seen: ParamSets = [[], [], []];
    let keyframe = false;
    let recoveryPoint = false;
    let firstSlice: Buffer | null = null;
    for (const nal of splitAnnexB(annexB)) {
      if (nal.length < (hevc ? 2 : 1)) continue;
      const t = hevc ? hevcType(nal) : avcType(nal);
      const ps: number = hevc
        ? (t === HEVC_NAL.VPS ? 0 : t === HEVC_NAL.SPS ? 1 : t === HEVC_NAL.PPS ? 2 : -1)
        : (t === AVC_NAL.SPS ? 1 : t === AVC_NAL.PPS ? 2 : -1);
      if (ps >= 0) {
        const list = seen[ps as 0 | 1 | 2];
        if (!list.some((n) => n.equals(nal))) list.push(nal);
        continue;
      }
      if (hevc ? t === HEVC_NAL.AUD || t === HEVC_NAL.FILLER : t === AVC_NAL.AUD || t === AVC_NAL.FILLER || t === AVC_NAL.SPS_EXT) continue;
      if (hevc ? t >= HEVC_NAL.IRAP_FIRST && t <= HEVC_NAL.IRAP_LAST : t === AVC_NAL.IDR) keyframe = true;
      else if (!hevc && t === AVC_NAL.SEI && !recoveryPoint) recoveryPoint = avcHasRecoveryPoint(nal);
      else if (!hevc && t === AVC_NAL.SLICE) firstSlice ??= nal;
      frame.push(nal);
    }
    if (!keyframe && recoveryPoint && firstSlice !== null) keyframe = avcIntraSlice(firstSlice);
    if (seen[1].length > 0 || seen[2].length > 0 || seen[0].length > 0) this.updateParams(seen, dts, out);
    if (frame.length === 0) return;
    if (!this.started) {
      if (!keyframe || !this.configured) {
        this.droppedBeforeKeyframe++;
        return;
      }
      this.started = true;
    }
    out.push(hevc ? hevcUnit(frame, dts, pts, keyframe) : avcUnit(frame, dts, pts, keyframe));
  }

  /** Merge the parameter sets of one access unit into those in force; emit a config unit on change. */
  private updateParams(seen: ParamSets, dts: number, out: MediaUnit[]): void {
    const next: ParamSets = [0, 1, 2].map((i) => (seen[i]!.length > 0 ? seen[i]! : this.params[i]!)) as ParamSets;
    if (this.configured && next.every((list, i) => sameNalus(list, this.params[i]!))) return;
    const [vps, sps, pps] = next;
    if (sps.length === 0 || pps.length === 0 || (this.codec === 'hevc' && vps.length === 0)) {
      this.params = own(next); // wait for the rest of the set
      return;
    }
    const record = this.codec === 'hevc' ? hevcDecoderConfig(vps, sps, pps) : sps[0]!.length >= 4 ? avcDecoderConfig(sps[0]!, pps) : null;
    if (record === null) {
      this.badParameterSets++;
      return;
    }
    this.params = own(next);
    this.configured = true;
    out.push(this.codec === 'hevc' ? hevcConfigUnit(record, dts) : avcConfigUnit(record, dts));
  }
}

/** Own copies of parameter sets: the NAL units are views of a PES that is not kept. */
function own(p: ParamSets): ParamSets {
  return p.map((list) => list.map((n) => Buffer.from(n))) as ParamSets;
}
