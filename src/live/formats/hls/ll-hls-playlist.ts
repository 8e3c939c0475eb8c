/**
 * LL-HLS and plain HLS media playlists, and the master playlist, rendered from a snapshot of the
 * live window (draft-pantos-hls-rfc8216bis-16):
 * - §4.4.3.7 EXT-X-PART-INF before the first segment; §4.4.4.9 EXT-X-PART (INDEPENDENT=YES on
 *   parts that start with a keyframe); §4.4.5.2 EXT-X-PRELOAD-HINT for the next part (one, none
 *   after ENDLIST); §4.4.3.8 EXT-X-SERVER-CONTROL with CAN-BLOCK-RELOAD, PART-HOLD-BACK = 3 × part
 *   target, CAN-SKIP-UNTIL = 6 × target duration; §4.4.5.1 EXT-X-SKIP for delta updates
 *   (_HLS_skip, version 9); §4.4.4.6 EXT-X-PROGRAM-DATE-TIME on every segment (ms, UTC);
 *   §4.4.5.4 EXT-X-RENDITION-REPORT per other rendition; §4.4.4.3/§4.4.3.3 EXT-X-DISCONTINUITY
 *   (+ a new EXT-X-MAP) where the codec configuration changed.
 * - Parts are listed for the segments covering the last 3 × target duration (§6.2.2: parts stay
 *   listed that long); older segments are listed whole.
 * - The plain view lists complete segments only, with no LL tags (players without LL support).
 */

/** One segment of the window, complete or in progress. */
export interface PlaylistSegment {
  msn: number;
  durationS: number;
  /** Wall-clock time of the segment's first sample (ms since epoch). */
  pdtMs: number;
  complete: boolean;
  uri: string;
  parts: Array<{ uri: string; durationS: number; independent: boolean }>;
  /** EXT-X-DISCONTINUITY before this segment (its codec configuration changed, §4.4.4.3). */
  discontinuity?: boolean;
  /** EXT-X-MAP URI of this segment when it is not `initUri`. */
  mapUri?: string;
}

/** Everything a media playlist shows. */
export interface MediaPlaylistInput {
  targetDurationS: number;
  partTargetS: number;
  initUri: string;
  segments: readonly PlaylistSegment[];
  /** URI of the next, not yet complete part (PRELOAD-HINT); null after the end. */
  preloadHint: string | null;
  ended: boolean;
  /** Discontinuities before the first listed segment (§4.4.3.3). */
  discontinuitySequence?: number;
  /** Other renditions to report (§4.4.5.4). */
  renditionReports?: ReadonlyArray<{ uri: string; lastMsn: number; lastPart: number }>;
}

const fmt = (s: number) => s.toFixed(5).replace(/0+$/, '').replace(/\.$/, '.0');

/** CAN-SKIP-UNTIL advertised for a target duration (§4.4.3.8: at least 6 × target duration). */
export function skipUntilS(targetDurationS: number): number {
  return 6 * targetDurationS;
}

/** Leading segments a delta update skips (§6.2.5.1): those ending ≥ CAN-SKIP-UNTIL before the end (conservative). */
export function skippableSegments(p: MediaPlaylistInput): number {
  const limit = skipUntilS(p.targetDurationS);
  let fromEnd = 0;
  let n = 0;
  for (let i = p.segments.length - 1; i >= 0; i--) {
    const s = p.segments[i]!;
    if (fromEnd >= limit && s.complete) { n = i + 1; break; }
    fromEnd += s.durationS;
  }
  return n;
}

/** Index of the first segment whose parts are listed: the last 3 × target duration are covered. */
export function partWindowStart(p: MediaPlaylistInput): number {
  let acc = 0;
  for (let i = p.segments.length - 1; i >= 0; i--) {
    acc += p.segments[i]!.durationS;
    if (acc >= 3 * p.targetDurationS) return i;
  }
  return 0;
}

