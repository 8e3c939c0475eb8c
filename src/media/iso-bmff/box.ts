/**
 * ISO BMFF box primitives (ISO/IEC 14496-12 §4.2): a box is a 32-bit size, a FourCC and its
 * payload; a FullBox adds an 8-bit version and 24-bit flags. Every box writer built on them is a
 * pure function returning one Buffer built from these, so sizes are always measured, never guessed.
 * Shared by the live CMAF packager (src/live/formats/cmaf) and VOD content protection (src/vod/protection).
 */

/** A box (§4.2 Box): size + type + the concatenated payload parts. */
export function box(type: string, ...parts: readonly Buffer[]): Buffer {
  let size = 8;
  for (const p of parts) size += p.length;
  const head = Buffer.allocUnsafe(8);
  head.writeUInt32BE(size, 0);
  head.write(type, 4, 4, 'latin1');
  return Buffer.concat([head, ...parts], size);
}

/** A full box (§4.2 FullBox): version and flags precede the payload. */
export function fullBox(type: string, version: number, flags: number, ...parts: readonly Buffer[]): Buffer {
  const vf = Buffer.allocUnsafe(4);
  vf.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), 0);
  return box(type, vf, ...parts);
}

/** Big-endian unsigned 8-bit values. */
export function u8(...v: number[]): Buffer {
  return Buffer.from(v);
}

/** Big-endian unsigned 16-bit values. */
export function u16(...v: number[]): Buffer {
  const b = Buffer.allocUnsafe(2 * v.length);
  v.forEach((x, i) => b.writeUInt16BE(x & 0xffff, 2 * i));
  return b;
}

/** Big-endian unsigned 32-bit values (the value is taken modulo 2^32). */
export function u32(...v: number[]): Buffer {
  const b = Buffer.allocUnsafe(4 * v.length);
  v.forEach((x, i) => b.writeUInt32BE(x >>> 0, 4 * i));
  return b;
}

/** A big-endian unsigned 64-bit value from a non-negative safe integer. */
export function u64(v: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.round(v))), 0);
  return b;
}

/** `n` zero bytes (reserved fields). */
export function zeros(n: number): Buffer {
  return Buffer.alloc(n);
}

/** The 3×3 unity transformation matrix of mvhd/tkhd (§8.2.2, §8.3.2). */
export const UNITY_MATRIX = u32(0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000);
