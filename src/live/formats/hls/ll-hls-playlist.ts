/**
 * LL-HLS and plain HLS media playlists, and the master playlist, rendered from a snapshot of the
 * live window (draft-pantos-hls-rfc8216bis-16):
 * - §4.4.3.7 EXT-X-PART-INF before the first segment; §4.4.4.9 EXT-X-PART (INDEPENDENT=YES on
 *   parts that start with a keyframe); §4.4.5.2 EXT-X-PRELOAD-HINT for the next part (one, none
 *   after ENDLIST); §4.4.3.8 EXT-X-SERVER-CONTROL with CAN-BLOCK-RELOAD, PART-HOLD-BACK = 3 × part
 *   target, CAN-SKIP-UNTIL = 6 × target duration; §4.4.5.1 EXT-X-SKIP for delta updates
 *   (_HLS_skip, version 9); §4.4.4.6 EXT-X-PROGRAM-DATE-TIME on every segment (ms, UTC);
 *   §4.4.5.4 EXT-X-RENDITION-REPORT per other rendition.
 * - Parts are listed for the last `partSegments` segments only (§6.2.2: keep parts for at least
 *   3 × target duration); older segments are listed whole.
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
  /** Segments whose parts are listed (from the end). */
  partSegments: number;
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

/** The LL-HLS media playlist; `skip` renders a delta update (EXT-X-SKIP). */
export function renderLlPlaylist(p: MediaPlaylistInput, skip = false): string {
  const skipped = skip ? skippableSegments(p) : 0;
  const first = p.segments[0]?.msn ?? 0;
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${skip ? 9 : 6}`,
    `#EXT-X-TARGETDURATION:${p.targetDurationS}`,
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=${fmt(skipUntilS(p.targetDurationS))},PART-HOLD-BACK=${fmt(3 * p.partTargetS)}`,
    `#EXT-X-PART-INF:PART-TARGET=${fmt(p.partTargetS)}`,
    `#EXT-X-MEDIA-SEQUENCE:${first}`,
    `#EXT-X-MAP:URI="${p.initUri}"`,
  ];
  if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
  const partFrom = p.segments.length - p.partSegments;
  p.segments.forEach((s, i) => {
    if (i < skipped) return;
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.pdtMs).toISOString()}`);
    if (i >= partFrom) {
      for (const part of s.parts) lines.push(`#EXT-X-PART:DURATION=${fmt(part.durationS)},URI="${part.uri}"${part.independent ? ',INDEPENDENT=YES' : ''}`);
    }
    if (s.complete) lines.push(`#EXTINF:${fmt(s.durationS)},`, s.uri);
  });
  if (p.ended) lines.push('#EXT-X-ENDLIST');
  else if (p.preloadHint !== null) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${p.preloadHint}"`);
  for (const r of p.renditionReports ?? []) lines.push(`#EXT-X-RENDITION-REPORT:URI="${r.uri}",LAST-MSN=${r.lastMsn},LAST-PART=${r.lastPart}`);
  return `${lines.join('\n')}\n`;
}

/** The plain (non-LL) live media playlist over the same complete segments (RFC 8216 §4.3.3). */
export function renderPlainPlaylist(p: MediaPlaylistInput): string {
  const done = p.segments.filter((s) => s.complete);
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6', `#EXT-X-TARGETDURATION:${p.targetDurationS}`, `#EXT-X-MEDIA-SEQUENCE:${done[0]?.msn ?? 0}`, `#EXT-X-MAP:URI="${p.initUri}"`];
  for (const s of done) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.pdtMs).toISOString()}`, `#EXTINF:${fmt(s.durationS)},`, s.uri);
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
}

/** The master (multivariant) playlist. */
export function renderMasterPlaylist(variants: readonly Variant[]): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-INDEPENDENT-SEGMENTS'];
  for (const v of variants) {
    const res = v.width && v.height ? `,RESOLUTION=${v.width}x${v.height}` : '';
    lines.push(`#EXT-X-STREAM-INF:BANDWIDTH=${Math.max(1, Math.round(v.bandwidth))},CODECS="${v.codecs.join(',')}"${res}`, v.uri);
  }
  return `${lines.join('\n')}\n`;
}
