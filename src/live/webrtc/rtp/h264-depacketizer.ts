/**
 * RTP → H.264 access units (RFC 6184 packetization-mode=1: Single NAL Unit §5.6, STAP-A §5.7.1,
 * FU-A §5.8). An access unit ends at the RTP marker bit or when the timestamp changes (§5.1).
 * Loss handling: a sequence gap inside an access unit (or a FU-A without its start/end) discards
 * the whole access unit — a frame is dropped, never emitted with a hole — and `needKeyframe` turns
 * on until an IDR arrives (the caller asks the sender for one with a PLI, RFC 4585 §6.3.1).
 * An access unit growing past `maxBytes` (a sender that never sets the marker nor changes the
 * timestamp) is discarded the same way, so a hostile publisher cannot grow this buffer.
 *
 * Why not werift's H264RtpPayload: it concatenates FU-A fragments without looking at sequence
 * numbers, so a lost middle fragment yields a corrupt NAL unit instead of a dropped frame.
 */

/** One reassembled access unit. */
export interface H264AccessUnit {
  /** NAL units without start codes, in decoding order. */
  nalus: Buffer[];
  /** RTP timestamp (90 kHz). */
  timestamp: number;
  /** An IDR slice (type 5) is present. */
  keyframe: boolean;
}

/** Reassembles access units from the RTP packets of one H.264 stream (in arrival order). */
export class H264Depacketizer {
  /** Access units dropped because a packet was missing. */
  dropped = 0;
  /** True after a loss until the next IDR: frames in between reference what was lost. */
  needKeyframe = false;
  private nalus: Buffer[] = [];
  private fu: Buffer[] | null = null;
  private ts = -1;
  private lastSeq = -1;
  private broken = false;
  private bytes = 0;

  constructor(private readonly maxBytes = 8 * 1024 * 1024) {}

  /** Feed one packet; returns the access units it completes (0, 1, or 2 on a missed marker). */
  push(seq: number, timestamp: number, marker: boolean, payload: Buffer): H264AccessUnit[] {
    const out: H264AccessUnit[] = [];
    if (this.ts !== -1 && timestamp !== this.ts) this.finish(out); // marker lost: timestamp change ends the AU
    if (this.lastSeq !== -1 && seq !== ((this.lastSeq + 1) & 0xffff)) {
      this.broken = true; // the gap may belong to this AU or the previous one: either way this AU is incomplete
      this.needKeyframe = true;
    }
    this.lastSeq = seq;
    this.ts = timestamp;
    this.bytes += payload.length;
    if (this.bytes > this.maxBytes) {
      this.broken = true;
      this.nalus = []; // keep nothing of it: the whole AU is dropped when it ends
      this.fu = null;
    } else if (!this.broken) this.parse(payload);
    if (marker) this.finish(out);
    return out;
  }

  private parse(p: Buffer): void {
    if (p.length < 1) return;
    const type = p[0]! & 0x1f;
    if (type >= 1 && type <= 23) {
      this.fu = null;
      this.nalus.push(p);
    } else if (type === 24) {
      let off = 1;
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
    } else if (type === 28 && p.length > 2) {
      const start = (p[1]! & 0x80) !== 0;
      const end = (p[1]! & 0x40) !== 0;
      if (start) this.fu = [Buffer.from([(p[0]! & 0xe0) | (p[1]! & 0x1f)]), p.subarray(2)];
      else if (this.fu === null) {
        this.broken = true; // continuation without its start
        return;
      } else this.fu.push(p.subarray(2));
      if (end) {
        this.nalus.push(Buffer.concat(this.fu));
        this.fu = null;
      }
    } else this.broken = true; // STAP-B, MTAP, FU-B: not in packetization-mode=1
  }

  private finish(out: H264AccessUnit[]): void {
    const nalus = this.nalus;
    const broken = this.broken || this.fu !== null;
    this.nalus = [];
    this.fu = null;
    this.broken = false;
    this.bytes = 0;
    const ts = this.ts;
    this.ts = -1;
    if (nalus.length === 0 && !broken) return;
    if (broken) {
      this.dropped++;
      this.needKeyframe = true;
      return;
    }
    const keyframe = nalus.some((n) => (n[0]! & 0x1f) === 5);
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
