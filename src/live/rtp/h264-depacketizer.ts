/**
 * RTP → H.264 access units (RFC 6184 packetization-mode=1: Single NAL Unit §5.6, STAP-A §5.7.1,
 * FU-A §5.8); access-unit boundaries and loss handling are NalDepacketizer's.
 *
 * Why not werift's H264RtpPayload: it concatenates FU-A fragments without looking at sequence
 * numbers, so a lost middle fragment yields a corrupt NAL unit instead of a dropped frame.
 */
import { NalDepacketizer, type NalAccessUnit } from './nal-depacketizer.js';

/** One reassembled H.264 access unit. */
export type H264AccessUnit = NalAccessUnit;

/** Reassembles access units from the RTP packets of one H.264 stream (in sequence order). */
export class H264Depacketizer extends NalDepacketizer {
  protected parse(p: Buffer): void {
    if (p.length < 1) return;
    const type = p[0]! & 0x1f;
    if (type >= 1 && type <= 23) {
      this.fu = null;
      this.nalus.push(p);
    } else if (type === 24) this.aggregate(p, 1); // STAP-A
    else if (type === 28 && p.length > 2) {
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

  protected isKeyframe(nal: Buffer): boolean {
    return (nal[0]! & 0x1f) === 5;
  }
}
