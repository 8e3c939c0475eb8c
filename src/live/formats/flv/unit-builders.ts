/**
 * MediaUnits built from bare codec payloads, for ingests that do not arrive as FLV (WHIP/RTP,
 * ffmpeg children in the audio bridge). Every unit still carries the FLV tag body it would travel
 * in (MediaUnit.body), so HTTP-FLV/RTMP outputs and the GOP cache treat it like an RTMP unit:
 * legacy AVC and AAC tags (FLV 10.1 §E.4.2.1 / §E.4.3.1) and the Enhanced RTMP v2 ExAudioTagHeader
 * with FourCC `Opus` (there is no legacy FLV Opus codec id).
 */
import type { MediaUnit } from '../../stream/media-unit.js';

/**
 * An AVC access unit from its NAL units (no start codes), times in ms. The FLV body and its AVCC
 * payload (4-byte length prefixes, ISO/IEC 14496-15 §5.3.2) are written into one allocation: this
 * runs once per frame of every WebRTC publisher.
 */
export function avcUnit(nalus: readonly Buffer[], dts: number, pts: number, keyframe: boolean): MediaUnit {
  let size = 5;
  for (const n of nalus) size += 4 + n.length;
  const body = Buffer.allocUnsafe(size);
  body[0] = (keyframe ? 0x10 : 0x20) | 7; // frameType 1 key / 2 inter, codec id 7 = AVC
  body[1] = 1; // AVCPacketType 1: NALUs
  body.writeIntBE(Math.round(pts - dts), 2, 3); // CompositionTime (signed 24-bit ms)
  let off = 5;
  for (const n of nalus) {
    body.writeUInt32BE(n.length, off);
    n.copy(body, off + 4);
    off += 4 + n.length;
  }
  return { kind: 'video', codec: 'avc', dts, pts, keyframe, config: false, payload: body.subarray(5), body };
}

/** An AVC sequence header from an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1). */
export function avcConfigUnit(record: Buffer, dts: number): MediaUnit {
  const body = Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0]), record]);
  return { kind: 'video', codec: 'avc', dts, pts: dts, keyframe: true, config: true, payload: body.subarray(5), body };
}

/** AVCDecoderConfigurationRecord from one SPS and one or more PPS NAL units (without start codes). */
export function avcDecoderConfig(sps: Buffer, pps: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from([1, sps[1] ?? 0x42, sps[2] ?? 0, sps[3] ?? 0x1f, 0xff, 0xe1])];
  const len = (b: Buffer) => Buffer.from([b.length >> 8, b.length & 0xff]);
  parts.push(len(sps), sps, Buffer.from([pps.length]));
  for (const p of pps) parts.push(len(p), p);
  return Buffer.concat(parts);
}

/** A raw AAC frame (no ADTS header). */
export function aacUnit(frame: Buffer, dts: number): MediaUnit {
  const body = Buffer.concat([Buffer.from([0xaf, 1]), frame]);
  return { kind: 'audio', codec: 'aac', dts, pts: dts, keyframe: true, config: false, payload: body.subarray(2), body };
}

/** An AAC sequence header from an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1). */
export function aacConfigUnit(asc: Buffer, dts: number): MediaUnit {
  const body = Buffer.concat([Buffer.from([0xaf, 0]), asc]);
  return { kind: 'audio', codec: 'aac', dts, pts: dts, keyframe: true, config: true, payload: body.subarray(2), body };
}

const OPUS_FOURCC = Buffer.from('Opus', 'latin1');

/** One Opus packet (RFC 6716), as an Enhanced RTMP CodedFrames audio unit. */
export function opusUnit(packet: Buffer, dts: number): MediaUnit {
  const body = Buffer.concat([Buffer.from([0x91]), OPUS_FOURCC, packet]); // soundFormat 9 (ExHeader), packetType 1
  return { kind: 'audio', codec: 'opus', dts, pts: dts, keyframe: true, config: false, payload: body.subarray(5), body };
}

/** An Opus sequence header carrying an RFC 7845 §5.1 OpusHead. */
export function opusConfigUnit(opusHead: Buffer, dts: number): MediaUnit {
  const body = Buffer.concat([Buffer.from([0x90]), OPUS_FOURCC, opusHead]); // packetType 0: SequenceStart
  return { kind: 'audio', codec: 'opus', dts, pts: dts, keyframe: true, config: true, payload: body.subarray(5), body };
}

/** A minimal OpusHead (RFC 7845 §5.1): version 1, `channels`, pre-skip 312, 48 kHz, mapping family 0. */
export function opusHead(channels = 2, preSkip = 312): Buffer {
  const b = Buffer.alloc(19);
  b.write('OpusHead', 0, 'latin1');
  b[8] = 1;
  b[9] = channels;
  b.writeUInt16LE(preSkip, 10);
  b.writeUInt32LE(48000, 12);
  b.writeInt16LE(0, 16);
  b[18] = 0;
  return b;
}
