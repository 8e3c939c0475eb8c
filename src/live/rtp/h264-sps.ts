/**
 * Picture size from an H.264 SPS (ITU-T H.264 §7.3.2.1.1), so WHIP streams report width/height
 * like RTMP ones do through onMetaData (API status, CMAF `tkhd`). Only the fields before
 * frame_cropping are walked; emulation-prevention bytes (§7.4.1) are removed first.
 */
import { Bits, parseAvcConfig, rbsp } from '../formats/video/nal.js';

/** Width and height in pixels of an SPS NAL unit (with its 1-byte header), or null if unreadable. */
export function spsSize(sps: Buffer): { width: number; height: number } | null {
  try {
    const r = new Bits(rbsp(sps.subarray(1)));
    const profile = r.u(8);
    r.u(16); // constraint flags, level_idc
    r.ue(); // seq_parameter_set_id
    let chroma = 1;
    if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
      chroma = r.ue();
      if (chroma === 3) r.u(1);
      r.ue(); // bit_depth_luma
      r.ue(); // bit_depth_chroma
      r.u(1);
      if (r.u(1)) {
        for (let i = 0; i < (chroma === 3 ? 12 : 8); i++) {
          if (!r.u(1)) continue;
          let last = 8;
          let next = 8;
          for (let j = 0; j < (i < 6 ? 16 : 64) && next !== 0; j++) {
            next = (last + r.se() + 256) % 256;
            if (next !== 0) last = next;
          }
        }
      }
    }
    r.ue(); // log2_max_frame_num
    const pocType = r.ue();
    if (pocType === 0) r.ue();
    else if (pocType === 1) {
      r.u(1);
      r.se();
      r.se();
      const n = r.ue();
      for (let i = 0; i < n; i++) r.se();
    }
    r.ue(); // max_num_ref_frames
    r.u(1);
    const wMbs = r.ue() + 1;
    const hMapUnits = r.ue() + 1;
    const frameMbsOnly = r.u(1);
    if (!frameMbsOnly) r.u(1);
    r.u(1);
    let [cl, cr, ct, cb] = [0, 0, 0, 0];
    if (r.u(1)) [cl, cr, ct, cb] = [r.ue(), r.ue(), r.ue(), r.ue()];
    const cx = chroma === 0 ? 1 : chroma === 3 ? 1 : 2;
    const cy = (chroma === 1 ? 2 : 1) * (2 - frameMbsOnly);
    return { width: wMbs * 16 - cx * (cl + cr), height: (2 - frameMbsOnly) * hMapUnits * 16 - cy * (ct + cb) };
  } catch {
    return null;
  }
}

/** Picture size from the SPS in an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1); null without a usable SPS. */
export function avcConfigSize(record: Buffer): { width: number; height: number } | null {
  const sps = parseAvcConfig(record)?.nalus.find((n) => (n[0]! & 0x1f) === 7);
  return sps === undefined ? null : spsSize(sps);
}
