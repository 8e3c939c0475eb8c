/**
 * Sample encryption of the CMAF `cbcs` scheme (ISO/IEC 23001-7 §10.4): AES-128-CBC with the
 * constant IV restarting every subsample (every sample for audio), chained only through the
 * encrypted blocks of a pattern, and a trailing partial block never encrypted.
 *
 * - Video (AVC, §10.4.2 with the NAL structure of ISO/IEC 14496-15): subsample encryption with a
 *   1:9 pattern. Every NAL unit's length field, header and slice header stay clear: a slice NAL
 *   keeps its first 32 bytes clear (the NAL header plus 31 bytes — the slice headers x264 writes
 *   for Strom's ladders measure under 10 bytes, `ffmpeg -bsf:v trace_headers`), and the clear
 *   part is extended so each protected range is a whole number of 16-byte blocks; other NAL units
 *   (SPS, PPS, SEI, AUD) stay entirely clear.
 * - Audio (AAC): whole-sample encryption, pattern 0:0 — every full 16-byte block, no subsamples.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

/** One subsample (CENC §7.2 `senc` entry): clear bytes then protected bytes. */
export interface Subsample {
  clear: number;
  protected: number;
}

/** Clear bytes at the start of a slice NAL unit (header + slice header), before the pattern starts. */
export const SLICE_CLEAR_BYTES = 32;
const MAX_CLEAR = 0xffff;

/** The subsamples of an AVC sample with `lengthSize`-byte NAL length fields (avcC lengthSizeMinusOne + 1). */
export function avcSubsamples(sample: Buffer, lengthSize: number): Subsample[] {
  const out: Subsample[] = [];
  let clear = 0;
  for (let at = 0; at < sample.length;) {
    if (at + lengthSize > sample.length) throw new RangeError(`truncated NAL length at byte ${at} of a ${sample.length}-byte sample`);
    const size = sample.readUIntBE(at, lengthSize);
    if (at + lengthSize + size > sample.length) throw new RangeError(`NAL unit of ${size} bytes overruns its sample at byte ${at}`);
    const type = (sample[at + lengthSize] ?? 0) & 0x1f;
    const slice = type >= 1 && type <= 5; // coded slices (ISO/IEC 14496-10 Table 7-1)
    const protectedBytes = slice && size > SLICE_CLEAR_BYTES ? Math.floor((size - SLICE_CLEAR_BYTES) / 16) * 16 : 0;
    clear += lengthSize + size - protectedBytes;
    if (protectedBytes > 0) {
      while (clear > MAX_CLEAR) {
        out.push({ clear: MAX_CLEAR, protected: 0 });
        clear -= MAX_CLEAR;
      }
      out.push({ clear, protected: protectedBytes });
      clear = 0;
    }
    at += lengthSize + size;
  }
  while (clear > 0) {
    const n = Math.min(clear, MAX_CLEAR);
    out.push({ clear: n, protected: 0 });
    clear -= n;
  }
  return out;
}

/**
 * AES-128 on single blocks (ECB, no padding), one per segment: CBC is chained here by hand because
 * cbcs restarts the IV at every subsample, and a new CBC cipher object per subsample (per AAC frame)
 * costs more than the encryption itself.
 */
export interface BlockCipher {
  readonly decrypt: boolean;
  block(b: Buffer): Buffer;
}

/** A block cipher for `key`. */
export function blockCipher(key: Buffer, decrypt: boolean): BlockCipher {
  const c = (decrypt ? createDecipheriv : createCipheriv)('aes-128-ecb', key, null).setAutoPadding(false);
  return { decrypt, block: (b) => c.update(b) };
}

/** CBC over the pattern's encrypted blocks of `len` bytes at `start` (in place), from `iv`: crypt:skip blocks (0:0 = every block). */
function pattern(buf: Buffer, start: number, len: number, c: BlockCipher, iv: Buffer, crypt: number, skip: number): void {
  const blocks = Math.floor(len / 16);
  const run = crypt === 0 ? blocks : crypt;
  const stride = crypt === 0 ? Math.max(1, blocks) : crypt + skip;
  let chain = iv;
  const x = Buffer.allocUnsafe(16);
  for (let b = 0; b < blocks; b += stride) {
    for (let i = b; i < Math.min(b + run, blocks); i++) {
      const at = start + i * 16;
      const block = buf.subarray(at, at + 16);
      if (c.decrypt) {
        const next = Buffer.from(block);
        const out = c.block(block);
        for (let k = 0; k < 16; k++) buf[at + k] = out[k]! ^ chain[k]!;
        chain = next;
      } else {
        for (let k = 0; k < 16; k++) x[k] = block[k]! ^ chain[k]!;
        chain = c.block(x);
        chain.copy(buf, at);
      }
    }
  }
}

/**
 * Encrypt (or, with a decrypting cipher, decrypt) one sample in place; `subsamples` null means
 * whole-sample encryption. The IV restarts at every subsample; CBC chains through that subsample's
 * encrypted blocks only.
 */
export function cryptSample(sample: Buffer, subsamples: readonly Subsample[] | null, c: BlockCipher, iv: Buffer, crypt: number, skip: number): void {
  const ranges = subsamples ?? [{ clear: 0, protected: sample.length }];
  let at = 0;
  for (const s of ranges) {
    at += s.clear;
    if (s.protected > 0) pattern(sample, at, s.protected, c, iv, crypt, skip);
    at += s.protected;
  }
}
