/**
 * Sample entries of the `stsd` box (ISO/IEC 14496-12 §8.5.2, §12.1.3 VisualSampleEntry, §12.2.3
 * AudioSampleEntry) with their codec configuration boxes, built from the sequence headers a
 * publisher sends: AVC `avc1`+`avcC` and HEVC `hvc1`+`hvcC` (ISO/IEC 14496-15 §5.4, §8.4 — the FLV
 * sequence header IS the decoder configuration record), AV1 `av01`+`av1C` (AV1-ISOBMFF §2.3),
 * AAC `mp4a`+`esds` (ISO/IEC 14496-1 §7.2.6.5 ES_Descriptor around the AudioSpecificConfig) and Opus
 * `Opus`+`dOps` (Opus-in-ISOBMFF §4.3, converted from the RFC 7845 OpusHead Enhanced RTMP carries).
 */
import { fail } from '../../../errors.js';
import type { LiveCodec } from '../../stream/media-unit.js';
import { box, fullBox, u16, u32, u8, zeros } from '../../../media/iso-bmff/box.js';

/** What an init segment needs to know about one track. */
export interface CmafTrack {
  /** track_ID (1-based). */
  id: number;
  kind: 'video' | 'audio';
  codec: LiveCodec;
  /** Media timescale: 90 kHz video, the sample rate for audio. */
  timescale: number;
  /** The codec's decoder configuration (sequence header payload). */
  config: Buffer;
  width?: number;
  height?: number;
  sampleRate?: number;
  channels?: number;
}

/** An MPEG-4 descriptor (ISO/IEC 14496-1 §8.3.3): tag, 4-byte expandable size, body. */
function descriptor(tag: number, ...body: Buffer[]): Buffer {
  const data = Buffer.concat(body);
  const n = data.length;
  return Buffer.concat([u8(tag, 0x80 | ((n >> 21) & 0x7f), 0x80 | ((n >> 14) & 0x7f), 0x80 | ((n >> 7) & 0x7f), n & 0x7f), data]);
}

/** `esds` (ISO/IEC 14496-14 §5.6): ES_Descriptor → DecoderConfigDescriptor(AAC) → AudioSpecificConfig. */
export function esds(trackId: number, asc: Buffer): Buffer {
  const dcd = descriptor(4, u8(0x40 /* MPEG-4 Audio */, (0x05 << 2) | 1 /* AudioStream */), zeros(3), u32(0, 0), descriptor(5, asc));
  return fullBox('esds', 0, 0, descriptor(3, u16(trackId), u8(0), dcd, descriptor(6, u8(2))));
}

/** `dOps` (Opus in ISOBMFF §4.3.2) from an OpusHead packet (RFC 7845 §5.1, little-endian fields). */
export function dOps(opusHead: Buffer): Buffer {
  const h = opusHead.toString('latin1', 0, 8) === 'OpusHead' ? opusHead : null;
  if (h === null || h.length < 19) throw fail('BAD_REQUEST', `Opus sequence header is not an OpusHead (${opusHead.length} bytes)`);
  const channels = h[9]!;
  const family = h[18]!;
  const head = Buffer.allocUnsafe(11);
  head[0] = 0; // version
  head[1] = channels;
  head.writeUInt16BE(h.readUInt16LE(10), 2); // PreSkip
  head.writeUInt32BE(h.readUInt32LE(12), 4); // InputSampleRate
  head.writeInt16BE(h.readInt16LE(16), 8); // OutputGain
  head[10] = family;
  const mapping = family === 0 ? Buffer.alloc(0) : h.subarray(19, 21 + channels);
  return box('dOps', head, mapping);
}

/** VisualSampleEntry (§12.1.3) of `type` around its configuration box. */
function visualEntry(type: string, t: CmafTrack, configBox: Buffer): Buffer {
  const name = zeros(32);
  return box(type,
    zeros(6), u16(1), // reserved, data_reference_index
    u16(0, 0), u32(0, 0, 0), // pre_defined, reserved, pre_defined[3]
    u16(t.width ?? 0, t.height ?? 0),
    u32(0x00480000, 0x00480000, 0), // 72 dpi, reserved
    u16(1), name, u16(0x0018, 0xffff), // frame_count, compressorname, depth, pre_defined = -1
    configBox);
}

/** AudioSampleEntry (§12.2.3) of `type` around its configuration box. */
function audioEntry(type: string, t: CmafTrack, configBox: Buffer): Buffer {
  const rate = Math.min(t.sampleRate ?? t.timescale, 0xffff);
  return box(type, zeros(6), u16(1), u32(0, 0), u16(t.channels ?? 2, 16, 0, 0), u32(rate * 0x10000), configBox);
}

/** The sample entry for a track's codec; throws for codecs CMAF output does not carry. */
export function sampleEntry(t: CmafTrack): Buffer {
  switch (t.codec) {
    case 'avc': return visualEntry('avc1', t, box('avcC', t.config));
    case 'hevc': return visualEntry('hvc1', t, box('hvcC', t.config));
    case 'av1': return visualEntry('av01', t, box('av1C', t.config));
    case 'aac': return audioEntry('mp4a', t, esds(t.id, t.config));
    case 'opus': return audioEntry('Opus', { ...t, sampleRate: 48000 }, dOps(t.config));
    default: throw fail('BAD_REQUEST', `codec ${t.codec} cannot be packaged as CMAF`);
  }
}

/** RFC 6381 codec parameter for a track, as HLS CODECS and DASH @codecs expect. */
export function codecParameter(t: Pick<CmafTrack, 'codec' | 'config'>, fallback: string): string {
  const c = t.config;
  if (t.codec === 'avc' && c.length >= 4) return `avc1.${c.subarray(1, 4).toString('hex')}`;
  if (t.codec === 'opus') return 'opus';
  if (t.codec === 'aac' && c.length >= 1) return `mp4a.40.${c[0]! >> 3}`;
  return fallback;
}
