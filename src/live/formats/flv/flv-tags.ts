/**
 * FLV tags ↔ MediaUnits (FLV 10.1 Annex E; Enhanced RTMP v2). `videoToUnit` / `audioToUnit` are
 * the `to_stream` side: they parse the tag header byte(s) of an RTMP audio/video message body —
 * legacy codec ids (AVC 7, AAC 10, MP3 2) and Enhanced RTMP ExHeaders with FourCC (`hvc1`, `av01`,
 * `vp09`, `avc1`, `Opus`, `fLaC`, `ac-3`, `ec-3`, `mp4a`) — without copying the payload.
 * `flvTagOf` is the `from_stream` side: one complete FLV tag per unit, built once and cached.
 */
import type { LiveCodec, MediaUnit } from '../../stream/media-unit.js';

/** FLV tag types (E.4.1). */
export const TAG = { AUDIO: 8, VIDEO: 9, SCRIPT: 18 } as const;

const VIDEO_FOURCC: Record<string, LiveCodec> = { hvc1: 'hevc', av01: 'av1', vp09: 'vp9', avc1: 'avc', vp08: 'vp8' };
const AUDIO_FOURCC: Record<string, LiveCodec> = { Opus: 'opus', fLaC: 'flac', 'ac-3': 'ac3', 'ec-3': 'eac3', mp4a: 'aac', '.mp3': 'mp3' };

/** Parse an FLV VIDEODATA body (E.4.3.1 / Enhanced RTMP ExVideoTagHeader); null if unusable. */
export function videoToUnit(body: Buffer, dts: number): MediaUnit | null {
  if (body.length < 1) return null;
  const b0 = body[0]!;
  if (b0 & 0x80) {
    // Enhanced RTMP: [isExHeader:1][frameType:3][packetType:4][FourCC:4]...
    if (body.length < 5) return null;
    const frameType = (b0 >> 4) & 7;
    const packetType = b0 & 0x0f;
    const codec = VIDEO_FOURCC[body.toString('latin1', 1, 5)] ?? 'other';
    if (frameType === 5 || packetType === 2 || packetType > 4 && packetType !== 5) return null; // command frame, SequenceEnd, multitrack/modex: not carried
    let cts = 0;
    let off = 5;
    if (packetType === 1 && (codec === 'avc' || codec === 'hevc')) {
      if (body.length < 8) return null;
      cts = body.readIntBE(5, 3);
      off = 8;
    }
    const config = packetType === 0 || packetType === 5;
    if (packetType === 4) return { kind: 'video', codec, dts, pts: dts, keyframe: false, config: false, payload: body.subarray(off), body }; // HDR metadata rides with the video
    return { kind: 'video', codec, dts, pts: dts + cts, keyframe: frameType === 1 || config, config, payload: body.subarray(off), body };
  }
  const frameType = b0 >> 4;
  const codecId = b0 & 0x0f;
  if (frameType === 5) return null; // video info/command frame
  if (codecId === 7 || codecId === 12) {
    if (body.length < 5) return null;
    const packetType = body[1]!;
    if (packetType === 2) return null; // end of sequence
    const cts = body.readIntBE(2, 3);
    const config = packetType === 0;
    return { kind: 'video', codec: codecId === 7 ? 'avc' : 'hevc', dts, pts: dts + cts, keyframe: frameType === 1 || config, config, payload: body.subarray(5), body };
  }
  return { kind: 'video', codec: 'other', dts, pts: dts, keyframe: frameType === 1, config: false, payload: body.subarray(1), body };
}

/** Parse an FLV AUDIODATA body (E.4.2.1 / Enhanced RTMP ExAudioTagHeader); null if unusable. */
export function audioToUnit(body: Buffer, dts: number): MediaUnit | null {
  if (body.length < 1) return null;
  const format = body[0]! >> 4;
  if (format === 9) {
    // Enhanced RTMP: [soundFormat=9:4][packetType:4][FourCC:4]...
    if (body.length < 5) return null;
    const packetType = body[0]! & 0x0f;
    if (packetType !== 0 && packetType !== 1) return null; // SequenceEnd, multichannel config, multitrack: not carried
    const codec = AUDIO_FOURCC[body.toString('latin1', 1, 5)] ?? 'other';
    return { kind: 'audio', codec, dts, pts: dts, keyframe: true, config: packetType === 0, payload: body.subarray(5), body };
  }
  if (format === 10) {
    if (body.length < 2) return null;
    const config = body[1] === 0;
    return { kind: 'audio', codec: 'aac', dts, pts: dts, keyframe: true, config, payload: body.subarray(2), body };
  }
  return { kind: 'audio', codec: format === 2 || format === 14 ? 'mp3' : 'other', dts, pts: dts, keyframe: true, config: false, payload: body.subarray(1), body };
}

/** A script-data unit (onMetaData) from an AMF0 body. */
export function scriptToUnit(body: Buffer, dts: number): MediaUnit {
  return { kind: 'data', codec: 'amf0', dts, pts: dts, keyframe: false, config: true, payload: body, body };
}

/** The complete FLV tag of a unit (E.4.1: header, body, PreviousTagSize), built once per unit. */
export function flvTagOf(u: MediaUnit): Buffer {
  if (u.flvTag !== undefined) return u.flvTag;
  const type = u.kind === 'video' ? TAG.VIDEO : u.kind === 'audio' ? TAG.AUDIO : TAG.SCRIPT;
  const n = u.body.length;
  const tag = Buffer.allocUnsafe(11 + n + 4);
  tag[0] = type;
  tag.writeUIntBE(n, 1, 3);
  const ts = u.dts >>> 0;
  tag.writeUIntBE(ts & 0xffffff, 4, 3);
  tag[7] = (ts >>> 24) & 0xff;
  tag.writeUIntBE(0, 8, 3);
  u.body.copy(tag, 11);
  tag.writeUInt32BE(11 + n, 11 + n);
  u.flvTag = tag;
  return tag;
}

/** `buf` framed as one HTTP/1.1 chunk (RFC 9112 §7.1): size in hex, CRLF, data, CRLF. */
export function httpChunk(buf: Buffer): Buffer {
  const head = `${buf.length.toString(16)}\r\n`;
  const out = Buffer.allocUnsafe(head.length + buf.length + 2);
  out.write(head, 0, 'latin1');
  buf.copy(out, head.length);
  out.write('\r\n', head.length + buf.length, 'latin1');
  return out;
}

/** The unit's FLV tag framed as an HTTP chunk, built once per unit and shared by HTTP-FLV viewers. */
export function httpChunkOf(u: MediaUnit): Buffer {
  u.httpChunk ??= httpChunk(flvTagOf(u));
  return u.httpChunk;
}

/** FLV file header (E.2) plus PreviousTagSize0. */
export function flvHeader(hasAudio: boolean, hasVideo: boolean): Buffer {
  const b = Buffer.from([0x46, 0x4c, 0x56, 1, (hasAudio ? 4 : 0) | (hasVideo ? 1 : 0), 0, 0, 0, 9, 0, 0, 0, 0]);
  return b;
}
