/**
 * RTMP playback output (`from_stream` for RTMP, Adobe RTMP 1.0 §7.2.2.1 play): MediaUnits become
 * audio (8), video (9) and data (18) messages on message stream 1. Each unit is chunked ONCE per
 * stream (all players use the same chunk size and stream id) and the Buffer is shared by every
 * RTMP player, like the FLV tags of HTTP-FLV.
 */
import type { Socket } from 'node:net';
import type { MediaUnit } from '../stream/media-unit.js';
import { encodeAmf0 } from './amf0.js';
import { chunkMessage, CSID, MSG } from './chunk-writer.js';

/** The message stream id the server hands out in `createStream`. */
export const STREAM_ID = 1;

/** The RTMP chunks of a unit for players, built once per unit and shared. */
export function rtmpChunksOf(u: MediaUnit, chunkSize: number): Buffer {
  if (u.rtmpChunks !== undefined) return u.rtmpChunks;
  const [csid, type] = u.kind === 'video' ? [CSID.VIDEO, MSG.VIDEO] : u.kind === 'audio' ? [CSID.AUDIO, MSG.AUDIO] : [CSID.DATA, MSG.DATA_AMF0];
  u.rtmpChunks = chunkMessage(csid, type, STREAM_ID, u.dts, u.body, chunkSize);
  return u.rtmpChunks;
}

/** Write a reader batch to a player's socket as one corked write; false when the socket is backed up. */
export function writePlayBatch(socket: Socket, units: readonly MediaUnit[], chunkSize: number): boolean {
  socket.cork();
  for (const u of units) socket.write(rtmpChunksOf(u, chunkSize));
  socket.uncork();
  return !socket.writableNeedDrain;
}

/** `|RtmpSampleAccess` data message players expect after NetStream.Play.Start. */
export function sampleAccess(chunkSize: number): Buffer {
  return chunkMessage(CSID.DATA, MSG.DATA_AMF0, STREAM_ID, 0, encodeAmf0('|RtmpSampleAccess', false, false), chunkSize);
}
