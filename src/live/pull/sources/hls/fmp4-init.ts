/**
 * The tracks of an fMP4 initialisation section (EXT-X-MAP, RFC 8216 §3.3): ISO/IEC 14496-12 moov →
 * trak (tkhd track_ID §8.3.2, mdhd timescale §8.4.2, hdlr §8.4.3, stsd §8.5.2) and mvex/trex
 * defaults (§8.8.3). Sample entries read: avc1/avc3 (avcC, ISO/IEC 14496-15 §5.3.3.1), hvc1/hev1
 * (hvcC §8.3.3.1), mp4a (esds, ISO/IEC 14496-1 §7.2.6.5 → AudioSpecificConfig) and Opus (dOps,
 * the Opus-in-ISOBMFF mapping §4.3.2 → an OpusHead). Other codecs are refused by name.
 */
import { childBoxes, findBox } from '../../../../media/iso-bmff/find-box.js';
import type { LiveCodec } from '../../../stream/media-unit.js';
import { opusHead } from '../../../formats/flv/unit-builders.js';

/** One track of the init section. */
export interface Fmp4Track {
  id: number;
  kind: 'video' | 'audio';
  codec: LiveCodec;
  timescale: number;
  /** Decoder configuration: avcC/hvcC record, AudioSpecificConfig or OpusHead. */
  config: Buffer;
  /** Bytes of each NAL unit length prefix (video). */
  lengthSize: number;
  /** trex defaults (§8.8.3). */
  defaultDuration: number;
  defaultSize: number;
  defaultFlags: number;
}

/** Thrown for an init section that cannot be used. */
export class Fmp4Error extends Error {}

/** The video and audio tracks of an init section, by track_ID. */
export function parseInit(buf: Buffer): Map<number, Fmp4Track> {
  const moov = findBox(buf, ['moov']);
  if (moov === null) throw new Fmp4Error('the init section has no moov');
  const tracks = new Map<number, Fmp4Track>();
  const trex = new Map<number, Buffer>();
  const mvex = findBox(moov, ['mvex']);
  if (mvex !== null) for (const b of childBoxes(mvex, 0, mvex.length)) if (b.type === 'trex') trex.set(mvex.readUInt32BE(b.at + 12), mvex.subarray(b.at + 8, b.at + b.size));
  for (const b of childBoxes(moov, 0, moov.length)) {
    if (b.type !== 'trak') continue;
    const trak = moov.subarray(b.at, b.at + b.size);
    const t = readTrack(trak, trex);
    if (t !== null) tracks.set(t.id, t);
  }
  if (tracks.size === 0) throw new Fmp4Error('the init section has no audio or video track');
  return tracks;
}

function readTrack(trak: Buffer, trex: Map<number, Buffer>): Fmp4Track | null {
  const tkhd = findBox(trak, ['trak', 'tkhd']);
  const mdhd = findBox(trak, ['trak', 'mdia', 'mdhd']);
  const hdlr = findBox(trak, ['trak', 'mdia', 'hdlr']);
  const stsd = findBox(trak, ['trak', 'mdia', 'minf', 'stbl', 'stsd']);
  if (tkhd === null || mdhd === null || hdlr === null || stsd === null || stsd.length < 16) throw new Fmp4Error('a trak without tkhd, mdhd, hdlr or stsd');
  const handler = hdlr.toString('latin1', 8, 12);
  if (handler !== 'vide' && handler !== 'soun') return null;
  const id = tkhd.readUInt32BE(tkhd[0] === 1 ? 20 : 12);
  const timescale = mdhd.readUInt32BE(mdhd[0] === 1 ? 20 : 12);
  if (timescale === 0) throw new Fmp4Error(`track ${id}: timescale 0`);
  const entry = stsd.subarray(8, 8 + stsd.readUInt32BE(8));
  const type = entry.toString('latin1', 4, 8);
  const video = handler === 'vide';
  const children = (skip: number) => {
    const map = new Map<string, Buffer>();
    if (entry.length >= 8 + skip) for (const c of childBoxes(entry, 8 + skip, entry.length)) map.set(c.type, entry.subarray(c.at + 8, c.at + c.size));
    return map;
  };
  const d = trex.get(id);
  const base = { id, timescale, defaultDuration: d?.readUInt32BE(12) ?? 0, defaultSize: d?.readUInt32BE(16) ?? 0, defaultFlags: d?.readUInt32BE(20) ?? 0 };
  if (video) {
    const boxes = children(78);
    const avcC = boxes.get('avcC');
    const hvcC = boxes.get('hvcC');
    if ((type === 'avc1' || type === 'avc3') && avcC !== undefined && avcC.length >= 7) return { ...base, kind: 'video', codec: 'avc', config: avcC, lengthSize: (avcC[4]! & 3) + 1 };
    if ((type === 'hvc1' || type === 'hev1') && hvcC !== undefined && hvcC.length >= 23) return { ...base, kind: 'video', codec: 'hevc', config: hvcC, lengthSize: (hvcC[21]! & 3) + 1 };
    throw new Fmp4Error(`video codec ${JSON.stringify(type)} is not supported (H.264 and H.265 are)`);
  }
  const boxes = children(28);
  const esds = boxes.get('esds');
  const dOps = boxes.get('dOps');
  if (type === 'mp4a' && esds !== undefined) return { ...base, kind: 'audio', codec: 'aac', config: audioSpecificConfig(esds), lengthSize: 0 };
  if (type === 'Opus' && dOps !== undefined && dOps.length >= 11) return { ...base, kind: 'audio', codec: 'opus', config: opusHead(dOps[1]!, dOps.readUInt16BE(2)), lengthSize: 0 };
  throw new Fmp4Error(`audio codec ${JSON.stringify(type)} is not supported (AAC and Opus are)`);
}

/** The DecoderSpecificInfo of an esds box: ES_Descriptor (tag 3) → DecoderConfigDescriptor (4) → (5). */
function audioSpecificConfig(esds: Buffer): Buffer {
  let off = 4;
  const descriptor = (): { tag: number; size: number } => {
    const tag = esds[off++] ?? 0;
    let size = 0;
    for (let i = 0; i < 4; i++) {
      const b = esds[off++] ?? 0;
      size = (size << 7) | (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
    return { tag, size };
  };
  while (off < esds.length) {
    const { tag, size } = descriptor();
    if (tag === 3) {
      const flags = esds[off + 2] ?? 0;
      off += 3 + (flags & 0x80 ? 2 : 0) + (flags & 0x20 ? 2 : 0);
      if (flags & 0x40) off += 1 + (esds[off] ?? 0);
    } else if (tag === 4) off += 13;
    else if (tag === 5) {
      if (off + size > esds.length || size === 0) break;
      return Buffer.from(esds.subarray(off, off + size));
    } else off += size;
  }
  throw new Fmp4Error('mp4a without an AudioSpecificConfig');
}
