/**
 * H.264 → RTP payloads (RFC 6184, packetization-mode=1): a NAL unit that fits the MTU budget goes
 * as a Single NAL Unit packet (§5.6), a larger one as FU-A fragments (§5.8). STAP-A is not used
 * (only worth it for tiny SPS/PPS; sending them as single packets costs two headers per keyframe).
 *
 * Why not werift's packetizer: werift 0.24 only ships one inside its `nonstandard` file-playback
 * helper, typed against mediabunny's EncodedPacket and building complete RtpPackets with its own
 * sequence state. Strom packetizes a unit ONCE per stream and gives every viewer its own RTP
 * header (own sequence numbers), so it needs bare payloads — this file is that, ~40 lines.
 */

/** One RTP payload of a frame; `marker` is set on the last packet of the access unit (§5.1). */
export interface RtpPayload {
  payload: Buffer;
  marker: boolean;
}

/** Default payload budget: 1200 bytes keeps SRTP + IP/UDP under a 1280-byte IPv6 minimum MTU. */
export const DEFAULT_MAX_PAYLOAD = 1200;

/** Packetize one access unit given as NAL units (no start codes, no length prefixes). */
export function packetizeH264(nalus: readonly Buffer[], maxPayload = DEFAULT_MAX_PAYLOAD): RtpPayload[] {
  const out: RtpPayload[] = [];
  nalus.forEach((nal, i) => {
    const last = i === nalus.length - 1;
    if (nal.length === 0) return;
    if (nal.length <= maxPayload) {
      out.push({ payload: nal, marker: last });
      return;
    }
    const indicator = (nal[0]! & 0xe0) | 28; // F + NRI of the NAL, type 28 = FU-A
    const type = nal[0]! & 0x1f;
    const body = nal.subarray(1);
    const step = maxPayload - 2;
    for (let off = 0; off < body.length; off += step) {
      const end = Math.min(body.length, off + step);
      const header = (off === 0 ? 0x80 : 0) | (end === body.length ? 0x40 : 0) | type; // S, E bits
      const payload = Buffer.allocUnsafe(2 + end - off); // one allocation per fragment
      payload[0] = indicator;
      payload[1] = header;
      body.copy(payload, 2, off, end);
      out.push({ payload, marker: last && end === body.length });
    }
  });
  if (out.length > 0) out[out.length - 1]!.marker = true;
  return out;
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
