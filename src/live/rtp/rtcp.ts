/**
 * RTCP (RFC 3550 §6): the sender reports Strom sends to its RTP readers and the packets it reads
 * from publishers. A sender report (§6.4.1) ties an RTP timestamp to an NTP wall-clock time; with
 * one per track a player lines audio up with video however far apart their RTP timestamps start.
 * Every RTCP datagram is a compound packet starting with SR or RR and carrying an SDES CNAME
 * (§6.1), which is what strict receivers (GStreamer's rtpbin) check.
 */
import { fail } from '../../errors.js';

/** RTCP packet types (§12.1). */
export const RTCP_TYPE = { SR: 200, RR: 201, SDES: 202, BYE: 203, APP: 204 } as const;

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET = 2_208_988_800;

/** One packet of a compound RTCP datagram; `sender` is set for SR. */
export interface RtcpPacket {
  type: number;
  ssrc: number;
  /** SR sender info: wall-clock ms (Unix epoch) and the RTP timestamp of that instant. */
  sender: { ntpMs: number; rtpTimestamp: number; packets: number; octets: number } | null;
}

/** Parse a compound RTCP datagram; throws RTP_INVALID on a version or length that does not add up. */
export function parseRtcp(b: Buffer): RtcpPacket[] {
  const out: RtcpPacket[] = [];
  let off = 0;
  while (off < b.length) {
    if (off + 4 > b.length) throw fail('RTP_INVALID', `RTCP packet header truncated at byte ${off}`);
    if (b[off]! >> 6 !== 2) throw fail('RTP_INVALID', `RTCP version ${b[off]! >> 6} (expected 2)`);
    const type = b[off + 1]!;
    const len = (b.readUInt16BE(off + 2) + 1) * 4; // §6.4.1 length: 32-bit words minus one
    if (off + len > b.length) throw fail('RTP_INVALID', `RTCP packet type ${type} claims ${len} bytes, ${b.length - off} left`);
    const ssrc = len >= 8 ? b.readUInt32BE(off + 4) : 0;
    let sender: RtcpPacket['sender'] = null;
    if (type === RTCP_TYPE.SR) {
      if (len < 28) throw fail('RTP_INVALID', `sender report of ${len} bytes (at least 28)`);
      const sec = b.readUInt32BE(off + 8);
      const frac = b.readUInt32BE(off + 12);
      sender = { ntpMs: (sec - NTP_UNIX_OFFSET) * 1000 + (frac / 2 ** 32) * 1000, rtpTimestamp: b.readUInt32BE(off + 16), packets: b.readUInt32BE(off + 20), octets: b.readUInt32BE(off + 24) };
    }
    out.push({ type, ssrc, sender });
    off += len;
  }
  return out;
}

/** What a sender report states about one outgoing track. */
export interface SenderReportFields {
  ssrc: number;
  /** Wall-clock time of the report, ms since the Unix epoch. */
  ntpMs: number;
  /** The track's RTP timestamp at `ntpMs`. */
  rtpTimestamp: number;
  packets: number;
  octets: number;
  cname: string;
}

/** A compound SR + SDES(CNAME) datagram (§6.4.1, §6.5.1), without reception report blocks. */
export function senderReport(f: SenderReportFields): Buffer {
  const cname = Buffer.from(f.cname.slice(0, 255), 'utf8');
  const sdesLen = Math.ceil((4 + 2 + cname.length + 1) / 4) * 4; // chunk: SSRC, CNAME item, null terminator, pad to 32 bits
  const out = Buffer.alloc(28 + 4 + sdesLen);
  out[0] = 0x80; // V=2, RC=0
  out[1] = RTCP_TYPE.SR;
  out.writeUInt16BE(28 / 4 - 1, 2);
  out.writeUInt32BE(f.ssrc >>> 0, 4);
  const sec = Math.floor(f.ntpMs / 1000);
  out.writeUInt32BE((sec + NTP_UNIX_OFFSET) >>> 0, 8);
  out.writeUInt32BE(Math.floor(((f.ntpMs - sec * 1000) / 1000) * 2 ** 32) >>> 0, 12);
  out.writeUInt32BE(f.rtpTimestamp >>> 0, 16);
  out.writeUInt32BE(f.packets >>> 0, 20);
  out.writeUInt32BE(f.octets >>> 0, 24);
  out[28] = 0x81; // V=2, SC=1
  out[29] = RTCP_TYPE.SDES;
  out.writeUInt16BE((4 + sdesLen) / 4 - 1, 30);
  out.writeUInt32BE(f.ssrc >>> 0, 32);
  out[36] = 1; // CNAME
  out[37] = cname.length;
  cname.copy(out, 38);
  return out;
}
