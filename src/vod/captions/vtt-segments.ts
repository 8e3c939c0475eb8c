/**
 * Segmented WebVTT for HLS (RFC 8216 §3.5): one .vtt file per video segment, covering the same
 * time range, and the subtitle media playlist naming them. Each file maps its local cue times to
 * the media timeline with `X-TIMESTAMP-MAP=MPEGTS:<90 kHz>,LOCAL:00:00:00.000`: LOCAL 0 is the
 * segment's start, MPEGTS the presentation time of that start on the 90 kHz clock of the media
 * (the first segment's decode time, its "base", plus the segment start), wrapped to 33 bits like
 * MPEG-2 TS timestamps. hls.js subtracts its initPTS (that same base) from MPEGTS, so cues land on
 * the player's timeline however the CMAF segments' decode times begin.
 *
 * A cue spanning a boundary is cut at it and written to each segment it overlaps (RFC 8216 §3.5
 * lets a cue appear in several segments; cutting keeps a player that loads both from showing it
 * twice). Pieces lose their cue identifier, since hls.js keeps only the first cue of an id.
 */
import { cueText, type CaptionDoc, type Cue } from './webvtt.js';

/** A segment of the media timeline: start and duration in seconds. */
export interface TimeRange {
  startS: number;
  durationS: number;
}

/** A written subtitle segment. */
export interface VttSegment {
  uri: string;
  durationS: number;
  text: string;
}

const MPEGTS_WRAP = 2 ** 33;

/** Segment ranges from segment durations (cumulated, rounded to the microsecond). */
export function rangesOf(durations: number[]): TimeRange[] {
  let t = 0;
  return durations.map((d) => {
    const r = { startS: Math.round(t * 1e6) / 1e6, durationS: d };
    t += d;
    return r;
  });
}

/** The X-TIMESTAMP-MAP header line of a segment starting at `startS` of media whose first decode time is `baseS`. */
export function timestampMap(startS: number, baseS: number): string {
  const mpegts = Math.round((startS + baseS) * 90000) % MPEGTS_WRAP;
  return `X-TIMESTAMP-MAP=MPEGTS:${mpegts},LOCAL:00:00:00.000`;
}

/** Cut the cues along `ranges` into one WebVTT file per range. Cues after the last range go into it. */
export function segmentCues(doc: CaptionDoc, ranges: TimeRange[], baseS: number): VttSegment[] {
  return ranges.map((r, i) => {
    const from = r.startS;
    const to = i === ranges.length - 1 ? Number.POSITIVE_INFINITY : r.startS + r.durationS;
    const inside = doc.cues.filter((c) => overlaps(c, from, to));
    const pieces = inside.map((c) => {
      const startS = Math.max(c.startS, from);
      const endS = Math.min(c.endS, to);
      const whole = startS === c.startS && endS === c.endS;
      return cueText(c, { offsetS: from, startS, endS, withId: whole });
    });
    const text = `${[['WEBVTT', timestampMap(from, baseS)].join('\n'), ...doc.blocks, ...pieces].join('\n\n')}\n`;
    return { uri: `seg_${String(i).padStart(5, '0')}.vtt`, durationS: r.durationS, text };
  });
}

/** True when the cue shows during [from, to); a zero-length cue belongs where it starts. */
function overlaps(c: Cue, from: number, to: number): boolean {
  if (c.endS === c.startS) return c.startS >= from && c.startS < to;
  return c.startS < to && c.endS > from;
}

/** The subtitle media playlist (RFC 8216 §4.3): VOD, EXT-X-TARGETDURATION ≥ every rounded EXTINF (§4.3.3.1). */
export function subtitlePlaylist(segments: VttSegment[]): string {
  const target = Math.max(1, ...segments.map((s) => Math.round(s.durationS)));
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', `#EXT-X-TARGETDURATION:${target}`, '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD'];
  for (const s of segments) lines.push(`#EXTINF:${s.durationS.toFixed(6)},`, s.uri);
  lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
