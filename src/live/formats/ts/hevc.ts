/**
 * H.265 for Strom's units: the HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1) built
 * from in-band VPS/SPS/PPS, with the profile/tier/level, chroma format and bit depths read from the
 * SPS (H.265 §7.3.2.2.1, profile_tier_level §7.3.3), and the units' FLV bodies as Enhanced RTMP v2
 * ExVideoTagHeader with FourCC `hvc1` (there is no legacy FLV HEVC codec id) — the shape
 * `videoToUnit` reads, so HEVC from TS reaches every output the way HEVC from RTMP does.
 */
import type { MediaUnit } from '../../stream/media-unit.js';
import { Bits, rbsp } from '../video/nal.js';

/** What the configuration record repeats from the SPS. */
export interface HevcSpsInfo {
  /** general_profile_space … general_level_idc: the 12 bytes of profile_tier_level's general part. */
  generalPtl: Buffer;
  numTemporalLayers: number;
  temporalIdNested: boolean;
  chromaFormat: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  width: number;
  height: number;
}

/** Read the SPS fields the record needs; null when the SPS is truncated or malformed. */
export function hevcSpsInfo(sps: Buffer): HevcSpsInfo | null {
  try {
    const b = rbsp(sps.subarray(2)); // 2-byte NAL unit header
    if (b.length < 13) return null;
    const maxSubLayersMinus1 = (b[0]! >> 1) & 7;
    const r = new Bits(b.subarray(13));
    const profilePresent: boolean[] = [];
    const levelPresent: boolean[] = [];
    for (let i = 0; i < maxSubLayersMinus1; i++) {
      profilePresent.push(r.u(1) === 1);
      levelPresent.push(r.u(1) === 1);
    }
    if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.u(2);
    for (let i = 0; i < maxSubLayersMinus1; i++) {
      if (profilePresent[i]) r.u(88);
      if (levelPresent[i]) r.u(8);
    }
    r.ue(); // sps_seq_parameter_set_id
    const chromaFormat = r.ue();
    if (chromaFormat === 3) r.u(1); // separate_colour_plane_flag
    const width = r.ue();
    const height = r.ue();
    if (r.u(1)) for (let i = 0; i < 4; i++) r.ue(); // conformance window (kept out of width/height)
    const bitDepthLuma = r.ue() + 8;
    const bitDepthChroma = r.ue() + 8;
    return {
      generalPtl: Buffer.from(b.subarray(1, 13)), numTemporalLayers: maxSubLayersMinus1 + 1, temporalIdNested: (b[0]! & 1) === 1,
      chromaFormat, bitDepthLuma, bitDepthChroma, width, height,
    };
  } catch {
    return null;
  }
}

/** HEVCDecoderConfigurationRecord with complete VPS/SPS/PPS arrays (as `hvc1` requires); null if the SPS is unreadable. */
export function hevcDecoderConfig(vps: readonly Buffer[], sps: readonly Buffer[], pps: readonly Buffer[]): Buffer | null {
  const info = sps[0] === undefined ? null : hevcSpsInfo(sps[0]);
  if (info === null) return null;
  const head = Buffer.alloc(23);
  head[0] = 1; // configurationVersion
  info.generalPtl.copy(head, 1); // profile space/tier/idc, compatibility flags, constraint flags, level
  head.writeUInt16BE(0xf000, 13); // reserved '1111', min_spatial_segmentation_idc 0 (unknown)
  head[15] = 0xfc; // reserved, parallelismType 0 (unknown)
  head[16] = 0xfc | (info.chromaFormat & 3);
  head[17] = 0xf8 | ((info.bitDepthLuma - 8) & 7);
  head[18] = 0xf8 | ((info.bitDepthChroma - 8) & 7);
  head.writeUInt16BE(0, 19); // avgFrameRate: unspecified
  head[21] = ((info.numTemporalLayers & 7) << 3) | (info.temporalIdNested ? 4 : 0) | 3; // constantFrameRate 0, lengthSizeMinusOne 3
  const arrays: Array<[number, readonly Buffer[]]> = [[32, vps], [33, sps], [34, pps]];
  const parts: Buffer[] = [head];
  let count = 0;
  for (const [type, nalus] of arrays) {
    if (nalus.length === 0) continue;
    count++;
    const a = Buffer.alloc(3);
    a[0] = 0x80 | type; // array_completeness 1
    a.writeUInt16BE(nalus.length, 1);
    parts.push(a);
    for (const n of nalus) parts.push(Buffer.from([n.length >> 8, n.length & 0xff]), n);
  }
  head[22] = count;
  return Buffer.concat(parts);
}

const HVC1 = Buffer.from('hvc1', 'latin1');

/**
 * An HEVC access unit from its NAL units, times in ms: Enhanced RTMP CodedFrames
 * ([isExHeader|frameType|packetType 1] `hvc1` SI24 composition time, then 4-byte-length NAL units),
 * written into one allocation.
 */
export function hevcUnit(nalus: readonly Buffer[], dts: number, pts: number, keyframe: boolean): MediaUnit {
  let size = 8;
  for (const n of nalus) size += 4 + n.length;
  const body = Buffer.allocUnsafe(size);
  body[0] = 0x80 | ((keyframe ? 1 : 2) << 4) | 1;
  HVC1.copy(body, 1);
  body.writeIntBE(Math.round(pts - dts), 5, 3);
  let off = 8;
  for (const n of nalus) {
    body.writeUInt32BE(n.length, off);
    n.copy(body, off + 4);
    off += 4 + n.length;
  }
  return { kind: 'video', codec: 'hevc', dts, pts, keyframe, config: false, payload: body.subarray(8), body };
}

/** An HEVC sequence header (Enhanced RTMP SequenceStart) carrying an HEVCDecoderConfigurationRecord. */
export function hevcConfigUnit(record: Buffer, dts: number): MediaUnit {
  const body = Buffer.concat([Buffer.from([0x90]), HVC1, record]);
  return { kind: 'video', codec: 'hevc', dts, pts: dts, keyframe: true, config: true, payload: body.subarray(5), body };
}
