/**
 * Where a clip's range lands in a packaged asset. A clip is cut without re-encoding, so it can only
 * start and end where the ladder's segments do: every segment starts with an IDR frame (the ladder
 * is GOP-aligned, docs/VOD.md "Ladder") and is a self-contained CMAF fragment (ISO/IEC 23000-19
 * §7.3.2.3), while a cut inside a GOP would need the frames before it to decode. So the requested
 * range is widened to the enclosing segment boundaries of the reference rendition (the first video
 * variant of the master; every video rung shares its boundaries), and the other renditions — the
 * audio track, whose segments end on AAC frames and so drift by a few ms from the video's — take
 * the segments whose boundaries lie nearest to the snapped ones. Pure: durations in, indexes out.
 */

/** Half a millisecond: EXTINF values carry 6 decimals, their sums rounding noise. */
const EPS = 0.0005;

/** The snapped range, in seconds of the source's timeline. */
export interface SnappedRange {
  start: number;
  end: number;
}

/** A run of segments `[first, last)` of one rendition. */
export interface SegmentSpan {
  first: number;
  last: number;
}

/** Segment start times plus the total: `bounds[i]` is where segment i starts, `bounds[n]` the end. */
export function boundaries(durations: number[]): number[] {
  const out = [0];
  for (const d of durations) out.push(out.at(-1)! + d);
  return out;
}

/**
 * Widen `[start, end)` to segment boundaries of the reference rendition: the last boundary at or
 * before `start` and the first at or after `end`. The caller has checked 0 ≤ start < end ≤ total.
 */
export function snapRange(durations: number[], start: number, end: number): { range: SnappedRange; span: SegmentSpan } {
  const b = boundaries(durations);
  let first = 0;
  while (first + 1 < durations.length && b[first + 1]! <= start + EPS) first++;
  let last = first + 1;
  while (last < durations.length && b[last]! < end - EPS) last++;
  return { range: { start: round(b[first]!), end: round(b[last]!) }, span: { first, last } };
}

/** The segments of another rendition that best cover a snapped range: nearest boundaries, at least one segment. */
export function spanNear(durations: number[], range: SnappedRange): SegmentSpan {
  const b = boundaries(durations);
  const nearest = (t: number) => b.reduce((best, v, i) => (Math.abs(v - t) < Math.abs(b[best]! - t) ? i : best), 0);
  const first = Math.min(nearest(range.start), Math.max(0, durations.length - 1));
  const last = Math.max(first + 1, nearest(range.end));
  return { first, last };
}

/** Milliseconds precision for what the API reports. */
function round(s: number): number {
  return Math.round(s * 1000) / 1000;
}
