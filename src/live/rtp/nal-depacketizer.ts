/**
 * The part of H.264 (RFC 6184) and H.265 (RFC 7798) depacketization the two share: collecting a
 * frame's NAL units until the marker bit or a timestamp change ends it (RFC 6184 §5.1, RFC 7798
 * §4.1), and what happens on loss. A sequence gap inside an access unit, a fragment without its
 * start, or a malformed aggregation discards the whole access unit — a frame is dropped, never
 * emitted with a hole — and frames are then dropped until a keyframe (they reference what was
 * lost); `needKeyframe` tells the caller to ask the sender for one (RTCP PLI). An access unit
 * growing past `maxBytes` (a sender that never sets the marker nor changes the timestamp) is
 * dropped the same way, so a hostile publisher cannot grow the buffer.
 */

/** One reassembled access unit. */
export interface NalAccessUnit {
  /** NAL units without start codes, in decoding order. */
  nalus: Buffer[];
  /** RTP timestamp (90 kHz). */
  timestamp: number;
  /** A random access point (H.264 IDR, H.265 IRAP) is present. */
  keyframe: boolean;
}

/** Access-unit reassembly; subclasses parse their codec's payload structures into `nalus`. */
export abstract class NalDepacketizer {
  /** Access units dropped because a packet was missing or malformed. */
  dropped = 0;
  /** Access units dropped because they grew past `maxBytes`. */
  oversized = 0;
  /** True after a loss until the next keyframe: frames in between reference what was lost. */
  needKeyframe = false;
  protected nalus: Buffer[] = [];
  /** Fragments of the NAL unit being reassembled (FU-A / FU), or null. */
  protected fu: Buffer[] | null = null;
  /** The access unit being collected cannot be completed. */
  protected broken = false;
  private ts = -1;
  private lastSeq = -1;
  private bytes = 0;
  /** The access unit being collected went past maxBytes. */
  private over = false;

  constructor(private readonly maxBytes = 8 * 1024 * 1024) {}

  /** Feed one packet (in sequence order); returns the access units it completes (0, 1, or 2 on a missed marker). */
  push(seq: number, timestamp: number, marker: boolean, payload: Buffer): NalAccessUnit[] {
    const out: NalAccessUnit[] = [];
    if (this.ts !== -1 && timestamp !== this.ts) this.finish(out); // marker lost: a timestamp change ends the AU
    if (this.lastSeq !== -1 && seq !== ((this.lastSeq + 1) & 0xffff)) {
      this.broken = true; // the gap may belong to this AU or the previous one: either way this AU is incomplete
      this.needKeyframe = true;
    }
    this.lastSeq = seq;
    this.ts = timestamp;
    this.bytes += payload.length;
    if (this.bytes > this.maxBytes) {
      if (!this.over) this.oversized++;
      this.over = true;
      this.broken = true;
      this.nalus = []; // keep nothing of it: the whole AU is dropped when it ends
      this.fu = null;
    } else if (!this.broken) this.parse(payload);
    if (marker) this.finish(out);
    return out;
  }

  /** The sender restarted (a new SSRC): forget the access unit in progress and the sequence; wait for a keyframe. */
  restart(): void {
    this.nalus = [];
    this.fu = null;
    this.broken = false;
    this.bytes = 0;
    this.over = false;
    this.ts = -1;
    this.lastSeq = -1;
    this.needKeyframe = true;
  }

  /** Parse one payload into `nalus` (or `fu`), setting `broken` on what cannot be used. */
  protected abstract parse(p: Buffer): void;
  /** Whether a NAL unit makes the access unit a random access point. */
  protected abstract isKeyframe(nal: Buffer): boolean;

  /** Split an aggregation packet's body (16-bit size + NAL unit, repeated) into `nalus`. */
  protected aggregate(p: Buffer, from: number): void {
    let off = from;
    while (off + 2 <= p.length) {
      const len = p.readUInt16BE(off);
      off += 2;
      if (len === 0 || off + len > p.length) {
        this.broken = true;
        return;
      }
      this.nalus.push(p.subarray(off, off + len));
      off += len;
    }
    if (off !== p.length) this.broken = true; // a dangling byte: the sizes do not add up
  }

  private finish(out: NalAccessUnit[]): void {
    const nalus = this.nalus;
    const broken = this.broken || this.fu !== null;
    this.nalus = [];
    this.fu = null;
    this.broken = false;
    this.bytes = 0;
    this.over = false;
    const ts = this.ts;
    this.ts = -1;
    if (nalus.length === 0 && !broken) return;
    if (broken) {
      this.dropped++;
      this.needKeyframe = true;
      return;
    }
    const keyframe = nalus.some((n) => this.isKeyframe(n));
    if (this.needKeyframe) {
      if (!keyframe) {
        this.dropped++;
        return;
      }
      this.needKeyframe = false;
    }
    out.push({ nalus, timestamp: ts, keyframe });
  }
}
