/**
 * Incremental FLV stream demuxer (FLV 10.1 Annex E.2–E.4): header, then tags. Used to read FLV
 * files for publishing (bench) and to check HTTP-FLV/WS-FLV output in tests. Tags larger than
 * `maxTagBytes` throw, so a corrupt stream cannot make it buffer without bound.
 */
import { fail } from '../../../errors.js';

/** One FLV tag: type 8 audio, 9 video, 18 script; timestamp in ms; body without header. */
export interface FlvTag {
  type: number;
  timestamp: number;
  body: Buffer;
}

/** Push bytes in, get tags out. */
export class FlvDemuxer {
  private buf: Buffer = Buffer.alloc(0);
  private headerDone = false;
  /** Bytes still to skip before the first tag when DataOffset reaches past the bytes received so far. */
  private skip = 0;
  /** Flags byte of the FLV header (4 = audio, 1 = video), once read. */
  flags = -1;

  constructor(private readonly maxTagBytes = 16 * 1024 * 1024) {}

  /** Feed bytes; returns the tags completed by them. */
  push(data: Buffer): FlvTag[] {
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    const out: FlvTag[] = [];
    let off = 0;
    if (!this.headerDone) {
      if (this.buf.length < 13) return out;
      if (this.buf.toString('latin1', 0, 3) !== 'FLV') throw fail('BAD_REQUEST', 'not an FLV stream');
      this.flags = this.buf[4]!;
      // DataOffset is the header's size (E.2: 9 in version 1); the first tag follows PreviousTagSize0.
      const dataOffset = this.buf.readUInt32BE(5);
      if (dataOffset < 9) throw fail('BAD_REQUEST', `FLV header size ${dataOffset} (at least 9)`);
      this.skip = dataOffset + 4;
      this.headerDone = true;
    }
    if (this.skip > 0) {
      // The skip may reach past this read: carry the rest over, so where the stream is cut does not move the tags.
      off = Math.min(this.skip, this.buf.length);
      this.skip -= off;
    }
    while (this.buf.length - off >= 11) {
      const size = this.buf.readUIntBE(off + 1, 3);
      if (size > this.maxTagBytes) throw fail('BAD_REQUEST', `FLV tag of ${size} bytes`);
      if (this.buf.length - off < 11 + size + 4) break;
      const ts = this.buf.readUIntBE(off + 4, 3) | (this.buf[off + 7]! << 24);
      out.push({ type: this.buf[off]! & 0x1f, timestamp: ts >>> 0, body: this.buf.subarray(off + 11, off + 11 + size) });
      off += 11 + size + 4;
    }
    this.buf = this.buf.subarray(off);
    return out;
  }
}
