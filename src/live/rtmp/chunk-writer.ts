/**
 * RTMP chunk serialisation (Adobe RTMP 1.0 §5.3.1) and the protocol control / user control
 * messages the server sends (§5.4, §6.2, §7.1). Each message becomes ONE Buffer: a type-0 chunk
 * followed by type-3 continuation chunks (with the extended timestamp repeated when used), so a
 * message chunked once can be written unchanged to every RTMP player of a stream.
 */
import { encodeAmf0, type Amf0Value } from './amf0.js';

/** Message type ids (§5.4, §7.1). */
export const MSG = {
  SET_CHUNK_SIZE: 1,
  ABORT: 2,
  ACK: 3,
  USER_CONTROL: 4,
  WINDOW_ACK_SIZE: 5,
  SET_PEER_BANDWIDTH: 6,
  AUDIO: 8,
  VIDEO: 9,
  DATA_AMF3: 15,
  COMMAND_AMF3: 17,
  DATA_AMF0: 18,
  COMMAND_AMF0: 20,
  AGGREGATE: 22,
} as const;

/** Chunk stream ids the server uses per kind of message (conventional, as ffmpeg/NMS use). */
export const CSID = { CONTROL: 2, COMMAND: 3, AUDIO: 4, VIDEO: 6, DATA: 5 } as const;

function basicHeaderSize(csid: number): number {
  return csid < 64 ? 1 : csid < 320 ? 2 : 3;
}

function writeBasic(buf: Buffer, off: number, fmt: number, csid: number): number {
  if (csid < 64) {
    buf[off] = (fmt << 6) | csid;
    return off + 1;
  }
  if (csid < 320) {
    buf[off] = fmt << 6;
    buf[off + 1] = csid - 64;
    return off + 2;
  }
  buf[off] = (fmt << 6) | 1;
  buf.writeUInt16LE(csid - 64, off + 1);
  return off + 3;
}

/** Serialise one message into chunks of `chunkSize` bytes. */
export function chunkMessage(csid: number, typeId: number, streamId: number, timestamp: number, payload: Buffer, chunkSize: number): Buffer {
  const ts = timestamp >>> 0;
  const extended = ts >= 0xffffff;
  const bh = basicHeaderSize(csid);
  const ext = extended ? 4 : 0;
  const chunks = Math.max(1, Math.ceil(payload.length / chunkSize));
  const out = Buffer.allocUnsafe(bh + 11 + ext + payload.length + (chunks - 1) * (bh + ext));
  let off = writeBasic(out, 0, 0, csid);
  out.writeUIntBE(extended ? 0xffffff : ts, off, 3);
  out.writeUIntBE(payload.length, off + 3, 3);
  out[off + 6] = typeId;
  out.writeUInt32LE(streamId, off + 7);
  off += 11;
  if (extended) off = out.writeUInt32BE(ts, off);
  for (let p = 0; p < payload.length || p === 0; p += chunkSize) {
    if (p > 0) {
      off = writeBasic(out, off, 3, csid);
      if (extended) off = out.writeUInt32BE(ts, off);
    }
    off += payload.copy(out, off, p, Math.min(p + chunkSize, payload.length));
    if (payload.length === 0) break;
  }
  return out;
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** Set Chunk Size (§5.4.1). */
export function setChunkSize(size: number): Buffer {
  return chunkMessage(CSID.CONTROL, MSG.SET_CHUNK_SIZE, 0, 0, u32(size & 0x7fffffff), 128);
}

/** Window Acknowledgement Size (§5.4.4). */
export function windowAckSize(size: number): Buffer {
  return chunkMessage(CSID.CONTROL, MSG.WINDOW_ACK_SIZE, 0, 0, u32(size), 128);
}

/** Acknowledgement (§5.4.3) of `sequence` bytes received. */
export function acknowledgement(sequence: number): Buffer {
  return chunkMessage(CSID.CONTROL, MSG.ACK, 0, 0, u32(sequence), 128);
}

/** Set Peer Bandwidth (§5.4.5); limit type 2 = dynamic. */
export function setPeerBandwidth(size: number, limitType = 2): Buffer {
  const b = Buffer.allocUnsafe(5);
  b.writeUInt32BE(size);
  b[4] = limitType;
  return chunkMessage(CSID.CONTROL, MSG.SET_PEER_BANDWIDTH, 0, 0, b, 128);
}

/** User Control message (§6.2, §7.1.7): event 0 StreamBegin, 1 StreamEOF, 6 PingRequest, 7 PingResponse. */
export function userControl(event: number, value: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeUInt16BE(event);
  b.writeUInt32BE(value >>> 0, 2);
  return chunkMessage(CSID.CONTROL, MSG.USER_CONTROL, 0, 0, b, 128);
}

/** User Control SetBufferLength (§7.1.7, event 3): how many ms the player buffers of message stream `streamId`. */
export function setBufferLength(streamId: number, ms: number): Buffer {
  const b = Buffer.allocUnsafe(10);
  b.writeUInt16BE(3);
  b.writeUInt32BE(streamId >>> 0, 2);
  b.writeUInt32BE(ms >>> 0, 6);
  return chunkMessage(CSID.CONTROL, MSG.USER_CONTROL, 0, 0, b, 128);
}

/** An AMF0 command message (§7.1.1) on the command chunk stream. */
export function command(streamId: number, chunkSize: number, ...values: Amf0Value[]): Buffer {
  return chunkMessage(CSID.COMMAND, MSG.COMMAND_AMF0, streamId, 0, encodeAmf0(...values), chunkSize);
}
