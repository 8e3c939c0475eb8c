/**
 * NAL unit framing for H.264/H.265, shared by the MPEG-TS code, thumbnails and the SPS reader. TS carries the Annex B byte stream
 * (ITU-T H.264 Annex B, H.265 Annex B: start code prefixes 00 00 01, optionally after a zero byte);
 * MediaUnits carry length-prefixed NAL units as in ISO/IEC 14496-15 (AVCC / HVCC, 4-byte lengths)
 * with the parameter sets in a decoder configuration record. Views only, except the RBSP helpers
 * that read a few header fields.
 */

const START_CODE = Buffer.from([0, 0, 1]);
/** A 4-byte start code, as written in front of every NAL unit by the muxer. */
export const START_CODE_4 = Buffer.from([0, 0, 0, 1]);

/** NAL unit types used here (H.264 §7.4.1 Table 7-1). */
export const AVC_NAL = { SLICE: 1, IDR: 5, SEI: 6, SPS: 7, PPS: 8, AUD: 9, FILLER: 12, SPS_EXT: 13 } as const;
/** NAL unit types used here (H.265 §7.4.2.2 Table 7-1); IRAP pictures are types 16…23. */
export const HEVC_NAL = { IRAP_FIRST: 16, IRAP_LAST: 23, VPS: 32, SPS: 33, PPS: 34, AUD: 35, FILLER: 38 } as const;

/** Exp-Golomb bit reader over an RBSP (H.264 §9.1, H.265 §9.2); throws RangeError past the end. */
export class Bits {
  private pos = 0;
  constructor(private readonly b: Buffer) {}
  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.b[this.pos >> 3];
      if (byte === undefined) throw new RangeError('RBSP truncated');
      v = v * 2 + ((byte >> (7 - (this.pos & 7))) & 1);
      this.pos++;
    }
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) if (++zeros > 31) throw new RangeError('bad Exp-Golomb code');
    return 2 ** zeros - 1 + this.u(zeros);
  }
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -k / 2;
  }
}

/** RBSP of NAL unit bytes: emulation_prevention_three_byte removed (H.264 §7.4.1, H.265 §7.4.2). */
export function rbsp(b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(b.length);
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    if (i >= 2 && b[i] === 3 && b[i - 1] === 0 && b[i - 2] === 0) continue;
    out[n++] = b[i]!;
  }
  return out.subarray(0, n);
}

/** True when an H.264 SEI NAL unit carries a recovery_point message (payloadType 6 of §7.3.2.3, Annex D). */
export function avcHasRecoveryPoint(sei: Buffer): boolean {
  const b = rbsp(sei.subarray(1));
  let o = 0;
  while (o < b.length && b[o] !== 0x80) { // 0x80: rbsp_trailing_bits
    let type = 0;
    while (b[o] === 0xff) type += b[o++]!;
    type += b[o++] ?? 0;
    let size = 0;
    while (b[o] === 0xff) size += b[o++]!;
    size += b[o++] ?? 0;
    if (type === 6) return true;
    o += size;
  }
  return false;
}

/** True when an H.264 slice NAL unit is an I or SI slice (slice_type % 5 = 2 or 4, §7.4.3). */
export function avcIntraSlice(slice: Buffer): boolean {
  try {
    const r = new Bits(rbsp(slice.subarray(1, 12)));
    r.ue(); // first_mb_in_slice
    const type = r.ue() % 5;
    return type === 2 || type === 4;
  } catch {
    return false;
  }
}

/** nal_unit_type of an H.264 NAL unit. */
export function avcType(nal: Buffer): number {
  return nal[0]! & 0x1f;
}

/** nal_unit_type of an H.265 NAL unit. */
export function hevcType(nal: Buffer): number {
  return (nal[0]! >> 1) & 0x3f;
}

/**
 * The NAL units of an Annex B byte stream, without start codes and trailing_zero_8bits (a NAL unit
 * never ends in a zero byte, so trailing zeros belong to the next start code). Bytes before the
 * first start code are not a NAL unit and are ignored.
 */
export function splitAnnexB(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = b.indexOf(START_CODE);
  while (i >= 0) {
    const start = i + 3;
    const next = b.indexOf(START_CODE, start);
    let end = next < 0 ? b.length : next;
    while (end > start && b[end - 1] === 0) end--;
    if (end > start) out.push(b.subarray(start, end));
    i = next;
  }
  return out;
}

/** NAL units of a length-prefixed sample (14496-15 §5.3.2); null when a length overruns the sample. */
export function splitLengthPrefixed(b: Buffer, lengthSize = 4): Buffer[] | null {
  const out: Buffer[] = [];
  let o = 0;
  while (o < b.length) {
    if (o + lengthSize > b.length) return null;
    const n = b.readUIntBE(o, lengthSize);
    o += lengthSize;
    if (o + n > b.length) return null;
    if (n > 0) out.push(b.subarray(o, o + n));
    o += n;
  }
  return out;
}

/** Push `count` 16-bit-length-prefixed NAL units of a config record from `o` into `into`; the offset after them, or -1 when one overruns. */
function readNalArray(rec: Buffer, o: number, count: number, into: Buffer[]): number {
  for (let i = 0; i < count; i++) {
    if (o + 2 > rec.length) return -1;
    const n = rec.readUInt16BE(o);
    if (o + 2 + n > rec.length) return -1;
    into.push(rec.subarray(o + 2, o + 2 + n));
    o += 2 + n;
  }
  return o;
}

/** Parameter sets and lengthSizeMinusOne + 1 of an AVCDecoderConfigurationRecord (14496-15 §5.3.3.1). */
export function parseAvcConfig(rec: Buffer): { nalus: Buffer[]; lengthSize: number } | null {
  if (rec.length < 7 || rec[0] !== 1) return null;
  const nalus: Buffer[] = [];
  let o = 5;
  for (const countMask of [0x1f, 0xff]) {
    if (o >= rec.length) return null;
    const count = rec[o++]! & countMask;
    o = readNalArray(rec, o, count, nalus);
    if (o < 0) return null;
  }
  return { nalus, lengthSize: (rec[4]! & 3) + 1 };
}

/** NAL units of the arrays and lengthSizeMinusOne + 1 of an HEVCDecoderConfigurationRecord (14496-15 §8.3.3.1). */
export function parseHevcConfig(rec: Buffer): { nalus: Buffer[]; lengthSize: number } | null {
  if (rec.length < 23 || rec[0] !== 1) return null;
  const nalus: Buffer[] = [];
  const arrays = rec[22]!;
  let o = 23;
  for (let a = 0; a < arrays; a++) {
    if (o + 3 > rec.length) return null;
    o = readNalArray(rec, o + 3, rec.readUInt16BE(o + 1), nalus);
    if (o < 0) return null;
  }
  return { nalus, lengthSize: (rec[21]! & 3) + 1 };
}

/** True when two lists hold the same NAL units. */
export function sameNalus(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  return a.length === b.length && a.every((n, i) => n.equals(b[i]!));
}
