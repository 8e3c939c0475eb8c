/**
 * ADTS (ISO/IEC 14496-3 §1.A.2.2 adts_fixed_header / adts_variable_header) — how raw AAC frames
 * travel through a pipe to and from ffmpeg (`-f aac` in, `-f adts` out). FLV/RTMP carry raw frames
 * plus one AudioSpecificConfig (§1.6.2.1); ADTS repeats the needed part of that config in a 7-byte
 * header before every frame. ADTS can only express object types 1–4 (profile = type − 1) and the
 * 13 indexed sample rates, so an ASC outside that range cannot be bridged (`ascToAdts` returns null).
 */

/** Sampling frequencies by index (§1.6.3.4 Table 1.18). */
export const AAC_SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350] as const;

/** The fields an ADTS header repeats. */
export interface AdtsConfig {
  /** audioObjectType (1 = Main, 2 = LC, 3 = SSR, 4 = LTP). */
  objectType: number;
  sampleRateIndex: number;
  channels: number;
}

/** The ADTS-expressible part of an AudioSpecificConfig, or null (escape codes, explicit rate, >7 ch). */
export function ascToAdts(asc: Buffer): AdtsConfig | null {
  if (asc.length < 2) return null;
  const objectType = asc[0]! >> 3;
  const sampleRateIndex = ((asc[0]! & 7) << 1) | (asc[1]! >> 7);
  const channels = (asc[1]! >> 3) & 0x0f;
  if (objectType < 1 || objectType > 4 || sampleRateIndex >= AAC_SAMPLE_RATES.length || channels < 1 || channels > 7) return null;
  return { objectType, sampleRateIndex, channels };
}

/** The 2-byte AudioSpecificConfig of an ADTS config (§1.6.2.1: type 5 bits, index 4, channels 4). */
export function adtsToAsc(c: AdtsConfig): Buffer {
  const v = (c.objectType << 11) | (c.sampleRateIndex << 7) | (c.channels << 3);
  return Buffer.from([v >> 8, v & 0xff]);
}

/** A 7-byte ADTS header (no CRC) for a raw frame of `frameBytes`. */
export function adtsHeader(c: AdtsConfig, frameBytes: number): Buffer {
  const len = frameBytes + 7;
  if (len > 0x1fff) throw new RangeError(`AAC frame of ${frameBytes} bytes does not fit an ADTS frame`);
  const h = Buffer.allocUnsafe(7);
  h[0] = 0xff;
  h[1] = 0xf1; // syncword low nibble, ID 0 (MPEG-4), layer 00, protection_absent 1
  h[2] = ((c.objectType - 1) << 6) | (c.sampleRateIndex << 2) | (c.channels >> 2);
  h[3] = ((c.channels & 3) << 6) | (len >> 11);
  h[4] = (len >> 3) & 0xff;
  h[5] = ((len & 7) << 5) | 0x1f; // buffer fullness 0x7FF (VBR)
  h[6] = 0xfc; // fullness low bits, number_of_raw_data_blocks_in_frame 0
  return h;
}

/** One frame found in an ADTS stream. */
export interface AdtsFrame {
  config: AdtsConfig;
  /** The raw AAC frame (header and CRC removed). */
  frame: Buffer;
}

/** Incremental ADTS parser: push bytes, get whole frames; resynchronises on the sync word. */
export class AdtsParser {
  /** Bytes skipped looking for a sync word. */
  skipped = 0;
  private buf: Buffer = Buffer.alloc(0);

  /** Feed bytes; returns the frames completed by them. */
  push(chunk: Buffer): AdtsFrame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: AdtsFrame[] = [];
    let off = 0;
    while (this.buf.length - off >= 7) {
      const b = this.buf;
      if (b[off] !== 0xff || (b[off + 1]! & 0xf6) !== 0xf0) {
        off++;
        this.skipped++;
        continue;
      }
      const protectionAbsent = b[off + 1]! & 1;
      const len = ((b[off + 3]! & 3) << 11) | (b[off + 4]! << 3) | (b[off + 5]! >> 5);
      const headLen = protectionAbsent ? 7 : 9;
      const config: AdtsConfig = {
        objectType: (b[off + 2]! >> 6) + 1,
        sampleRateIndex: (b[off + 2]! >> 2) & 0x0f,
        channels: ((b[off + 2]! & 1) << 2) | (b[off + 3]! >> 6),
      };
      if (len < headLen || config.sampleRateIndex >= AAC_SAMPLE_RATES.length) {
        off++;
        this.skipped++;
        continue;
      }
      if (b.length - off < len) break;
      out.push({ config, frame: Buffer.from(b.subarray(off + headLen, off + len)) });
      off += len;
    }
    this.buf = this.buf.subarray(off);
    return out;
  }
}