/** Header lines shared by both views; returns them and the map in force. */
function head(p: MediaPlaylistInput, version: number, first: PlaylistSegment | undefined, ll: string[]): string[] {
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${version}`, `#EXT-X-TARGETDURATION:${p.targetDurationS}`, ...ll, `#EXT-X-MEDIA-SEQUENCE:${first?.msn ?? 0}`];
  if ((p.discontinuitySequence ?? 0) > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${p.discontinuitySequence}`);
  return lines;
}

/** Segment lines: DISCONTINUITY and MAP where they change, PDT, parts (when `withParts`), EXTINF. */
function segmentLines(lines: string[], segs: readonly PlaylistSegment[], p: MediaPlaylistInput, partFrom: number, offset: number): void {
  let map = '';
  segs.forEach((s, k) => {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    const m = s.mapUri ?? p.initUri;
    if (m !== map) lines.push(`#EXT-X-MAP:URI="${m}"`);
    map = m;
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.pdtMs).toISOString()}`);
    if (k + offset >= partFrom) {
      for (const part of s.parts) lines.push(`#EXT-X-PART:DURATION=${fmt(part.durationS)},URI="${part.uri}"${part.independent ? ',INDEPENDENT=YES' : ''}`);
    }
    if (s.complete) lines.push(`#EXTINF:${fmt(s.durationS)},`, s.uri);
  });
}

/** The LL-HLS media playlist; `skip` renders a delta update (EXT-X-SKIP). */
export function renderLlPlaylist(p: MediaPlaylistInput, skip = false): string {
  const skipped = skip ? skippableSegments(p) : 0;
  const lines = head(p, skip ? 9 : 6, p.segments[0], [
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=${fmt(skipUntilS(p.targetDurationS))},PART-HOLD-BACK=${fmt(3 * p.partTargetS)}`,
    `#EXT-X-PART-INF:PART-TARGET=${fmt(p.partTargetS)}`,
  ]);
  if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
  segmentLines(lines, p.segments.slice(skipped), p, partWindowStart(p), skipped);
  if (p.ended) lines.push('#EXT-X-ENDLIST');
  else if (p.preloadHint !== null) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${p.preloadHint}"`);
  for (const r of p.renditionReports ?? []) lines.push(`#EXT-X-RENDITION-REPORT:URI="${r.uri}",LAST-MSN=${r.lastMsn},LAST-PART=${r.lastPart}`);
  return `${lines.join('\n')}\n`;
}

/** The plain (non-LL) live media playlist over the same complete segments (RFC 8216 §4.3.3). */
export function renderPlainPlaylist(p: MediaPlaylistInput): string {
  const done = p.segments.filter((s) => s.complete);
  const lines = head(p, 6, done[0], []);
  segmentLines(lines, done, p, Number.POSITIVE_INFINITY, 0);
  if (p.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/** One variant of the master playlist (§4.4.6.2 EXT-X-STREAM-INF). */
export interface Variant {
  uri: string;
  bandwidth: number;
  codecs: string[];
  width?: number;
  height?: number;
  /** AVERAGE-BANDWIDTH and FRAME-RATE when known. */
  averageBandwidth?: number;
  frameRate?: number;
}

/** The master (multivariant) playlist. */
export function renderMasterPlaylist(variants: readonly Variant[]): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-INDEPENDENT-SEGMENTS'];
  for (const v of variants) {
    const res = v.width && v.height ? `,RESOLUTION=${v.width}x${v.height}` : '';
    const avg = v.averageBandwidth ? `,AVERAGE-BANDWIDTH=${Math.max(1, Math.round(v.averageBandwidth))}` : '';
    const fr = v.frameRate ? `,FRAME-RATE=${v.frameRate.toFixed(3)}` : '';
    lines.push(`#EXT-X-STREAM-INF:BANDWIDTH=${Math.max(1, Math.round(v.bandwidth))}${avg},CODECS="${v.codecs.join(',')}"${res}${fr}`, v.uri);
  }
  return `${lines.join('\n')}\n`;
}
