/**
 * AAC in TS (stream_type 0x0F: ADTS, ISO/IEC 14496-3 §1.A.2.2) → MediaUnits: raw frames after an
 * AudioSpecificConfig unit (again when the ADTS fields change). A PES commonly holds several ADTS
 * frames (ffmpeg packs ~2.9 kB): the PES PTS belongs to the first frame that starts in it
 * (ISO/IEC 13818-1 §2.4.3.7), each next frame is 1024 samples later. A frame cut by the end of a PES
 * is completed from the next one and keeps its own time. Frames with more than one
 * raw_data_block are skipped (their time still counts); every encoder Strom meets writes one.
 */
import type { MediaUnit } from '../../stream/media-unit.js';
import { AAC_SAMPLE_RATES, adtsToAsc, type AdtsConfig } from '../audio/adts.js';
import { aacConfigUnit, aacUnit } from '../flv/unit-builders.js';

const SAMPLES_PER_FRAME = 1024;

export class AacEs {
  private rest: Buffer = Buffer.alloc(0);
  /** Time (90 kHz ticks) of the next frame when the PES gives none. */
  private nextTicks: number | null = null;
  private config: AdtsConfig | null = null;
  /** Bytes skipped looking for an ADTS sync word. */
  skippedBytes = 0;
  /** Frames not carried (several raw_data_blocks, or no time known yet). */
  droppedFrames = 0;

  /** Bytes held of a frame that continues in the next PES (< 8 KiB: the ADTS frame_length limit). */
  get pendingBytes(): number {
    return this.rest.length;
  }

  /** One PES payload with its PTS in unwrapped ticks (null: none); appends the units it completes. */
  push(payload: Buffer, ptsTicks: number | null, out: MediaUnit[]): void {
    const carried = this.rest.length;
    const b = carried === 0 ? payload : Buffer.concat([this.rest, payload]);
    let off = 0;
    let ticks = this.nextTicks;
    let timed = false; // the PES PTS has been given to the first frame starting inside this payload
    while (b.length - off >= 7) {
      if (b[off] !== 0xff || (b[off + 1]! & 0xf6) !== 0xf0) {
        off++;
        this.skippedBytes++;
        continue;
      }
      const headLength = b[off + 1]! & 1 ? 7 : 9;
      const length = ((b[off + 3]! & 3) << 11) | (b[off + 4]! << 3) | (b[off + 5]! >> 5);
      const rateIndex = (b[off + 2]! >> 2) & 0x0f;
      if (length < headLength || rateIndex >= AAC_SAMPLE_RATES.length) {
        off++;
        this.skippedBytes++;
        continue;
      }
      if (b.length - off < length) break;
      if (!timed && off >= carried && ptsTicks !== null) {
        ticks = ptsTicks;
        timed = true;
      }
      const config: AdtsConfig = {
        objectType: (b[off + 2]! >> 6) + 1,
        sampleRateIndex: rateIndex,
        channels: ((b[off + 2]! & 1) << 2) | (b[off + 3]! >> 6),
      };
      const blocks = (b[off + 6]! & 3) + 1;
      if (ticks === null || blocks > 1) this.droppedFrames++;
      else this.emit(config, b.subarray(off + headLength, off + length), ticks / 90, out);
      if (ticks !== null) ticks += (blocks * SAMPLES_PER_FRAME * 90_000) / AAC_SAMPLE_RATES[rateIndex]!;
      off += length;
    }
    this.nextTicks = ticks;
    this.rest = off >= b.length ? Buffer.alloc(0) : Buffer.from(b.subarray(off));
  }

  /** Forget a partial frame (the PES it continues in was lost). */
  reset(): void {
    this.rest = Buffer.alloc(0);
  }

  private emit(c: AdtsConfig, frame: Buffer, ms: number, out: MediaUnit[]): void {
    const prev = this.config;
    if (prev === null || prev.objectType !== c.objectType || prev.sampleRateIndex !== c.sampleRateIndex || prev.channels !== c.channels) {
      this.config = c;
      out.push(aacConfigUnit(adtsToAsc(c), ms));
    }
    out.push(aacUnit(frame, ms));
  }
}
