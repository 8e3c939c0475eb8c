/**
 * The one internal unit of live media. Ingest protocols convert their packets into MediaUnits
 * (`to_stream`), outputs convert MediaUnits into their wire format (`from_stream`). A unit keeps
 * the codec-level fields every muxer needs (codec, dts/pts, keyframe, decoder-config flag, payload)
 * and, because FLV/RTMP are the common case, the FLV tag body it arrived in: FLV and RTMP outputs
 * serialise it ONCE per stream and cache the Buffer on the unit, so N viewers share one Buffer.
 */

/** What a unit carries. */
export type TrackKind = 'video' | 'audio' | 'data';

/** Codec names used across Strom's live code (FourCC-derived for Enhanced RTMP). */
export type LiveCodec = 'avc' | 'hevc' | 'av1' | 'vp9' | 'vp8' | 'aac' | 'opus' | 'mp3' | 'flac' | 'ac3' | 'eac3' | 'amf0' | 'other';

/** One access unit (or a decoder configuration, or script data). */
export interface MediaUnit {
  kind: TrackKind;
  codec: LiveCodec;
  /** Decode timestamp in ms. */
  dts: number;
  /** Presentation timestamp in ms (dts + composition offset). */
  pts: number;
  /** Random access point: a viewer may start decoding here. */
  keyframe: boolean;
  /** Decoder configuration (AVC/HEVC/AV1 sequence header, AudioSpecificConfig, Opus head...). */
  config: boolean;
  /** The codec payload: NAL units, OBU stream, raw AAC frame... */
  payload: Buffer;
  /** The FLV tag body this unit travels in (header byte(s) + payload). */
  body: Buffer;
  /** Lazily built complete FLV tag (header + body + PreviousTagSize), shared by every reader. */
  flvTag?: Buffer;
  /** Lazily built FLV tag framed as an HTTP/1.1 chunk, shared by every HTTP-FLV viewer. */
  httpChunk?: Buffer;
  /** Lazily built RTMP chunks of this unit, shared by every RTMP player. */
  rtmpChunks?: Buffer;
  /** Lazily built RTP payloads of this unit (RFC 6184/7798/3640/7587), shared by every RTSP reader. */
  rtpPayloads?: ReadonlyArray<{ payload: Buffer; marker: boolean }>;
}

/** Bytes a unit costs in a reader's queue (its FLV tag size). */
export function unitBytes(u: MediaUnit): number {
  return u.body.length + 15;
}

/** Per-track decoder configuration of a stream, as learnt from sequence headers and metadata. */
export interface TrackConfig {
  video?: { codec: LiveCodec; codecString: string; width?: number; height?: number; config: MediaUnit };
  audio?: { codec: LiveCodec; codecString: string; sampleRate?: number; channels?: number; config: MediaUnit };
}
