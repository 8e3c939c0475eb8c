/**
 * `Range: bytes=…` parsing (RFC 9110 §14.1.2, §14.2). Returns the ranges to send, `null` when
 * the header must be ignored (unparseable, not bytes, too many parts) and `'unsatisfiable'` when
 * it parses but no range overlaps the representation (→ 416).
 */

/** An inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

/** Above this many ranges the header is ignored and the whole object sent (§14.2 lets servers). */
export const MAX_RANGES = 32;

/** Parse a Range header value against an object of `size` bytes. */
export function parseRange(header: string, size: number): ByteRange[] | 'unsatisfiable' | null {
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return null;
  const specs = header.slice(eq + 1).split(',');
  if (specs.length > MAX_RANGES) return null;
  const ranges: ByteRange[] = [];
  let sawValid = false;
  for (const raw of specs) {
    const spec = raw.trim();
    if (spec === '') continue; // "bytes=0-1, ,5-6" — empty list elements are allowed (#rule)
    const m = /^(\d*)-(\d*)$/.exec(spec);
    if (!m || (m[1] === '' && m[2] === '')) return null;
    sawValid = true;
    if (m[1] === '') {
      // suffix-range: the last N bytes; N = 0 is unsatisfiable
      const n = Number(m[2]);
      if (n === 0 || size === 0) continue;
      ranges.push({ start: Math.max(0, size - n), end: size - 1 });
    } else {
      // §14.1.1: a last-pos at or past the end (however large) means "to the end"; an open range
      // or a first-pos at or past the end is unsatisfiable, not invalid (→ 416, never ignored).
      const start = Number(m[1]);
      const end = m[2] === '' ? Infinity : Number(m[2]);
      if (end < start) return null; // invalid range-spec → whole header invalid
      if (start >= size) continue;
      ranges.push({ start, end: Math.min(end, size - 1) });
    }
  }
  if (!sawValid) return null;
  return ranges.length === 0 ? 'unsatisfiable' : coalesce(ranges);
}

/** Merge overlapping or adjacent ranges (§14.2 allows it; it also defeats overlap amplification). */
function coalesce(ranges: ByteRange[]): ByteRange[] {
  if (ranges.length < 2) return ranges;
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  let overlaps = false;
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.start <= sorted[i - 1]!.end + 1) overlaps = true;
  if (!overlaps) return ranges; // keep the client's order when nothing overlaps
  const out: ByteRange[] = [{ ...sorted[0]! }];
  for (const r of sorted.slice(1)) {
    const last = out[out.length - 1]!;
    if (r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}
