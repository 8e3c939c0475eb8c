/**
 * SRT packet header and control packet bodies (draft-sharabayko-srt-01 §3): a 16-byte header, then
 * a data payload or a control information field (CIF). Parsing never throws on the wire's bytes:
 * whatever is not a well-formed packet comes back as null so the listener can count and drop it.
 */
import { seqAdd, seqOff } from './seq.js';

/** Header length in bytes. */
export const HEADER_BYTES = 16;

/** Control packet types (§3.2). */
export const CTRL = {
  HANDSHAKE: 0x0000,
  KEEPALIVE: 0x0001,
  ACK: 0x0002,
  NAK: 0x0003,
  CONGESTION: 0x0004,
  SHUTDOWN: 0x0005,
  ACKACK: 0x0006,
  DROPREQ: 0x0007,
  PEERERROR: 0x0008,
  USER: 0x7fff,
} as const;

/** Subtypes of the user-defined control type carrying SRT extension messages (§3.2.2). */
export const USER_SUBTYPE = { KMREQ: 3, KMRSP: 4 } as const;

/** Packet position flags of a data packet: a live-mode packet is a whole message (0b11). */
export const PP_SOLO = 3;

/** A parsed data packet. `payload` is a view into the datagram. */
export interface DataPacket {
  control: false;
  seq: number;
  position: number;
  inOrder: boolean;
  /** 0 clear, 1 even key, 2 odd key. */
  keyFlags: number;
  retransmitted: boolean;
  msgNo: number;
  timestamp: number;
  destId: number;
  payload: Buffer;
}

/** A parsed control packet. `cif` is a view into the datagram. */
export interface ControlPacket {
  control: true;
  type: number;
  subtype: number;
  info: number;
  timestamp: number;
  destId: number;
  cif: Buffer;
}

/** Any SRT packet. */
export type SrtPacket = DataPacket | ControlPacket;

/** Parse one datagram; null when it is too short to be SRT. */
export function parsePacket(b: Buffer): SrtPacket | null {
  if (b.length < HEADER_BYTES) return null;
  const w0 = b.readUInt32BE(0);
  const w1 = b.readUInt32BE(4);
  const timestamp = b.readUInt32BE(8);
  const destId = b.readUInt32BE(12);
  if ((w0 & 0x80000000) !== 0) {
    return { control: true, type: (w0 >>> 16) & 0x7fff, subtype: w0 & 0xffff, info: w1, timestamp, destId, cif: b.subarray(HEADER_BYTES) };
  }
  return {
    control: false,
    seq: w0,
    position: w1 >>> 30,
    inOrder: ((w1 >>> 29) & 1) === 1,
    keyFlags: (w1 >>> 27) & 3,
    retransmitted: ((w1 >>> 26) & 1) === 1,
    msgNo: w1 & 0x03ffffff,
    timestamp,
    destId,
    payload: b.subarray(HEADER_BYTES),
  };
}

/** Write a data packet header into `out[0..16)`. */
export function writeDataHeader(out: Buffer, seq: number, msgNo: number, keyFlags: number, retransmitted: boolean, timestamp: number, destId: number): void {
  out.writeUInt32BE(seq & 0x7fffffff, 0);
  out.writeUInt32BE(((PP_SOLO << 30) | (keyFlags << 27) | (retransmitted ? 1 << 26 : 0) | (msgNo & 0x03ffffff)) >>> 0, 4);
  out.writeUInt32BE(timestamp >>> 0, 8);
  out.writeUInt32BE(destId >>> 0, 12);
}

/** Build a control packet. */
export function controlPacket(type: number, subtype: number, info: number, timestamp: number, destId: number, cif?: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + (cif?.length ?? 0));
  out.writeUInt32BE((0x80000000 | (type << 16) | subtype) >>> 0, 0);
  out.writeUInt32BE(info >>> 0, 4);
  out.writeUInt32BE(timestamp >>> 0, 8);
  out.writeUInt32BE(destId >>> 0, 12);
  if (cif) cif.copy(out, HEADER_BYTES);
  return out;
}

/** Fields of a full ACK (§3.2.4). */
export interface AckInfo {
  /** First sequence number not yet received (everything before it is). */
  ackSeq: number;
  rttUs: number;
  rttVarUs: number;
  /** Free space in the receive buffer, packets. */
  availableBuffer: number;
  packetsPerSecond: number;
  linkCapacity: number;
  bytesPerSecond: number;
}

/** Encode a full ACK's CIF. */
export function ackCif(a: AckInfo): Buffer {
  const b = Buffer.allocUnsafe(28);
  b.writeUInt32BE(a.ackSeq >>> 0, 0);
  b.writeUInt32BE(a.rttUs >>> 0, 4);
  b.writeUInt32BE(a.rttVarUs >>> 0, 8);
  b.writeUInt32BE(Math.max(2, a.availableBuffer) >>> 0, 12);
  b.writeUInt32BE(a.packetsPerSecond >>> 0, 16);
  b.writeUInt32BE(a.linkCapacity >>> 0, 20);
  b.writeUInt32BE(a.bytesPerSecond >>> 0, 24);
  return b;
}

/** The acknowledged sequence number of an ACK (light ACKs carry only that); null when malformed. */
export function ackSeqOf(cif: Buffer): number | null {
  return cif.length >= 4 ? cif.readUInt32BE(0) & 0x7fffffff : null;
}

/** Encode a loss list (§3.2.5): single numbers, or ranges as first-with-MSB-set then last. */
export function lossListCif(ranges: ReadonlyArray<readonly [number, number]>): Buffer {
  const words: number[] = [];
  for (const [from, to] of ranges) {
    if (from === to) words.push(from);
    else words.push((0x80000000 | from) >>> 0, to);
  }
  const b = Buffer.allocUnsafe(words.length * 4);
  words.forEach((w, i) => b.writeUInt32BE(w, i * 4));
  return b;
}

/** Decode a loss list into inclusive ranges; malformed entries end the list. Bounded by `maxPackets`. */
export function parseLossList(cif: Buffer, maxPackets = 65_536): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let total = 0;
  for (let i = 0; i + 4 <= cif.length; i += 4) {
    const w = cif.readUInt32BE(i);
    let from = w & 0x7fffffff;
    let to = from;
    if ((w & 0x80000000) !== 0) {
      if (i + 8 > cif.length) break;
      to = cif.readUInt32BE(i + 4) & 0x7fffffff;
      i += 4;
      const n = seqOff(from, to);
      if (n < 0) break; // a range that runs backwards is not a range
      if (total + n + 1 > maxPackets) to = seqAdd(from, maxPackets - total - 1);
      from = from & 0x7fffffff;
    }
    out.push([from, to]);
    total += seqOff(from, to) + 1;
    if (total >= maxPackets) break;
  }
  return out;
}
