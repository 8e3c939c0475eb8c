/**
 * RTP fixed header (RFC 3550 §5.1): parse and serialize. Parsing refuses what a well-behaved
 * sender never produces — a version other than 2, a CSRC list, extension or padding length that
 * runs past the datagram — so a depacketizer only ever sees a payload slice that really exists.
 * Payloads are subarrays of the input (no copy); a caller that keeps one past the input's life
 * copies it.
 */
import { fail } from '../../errors.js';

/** One RTP packet. */
export interface RtpPacket {
  payloadType: number;
  marker: boolean;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  /** Contributing sources (§5.1 CC/CSRC). */
  csrc: number[];
  /** Header extension (§5.3.1): profile-defined id and its data, or null. */
  extension: { profile: number; data: Buffer } | null;
  payload: Buffer;
}

/** RTP header bytes without CSRC or extension. */
export const RTP_HEADER_BYTES = 12;

/** Parse one RTP packet; throws RTP_INVALID naming what is wrong. */
export function parseRtp(b: Buffer): RtpPacket {
  if (b.length < RTP_HEADER_BYTES) throw fail('RTP_INVALID', `${b.length}-byte packet is shorter than the 12-byte RTP header`);
  const version = b[0]! >> 6;
  if (version !== 2) throw fail('RTP_INVALID', `version ${version} (RTP is version 2)`);
  const padding = (b[0]! & 0x20) !== 0;
  const hasExt = (b[0]! & 0x10) !== 0;
  const cc = b[0]! & 0x0f;
  let off = RTP_HEADER_BYTES + cc * 4;
  if (off > b.length) throw fail('RTP_INVALID', `${cc} CSRC entries do not fit in ${b.length} bytes`);
  const csrc: number[] = [];
  for (let i = 0; i < cc; i++) csrc.push(b.readUInt32BE(RTP_HEADER_BYTES + i * 4));
  let extension: RtpPacket['extension'] = null;
  if (hasExt) {
    if (off + 4 > b.length) throw fail('RTP_INVALID', 'header extension flag set without room for its header');
    const profile = b.readUInt16BE(off);
    const words = b.readUInt16BE(off + 2);
    if (off + 4 + words * 4 > b.length) throw fail('RTP_INVALID', `header extension of ${words} words runs past the ${b.length}-byte packet`);
    extension = { profile, data: b.subarray(off + 4, off + 4 + words * 4) };
    off += 4 + words * 4;
  }
  let end = b.length;
  if (padding) {
    const pad = b[b.length - 1]!;
    // §5.1: the last octet counts the padding octets including itself, so it is at least 1.
    if (pad === 0 || end - pad < off) throw fail('RTP_INVALID', `padding of ${pad} bytes does not fit after the header`);
    end -= pad;
  }
  return {
    payloadType: b[1]! & 0x7f,
    marker: (b[1]! & 0x80) !== 0,
    sequenceNumber: b.readUInt16BE(2),
    timestamp: b.readUInt32BE(4),
    ssrc: b.readUInt32BE(8),
    csrc,
    extension,
    payload: b.subarray(off, end),
  };
}

/** Header fields of a packet to serialize (no CSRC, extension or padding: Strom never sends them). */
export interface RtpHeaderFields {
  payloadType: number;
  marker: boolean;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
}

/** Write a 12-byte RTP header into `out` at `off` (the caller owns the allocation). */
export function writeRtpHeader(out: Buffer, off: number, h: RtpHeaderFields): void {
  out[off] = 0x80; // V=2, P=0, X=0, CC=0
  out[off + 1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f);
  out.writeUInt16BE(h.sequenceNumber & 0xffff, off + 2);
  out.writeUInt32BE(h.timestamp >>> 0, off + 4);
  out.writeUInt32BE(h.ssrc >>> 0, off + 8);
}

/** Serialize a packet (header + payload in one allocation); CSRC and extension are written when present. */
export function serializeRtp(p: RtpHeaderFields & { payload: Buffer; csrc?: readonly number[]; extension?: RtpPacket['extension'] }): Buffer {
  const csrc = p.csrc ?? [];
  if (csrc.length > 15) throw fail('RTP_INVALID', `${csrc.length} CSRC entries (at most 15)`);
  const ext = p.extension ?? null;
  if (ext !== null && ext.data.length % 4 !== 0) throw fail('RTP_INVALID', `header extension of ${ext.data.length} bytes is not a whole number of 32-bit words`);
  const extBytes = ext === null ? 0 : 4 + ext.data.length;
  const out = Buffer.allocUnsafe(RTP_HEADER_BYTES + csrc.length * 4 + extBytes + p.payload.length);
  writeRtpHeader(out, 0, p);
  out[0] = 0x80 | (ext !== null ? 0x10 : 0) | csrc.length;
  let off = RTP_HEADER_BYTES;
  for (const c of csrc) off = out.writeUInt32BE(c >>> 0, off);
  if (ext !== null) {
    off = out.writeUInt16BE(ext.profile, off);
    off = out.writeUInt16BE(ext.data.length / 4, off);
    off += ext.data.copy(out, off);
  }
  p.payload.copy(out, off);
  return out;
}
