/**
 * H.265 over RTP (RFC 7798) in both directions: single NAL unit packets (§4.4.1), aggregation
 * packets (AP, type 48, §4.4.2) and fragmentation units (FU, type 49, §4.4.3). Strom announces
 * no `sprop-max-don-diff`, so no DONL/DOND fields are present (§4.4 "when sprop-max-don-diff is
 * 0"); PACI packets (type 50) are not used by any encoder Strom meets and drop their frame.
 */
import { HEVC_NAL } from '../formats/video/nal.js';
import { NalDepacketizer } from './nal-depacketizer.js';
import { packetizeNals, type NalPayloadFormat, type RtpPayload } from './nal-packetizer.js';

const AP = 48;
const FU = 49;

/** The NAL unit type of an H.265 NAL header (§1.1.4: F(1) Type(6) LayerId(6) TID(3)). */
const typeOf = (b0: number) => (b0 >> 1) & 0x3f;

/** Reassembles access units from the RTP packets of one H.265 stream (in sequence order). */
export class H265Depacketizer extends NalDepacketizer {
  protected parse(p: Buffer): void {
    if (p.length < 3) {
      this.broken = p.length > 0; // a payload too short for any structure
      return;
    }
    const type = typeOf(p[0]!);
    if (type < AP) {
      this.fu = null;
      this.nalus.push(p);
    } else if (type === AP) this.aggregate(p, 2);
    else if (type === FU) {
      const start = (p[2]! & 0x80) !== 0;
      const end = (p[2]! & 0x40) !== 0;
      const fuType = p[2]! & 0x3f;
      if (start) this.fu = [Buffer.from([(p[0]! & 0x81) | (fuType << 1), p[1]!]), p.subarray(3)];
      else if (this.fu === null) {
        this.broken = true; // continuation without its start
        return;
      } else this.fu.push(p.subarray(3));
      if (end) {
        this.nalus.push(Buffer.concat(this.fu));
        this.fu = null;
      }
    } else this.broken = true; // PACI (50) or a reserved type
  }

  protected isKeyframe(nal: Buffer): boolean {
    const t = typeOf(nal[0]!);
    return t >= HEVC_NAL.IRAP_FIRST && t <= HEVC_NAL.IRAP_LAST;
  }
}

const H265_NAL: NalPayloadFormat = {
  headerBytes: 2,
  aggregationHeader(nalus) {
    // §4.4.2: F = OR of the F bits, LayerId and TID = the lowest of the aggregated units
    const f = nalus.reduce((a, n) => a | (n[0]! & 0x80), 0);
    const layer = Math.min(...nalus.map((n) => ((n[0]! & 1) << 5) | (n[1]! >> 3)));
    const tid = Math.min(...nalus.map((n) => n[1]! & 7));
    return Buffer.from([f | (AP << 1) | (layer >> 5), ((layer & 0x1f) << 3) | tid]);
  },
  fragmentHeader(nal, start, end) {
    return Buffer.from([(nal[0]! & 0x81) | (FU << 1), nal[1]!, (start ? 0x80 : 0) | (end ? 0x40 : 0) | typeOf(nal[0]!)]);
  },
};

/** Packetize one H.265 access unit (NAL units without start codes). */
export function packetizeH265(nalus: readonly Buffer[], maxPayload?: number, aggregate = true): RtpPayload[] {
  return packetizeNals(nalus, H265_NAL, maxPayload, aggregate);
}
