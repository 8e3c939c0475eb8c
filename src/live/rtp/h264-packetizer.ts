/**
 * H.264 → RTP payloads (RFC 6184, packetization-mode=1): a NAL unit that fits the payload budget
 * goes as a Single NAL Unit packet (§5.6), a larger one as FU-A fragments (§5.8), and with
 * `aggregate` runs of small ones (SPS, PPS, SEI) share one STAP-A packet (§5.7.1) — WHEP leaves it
 * off (two small packets per keyframe cost little), RTSP readers get it as ffmpeg sends it.
 *
 * Why not werift's packetizer: werift 0.24 only ships one inside its `nonstandard` file-playback
 * helper, typed against mediabunny's EncodedPacket and building complete RtpPackets with its own
 * sequence state. Strom packetizes a unit ONCE per stream and gives every viewer its own RTP
 * header (own sequence numbers), so it needs bare payloads.
 */
import { packetizeNals, type RtpPayload } from './nal-packetizer.js';

export { DEFAULT_MAX_PAYLOAD, type RtpPayload } from './nal-packetizer.js';

/** The H.264 NAL structures of RFC 6184: 1-byte header, STAP-A type 24, FU-A type 28. */
const H264_NAL = {
  headerBytes: 1,
  aggregationHeader: (nalus: readonly Buffer[]) => Buffer.from([(Math.max(...nalus.map((n) => n[0]! & 0x60))) | 24]), // F=0, NRI = the highest, type 24
  fragmentHeader(nal: Buffer, start: boolean, end: boolean): Buffer {
    // FU indicator (F + NRI of the NAL, type 28), FU header (S, E, the NAL's type)
    return Buffer.from([(nal[0]! & 0xe0) | 28, (start ? 0x80 : 0) | (end ? 0x40 : 0) | (nal[0]! & 0x1f)]);
  },
};

/** Packetize one access unit given as NAL units (no start codes, no length prefixes). */
export function packetizeH264(nalus: readonly Buffer[], maxPayload?: number, aggregate = false): RtpPayload[] {
  return packetizeNals(nalus, H264_NAL, maxPayload, aggregate);
}

/** Split AVCC (4-byte length-prefixed NAL units, ISO/IEC 14496-15 §5.3.2) into NAL units. */
export function splitAvcc(avcc: Buffer, lengthSize = 4): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + lengthSize <= avcc.length) {
    const len = avcc.readUIntBE(off, lengthSize);
    off += lengthSize;
    if (len === 0 || off + len > avcc.length) break; // truncated unit: keep what was whole
    out.push(avcc.subarray(off, off + len));
    off += len;
  }
  return out;
}

/** SPS and PPS NAL units of an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1), and its length size. */
export function parseAvcConfig(record: Buffer): { sps: Buffer[]; pps: Buffer[]; lengthSize: number } | null {
  if (record.length < 7 || record[0] !== 1) return null;
  const lengthSize = (record[4]! & 3) + 1;
  const sps: Buffer[] = [];
  const pps: Buffer[] = [];
  let off = 5;
  const read = (n: number, into: Buffer[]): boolean => {
    for (let i = 0; i < n; i++) {
      if (off + 2 > record.length) return false;
      const len = record.readUInt16BE(off);
      off += 2;
      if (off + len > record.length) return false;
      into.push(record.subarray(off, off + len));
      off += len;
    }
    return true;
  };
  if (!read(record[off++]! & 0x1f, sps)) return null;
  if (off >= record.length || !read(record[off++]!, pps)) return null;
  return { sps, pps, lengthSize };
}
