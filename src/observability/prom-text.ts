/**
 * Reading the Prometheus text exposition (format 0.0.4) and the arithmetic on it that both the
 * server's metrics history (metrics-history.ts) and the web dashboard (web/src/prom.ts) need:
 * samples, sums over labels, per-series increases with counter resets, cumulative histogram
 * buckets and `histogram_quantile`-style quantiles. Plain TypeScript with neither Node nor DOM
 * APIs, so the browser bundle and the server share one copy.
 */

/** One sample: metric name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Label filter for `sum` and `buckets`. */
export type LabelFilter = (labels: Record<string, string>) => boolean;

const all: LabelFilter = () => true;

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

/** Sum of samples named `name` whose labels pass `filter`. */
export function sum(samples: Sample[], name: string, filter: LabelFilter = all): number {
  let t = 0;
  for (const s of samples) if (s.name === name && filter(s.labels)) t += s.value;
  return t;
}

/** Identity of one series: name and sorted labels. */
function seriesKey(s: Sample): string {
  const keys = Object.keys(s.labels).sort();
  return `${s.name}{${keys.map((k) => `${k}=${s.labels[k]}`).join(',')}}`;
}

/**
 * Per-series increases of counters (counters, histogram `_bucket`/`_count`/`_sum`) between
 * successive readings of an exposition that may sum several processes (the main and its delivery
 * workers). A series that went down is ambiguous: a process restarted (its share was reset) or its
 * share was missing from this reading (a worker slow to answer). That reading counts 0 and the next
 * decides: back at or above the old value, the share was missing and counting goes on from the old
 * value; otherwise it was a reset and counting goes on from the low value. A series absent from a
 * reading keeps its last value; one seen for the first time counts whole. The first reading is
 * the baseline. State: one entry per series ever seen (bounded by the metrics' label bounds).
 */
export class CounterIncreases {
  private readonly last = new Map<string, { value: number; low: number | null }>();
  private primed = false;

  /** Increases since the previous reading, one per sample of `cur`; null for the first reading. */
  next(cur: Sample[]): Sample[] | null {
    const out: Sample[] = [];
    for (const s of cur) {
      const key = seriesKey(s);
      const st = this.last.get(key);
      let d = 0;
      if (st === undefined) {
        d = s.value;
        this.last.set(key, { value: s.value, low: null });
      } else {
        const from = s.value >= st.value ? st.value : st.low !== null && s.value >= st.low ? st.low : null;
        if (from === null) st.low = s.value; // went down: the next reading tells a reset from a missing share
        else {
          d = s.value - from;
          st.value = s.value;
          st.low = null;
        }
      }
      out.push({ name: s.name, labels: s.labels, value: d });
    }
    const first = !this.primed;
    this.primed = true;
    return first ? null : out;
  }
}

/** Cumulative buckets (le → count) of histogram `base`, summed over all other labels. */
export function buckets(samples: Sample[], base: string, filter: LabelFilter = all): Map<number, number> {
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
