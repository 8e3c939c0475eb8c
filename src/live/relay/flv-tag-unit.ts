/**
 * One FLV tag of a pulled HTTP-FLV response as a hub MediaUnit (FLV 10.1 Annex E.4 and Enhanced
 * RTMP FourCC tags, the same parsers as RTMP ingest), with the stream metadata it tells: the
 * onMetaData object of a script tag (E.5), the picture size of an AVC sequence header's first SPS.
 * Shared by the cluster relay's upstream (relay-upstream.ts) and pulled HTTP-FLV sources.
 */
import type { FlvTag } from '../formats/flv/flv-demuxer.js';
import { audioToUnit, scriptToUnit, TAG, videoToUnit } from '../formats/flv/flv-tags.js';
import type { MediaUnit } from '../stream/media-unit.js';
import { decodeAmf0, type Amf0Object } from '../rtmp/amf0.js';
import { spsSize } from '../rtp/h264-sps.js';

/** A tag read as a unit, and the metadata it carries (null when none). */
export interface FlvTagUnit {
  unit: MediaUnit;
  meta: Record<string, unknown> | null;
}

/** The unit of an audio, video or script tag; null for other tags and unusable bodies. */
export function flvTagUnit(tag: FlvTag): FlvTagUnit | null {
  let u: MediaUnit | null;
  let meta: Record<string, unknown> | null = null;
  if (tag.type === TAG.VIDEO) u = videoToUnit(tag.body, tag.timestamp);
  else if (tag.type === TAG.AUDIO) u = audioToUnit(tag.body, tag.timestamp);
  else if (tag.type === TAG.SCRIPT) {
    u = scriptToUnit(tag.body, tag.timestamp);
    meta = onMetaData(tag.body);
  } else return null;
  if (u === null) return null;
  if (u.kind === 'video' && u.config && u.codec === 'avc') meta = avcConfigSize(u.payload);
  return { unit: u, meta };
}

/** The onMetaData object (width, height, framerate: playlists and status use them), or null. */
function onMetaData(body: Buffer): Record<string, unknown> | null {
  try {
    const [name, obj] = decodeAmf0(body);
    if (name === 'onMetaData' && obj !== null && typeof obj === 'object' && !Array.isArray(obj) && !(obj instanceof Date)) return { ...(obj as Amf0Object) };
  } catch {
    // not AMF0 metadata: the unit is still passed on as is
  }
  return null;
}

/** Picture size from the first SPS of an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1). */
export function avcConfigSize(record: Buffer): { width: number; height: number } | null {
  if (record.length < 8 || (record[5]! & 0x1f) === 0) return null;
  const len = record.readUInt16BE(6);
  return record.length < 8 + len ? null : spsSize(record.subarray(8, 8 + len));
}
