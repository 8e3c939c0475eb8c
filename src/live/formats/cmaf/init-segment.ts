/**
 * The CMAF header / HLS EXT-X-MAP init segment (ISO/IEC 14496-12 §8.2–§8.8; SPECS.md "fMP4 /
 * CMAF"): `ftyp` + `moov` with one `trak` per track, empty sample tables (every sample lives in
 * fragments), zero durations (a live presentation has none yet) and `mvex`/`trex` announcing
 * that the file is fragmented. One pure function per box, fields commented where not obvious.
 */
import { box, fullBox, u16, u32, UNITY_MATRIX, zeros } from '../../../media/iso-bmff/box.js';
import { sampleEntry, type CmafTrack } from './sample-entry.js';

/** `ftyp` (§4.3): major brand iso6 (tfdt v1, default-base-is-moof), CMAF brand cmfc. */
export function ftyp(): Buffer {
  return box('ftyp', Buffer.from('iso6', 'latin1'), u32(0), Buffer.from('iso6cmfcmp41', 'latin1'));
}

/** `mvhd` (§8.2.2) version 0: movie timescale 1000, duration 0. */
export function mvhd(nextTrackId: number): Buffer {
  return fullBox('mvhd', 0, 0, u32(0, 0, 1000, 0), u32(0x00010000), u16(0x0100, 0), u32(0, 0), UNITY_MATRIX, zeros(24), u32(nextTrackId));
}

/** `tkhd` (§8.3.2) version 0, flags enabled|in_movie; width/height in 16.16 fixed point. */
export function tkhd(t: CmafTrack): Buffer {
  const audio = t.kind === 'audio';
  return fullBox('tkhd', 0, 3, u32(0, 0, t.id, 0, 0), u32(0, 0), u16(0, 0, audio ? 0x0100 : 0, 0), UNITY_MATRIX,
    u32((t.width ?? 0) * 0x10000, (t.height ?? 0) * 0x10000));
}

/** `mdhd` (§8.4.2) version 0: the track timescale, language `und`. */
export function mdhd(timescale: number): Buffer {
  return fullBox('mdhd', 0, 0, u32(0, 0, timescale, 0), u16(0x55c4, 0));
}

/** `hdlr` (§8.4.3): `vide` or `soun`. */
export function hdlr(kind: 'video' | 'audio'): Buffer {
  const name = kind === 'video' ? 'VideoHandler\0' : 'SoundHandler\0';
  return fullBox('hdlr', 0, 0, u32(0), Buffer.from(kind === 'video' ? 'vide' : 'soun', 'latin1'), u32(0, 0, 0), Buffer.from(name, 'latin1'));
}

/** `vmhd` (§12.1.2, flags 1) or `smhd` (§12.2.2) media header. */
export function mediaHeader(kind: 'video' | 'audio'): Buffer {
  return kind === 'video' ? fullBox('vmhd', 0, 1, u16(0, 0, 0, 0)) : fullBox('smhd', 0, 0, u16(0, 0));
}

/** `dinf`/`dref` (§8.7.1–2) with one self-contained `url ` entry (flags 1). */
export function dinf(): Buffer {
  return box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)));
}

/** `stbl` (§8.5.1): the sample description plus empty stts/stsc/stsz/stco. */
export function stbl(t: CmafTrack): Buffer {
  return box('stbl',
    fullBox('stsd', 0, 0, u32(1), sampleEntry(t)),
    fullBox('stts', 0, 0, u32(0)),
    fullBox('stsc', 0, 0, u32(0)),
    fullBox('stsz', 0, 0, u32(0, 0)),
    fullBox('stco', 0, 0, u32(0)));
}

/** `trak` (§8.3.1) → tkhd + mdia(mdhd, hdlr, minf(vmhd|smhd, dinf, stbl)). */
export function trak(t: CmafTrack): Buffer {
  const minf = box('minf', mediaHeader(t.kind), dinf(), stbl(t));
  return box('trak', tkhd(t), box('mdia', mdhd(t.timescale), hdlr(t.kind), minf));
}

/** `trex` (§8.8.3): defaults are all given per sample in trun, so they are zero here. */
export function trex(trackId: number): Buffer {
  return fullBox('trex', 0, 0, u32(trackId, 1, 0, 0, 0));
}

/** `moov` (§8.2.1) for `tracks`, with `mvex` (§8.8.1) marking the movie as fragmented. */
export function moov(tracks: readonly CmafTrack[]): Buffer {
  const next = Math.max(0, ...tracks.map((t) => t.id)) + 1;
  return box('moov', mvhd(next), ...tracks.map(trak), box('mvex', ...tracks.map((t) => trex(t.id))));
}

/** The complete init segment: ftyp + moov. */
export function initSegment(tracks: readonly CmafTrack[]): Buffer {
  return Buffer.concat([ftyp(), moov(tracks)]);
}
