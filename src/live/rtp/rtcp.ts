/**
 * RTCP (RFC 3550 §6): the sender reports Strom sends to its RTP readers and the packets it reads
 * from publishers. A sender report (§6.4.1) ties an RTP timestamp to an NTP wall-clock time; with
 * one per track a player lines audio up with video however far apart their RTP timestamps start.
 * Every RTCP datagram is a compound packet starting with SR or RR and carrying an SDES CNAME
 * (§6.1), which is what strict receivers (GStreamer's rtpbin) check. As an RTSP client Strom sends
 * receiver reports (§6.4.2) and, to ask a camera for a keyframe, a Picture Loss Indication
 * (RFC 4585 §6.3.1) in the same compound packet.
 */
import { fail } from '../../errors.js';

/** RTCP packet types (§12.1; PSFB from RFC 4585 §6.1). */
export const RTCP_TYPE = { SR: 200, RR: 201, SDES: 202, BYE: 203, APP: 204, PSFB: 206 } as const;

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
  const out = Buffer.alloc(28);
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
  return Buffer.concat([out, sdes(f.ssrc, f.cname)]);
}

/** An SDES packet with one CNAME chunk (§6.5.1). */
function sdes(ssrc: number, name: string): Buffer {
  const cname = Buffer.from(name.slice(0, 255), 'utf8');
  const len = Math.ceil((4 + 2 + cname.length + 1) / 4) * 4; // chunk: SSRC, CNAME item, null terminator, pad to 32 bits
  const out = Buffer.alloc(4 + len);
  out[0] = 0x81; // V=2, SC=1
  out[1] = RTCP_TYPE.SDES;
  out.writeUInt16BE(len / 4, 2);
  out.writeUInt32BE(ssrc >>> 0, 4);
  out[8] = 1; // CNAME
  out[9] = cname.length;
  cname.copy(out, 10);
  return out;
}

/** One reception report block (§6.4.1) about a source Strom receives. */
export interface ReceptionReport {
  ssrc: number;
  /** Packets lost since the start (cumulative) and the fraction lost since the last report (0..255 of 256). */
  lost: number;
  fractionLost: number;
  /** Extended highest sequence number received (cycles << 16 | sequence). */
  highestSeq: number;
  /** The source's last sender report, as wall-clock ms, and when it arrived (for LSR/DLSR), or null. */
  lastSr: { ntpMs: number; receivedAt: number } | null;
}

/** A compound RR + SDES(CNAME) datagram, with a PLI (RFC 4585 §6.3.1) about `pli` when given. */
export function receiverReport(f: { ssrc: number; cname: string; reports: readonly ReceptionReport[]; now: number; pli?: number }): Buffer {
  const blocks = f.reports.slice(0, 31);
  const rr = Buffer.alloc(8 + 24 * blocks.length);
  rr[0] = 0x80 | blocks.length;
  rr[1] = RTCP_TYPE.RR;
  rr.writeUInt16BE(rr.length / 4 - 1, 2);
  rr.writeUInt32BE(f.ssrc >>> 0, 4);
  blocks.forEach((b, i) => {
    const o = 8 + 24 * i;
    rr.writeUInt32BE(b.ssrc >>> 0, o);
    rr.writeUInt32BE(((Math.max(0, Math.min(255, b.fractionLost)) << 24) | Math.max(0, Math.min(0x7fffff, b.lost))) >>> 0, o + 4);
    rr.writeUInt32BE(b.highestSeq >>> 0, o + 8);
    // o + 12: interarrival jitter, not measured (0)
    if (b.lastSr !== null) {
      const ntp = b.lastSr.ntpMs / 1000 + NTP_UNIX_OFFSET;
      rr.writeUInt32BE((Math.floor(ntp * 65536) & 0xffffffff) >>> 0, o + 16); // middle 32 bits of the NTP timestamp
      rr.writeUInt32BE(Math.min(0xffffffff, Math.round(((f.now - b.lastSr.receivedAt) / 1000) * 65536)) >>> 0, o + 20);
    }
  });
  const parts = [rr, sdes(f.ssrc, f.cname)];
  if (f.pli !== undefined) {
    const pli = Buffer.alloc(12);
    pli[0] = 0x81; // V=2, FMT=1 (PLI)
    pli[1] = RTCP_TYPE.PSFB;
    pli.writeUInt16BE(2, 2);
    pli.writeUInt32BE(f.ssrc >>> 0, 4);
    pli.writeUInt32BE(f.pli >>> 0, 8);
    parts.push(pli);
  }
  return Buffer.concat(parts);
}
