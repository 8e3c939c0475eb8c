/**
 * Prometheus text exposition (format 0.0.4) parsing, and the rates the dashboard derives from two
 * scrapes: requests per second, error rate and P95/P99 latency from the *difference* of histogram
 * buckets between scrapes (what `rate()` + `histogram_quantile()` would give over that window).
 */

/** One sample: metric name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parse exposition text into samples (comments and malformed lines skipped). */
export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** The HTTP request-duration histogram's base name in `samples`, if there is one. */
export function findRequestHistogram(samples: Sample[]): string | null {
  const names = new Set(samples.filter((s) => s.name.endsWith('_bucket')).map((s) => s.name.slice(0, -7)));
  const pick = [...names].find((n) => /http.*request.*duration|request_duration/.test(n)) ?? [...names].find((n) => /http/.test(n));
  return pick ?? null;
}

/** Sum of samples named `name` whose labels pass `filter`. */
export function sum(samples: Sample[], name: string, filter: (l: Record<string, string>) => boolean = () => true): number {
  let t = 0;
  for (const s of samples) if (s.name === name && filter(s.labels)) t += s.value;
  return t;
}

/** Cumulative buckets (le → count) of histogram `base`, summed over all other labels. */
export function buckets(samples: Sample[], base: string, filter: (l: Record<string, string>) => boolean = () => true): Map<number, number> {
  const m = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${base}_bucket` || s.labels.le === undefined || !filter(s.labels)) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    m.set(le, (m.get(le) ?? 0) + s.value);
  }
  return m;
}

/** `histogram_quantile(q, …)` over cumulative buckets: linear interpolation inside the bucket. */
export function quantile(q: number, cumulative: Map<number, number>): number | null {
  const bs = [...cumulative.entries()].sort((a, b) => a[0] - b[0]);
  const total = bs.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0, prevCount = 0;
  for (const [le, count] of bs) {
    if (count >= rank) {
      if (le === Infinity) return prevLe; // beyond the last finite bucket: its bound is the best estimate
      const inBucket = count - prevCount;
      return inBucket > 0 ? prevLe + (le - prevLe) * ((rank - prevCount) / inBucket) : le;
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

/** Bucket-wise difference `b − a` (counters reset by a restart count as starting from 0). */
export function diffBuckets(a: Map<number, number>, b: Map<number, number>): Map<number, number> {
  const d = new Map<number, number>();
  for (const [le, v] of b) {
    const before = a.get(le) ?? 0;
    d.set(le, v >= before ? v - before : v);
  }
  return d;
}

/** Label names that carry an HTTP status code in common instrumentations. */
export const STATUS_LABELS = ['status_code', 'status', 'code'];

/** Is this sample a server error (5xx)? */
export function isServerError(labels: Record<string, string>): boolean {
  return STATUS_LABELS.some((k) => labels[k]?.startsWith('5'));
}
