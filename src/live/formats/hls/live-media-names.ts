/**
 * File names of one live muxer's media objects — init segments, segments, parts — as listed in
 * LL-HLS playlists and LL-DASH MPDs and served under /live/<streamId>/[<rung>/]:
 *
 *   init_<run>.mp4   init_<run>_<v>.mp4   seg_<run>_<msn>.m4s   part_<run>_<n>.m4s
 *
 * `<run>` identifies one run of one muxer. These objects are sent `immutable` for a year
 * (RFC 8246; RFC 9111 §4.2: a fresh stored response is served without asking the origin), so a URL
 * must name the same bytes forever. The numbers alone do not: they restart at 0 with every muxer
 * (an idle stop after `llhls.idleTimeoutMs`, the stream published again) and every cluster node's
 * muxer counts from its own start. The run id is drawn at random when a muxer is created and kept
 * for its lifetime, so a URL of an earlier run, or of another node, names nothing here (404) rather
 * than other bytes. It sits in the file name, not in a directory, so the routes, the relative URIs
 * of playlists and MPDs (`<rung>/index.m3u8`, `../index.m3u8`) and every proxy rule keyed on
 * `/live/<id>/[<rung>/]<file>` stay as they are.
 */
import { randomInt } from 'node:crypto';

/** Characters of a run id: base36, 36^8 ≈ 2.8 × 10^12 values (randomInt's bound is < 2^48). */
const RUN_CHARS = 8;
const RUN = `[0-9a-z]{${RUN_CHARS}}`;

/** A new run id: 8 base36 characters from the CSPRNG. */
export function newRunId(): string {
  return randomInt(36 ** RUN_CHARS).toString(36).padStart(RUN_CHARS, '0');
}

/** Init segment `version` of run `run` (0: the first configuration; v: after the v-th codec change). */
export function initName(run: string, version: number): string {
  return version === 0 ? `init_${run}.mp4` : `init_${run}_${version}.mp4`;
}

/** Complete (or, for LL-DASH, in-progress) segment `msn` of run `run`. */
export function segmentName(run: string, msn: number): string {
  return `seg_${run}_${msn}.m4s`;
}

/** Part `seq` (numbered across segments) of run `run`. */
export function partName(run: string, seq: number): string {
  return `part_${run}_${seq}.m4s`;
}

/** LL-DASH SegmentTemplate@media of run `run` (ISO/IEC 23009-1 §5.3.9.4.4: `$Number$` = the msn). */
export function segmentTemplate(run: string): string {
  return `seg_${run}_$Number$.m4s`;
}

/** A parsed media file name. */
export interface MediaName {
  kind: 'init' | 'segment' | 'part';
  run: string;
  /** Init version, segment msn or part number. */
  n: number;
}

const MEDIA = new RegExp(`^(?:init_(${RUN})(?:_(\\d{1,6}))?\\.mp4|seg_(${RUN})_(\\d{1,10})\\.m4s|part_(${RUN})_(\\d{1,12})\\.m4s)$`);

/** Parse a media file name (null: not one of the names above). */
export function parseMediaName(file: string): MediaName | null {
  const m = MEDIA.exec(file);
  if (m === null) return null;
  if (m[1] !== undefined) return { kind: 'init', run: m[1], n: Number(m[2] ?? 0) };
  if (m[3] !== undefined) return { kind: 'segment', run: m[3], n: Number(m[4]) };
  return { kind: 'part', run: m[5]!, n: Number(m[6]) };
}
