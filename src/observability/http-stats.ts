/**
 * The two per-request HTTP metrics — `strom_http_request_duration_seconds` (histogram by route
 * group and status class) and `strom_http_response_bytes_total` (counter by group) — kept in
 * typed arrays and turned into prom-client metric objects only at scrape time.
 *
 * Why not prom-client's own `observe`/`inc` on label children: each call converts, validates and
 * hashes its labels and walks an object keyed by bucket bound. On the lean delivery path that was
 * ~1 µs of a small response's ~11 µs of CPU (measured with /proc CPU ticks under wrk on
 * bench/delivery's small-playlist scenario). Here an observation is a bucket search over 15 numbers and three array increments.
 * The exposition (names, label order, cumulative buckets, `+Inf`, `_sum`, `_count`, aggregator
 * `sum` for merging worker registries) is the one prom-client produces, so scrapers and the
 * multi-process merge see no difference.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

/** Upper bounds of the duration buckets, seconds (RED-method latency from 0.5 ms to 30 s). */
export const HTTP_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

const DURATION = { name: 'strom_http_request_duration_seconds', help: 'HTTP request duration by route group and status class' };
const BYTES = { name: 'strom_http_response_bytes_total', help: 'Bytes sent in responses (HTTP/1: on the wire incl. headers; HTTP/2: Content-Length)' };

type Labels = Record<string, string | number>;
type Sample = { labels: Labels; value: number; metricName?: string };
type Exported = { name: string; help: string; type: 'histogram' | 'counter'; values: Sample[]; aggregator: 'sum' };

/** Per-(group, status class) request durations and per-group bytes, as plain counters. */
export class HttpStats {
  private readonly nb = HTTP_DURATION_BUCKETS.length;
  /** counts[(g * classes + c) * nb + b]: observations in bucket b (not cumulative; +Inf is count − Σ). */
  private readonly counts: Float64Array;
  private readonly totals: Float64Array;
  private readonly sums: Float64Array;
  private readonly bytes: Float64Array;

  constructor(private readonly groups: readonly string[], private readonly classes: readonly string[], registers: Registry[]) {
    const cells = groups.length * classes.length;
    this.counts = new Float64Array(cells * this.nb);
    this.totals = new Float64Array(cells);
    this.sums = new Float64Array(cells);
    this.bytes = new Float64Array(groups.length);
    const histogram = () => this.histogram(DURATION.name, DURATION.help);
    const counter = () => this.counter(BYTES.name, BYTES.help);
    const reset = () => [this.counts, this.totals, this.sums, this.bytes].forEach((a) => a.fill(0));
    // The casts: prom-client's d.ts types the metric object with a `collect` member the runtime
    // never reads; `Exported` is the runtime shape its own get() returns.
    // getForPromString is what Registry#metrics() calls when present (undeclared in the d.ts).
    new (class extends Histogram<'group' | 'status'> {
      override async get() {
        return histogram() as never;
      }
      async getForPromString() {
        return histogram();
      }
      override reset() {
        reset();
      }
    })({ ...DURATION, labelNames: ['group', 'status'], buckets: [...HTTP_DURATION_BUCKETS], registers });
    new (class extends Counter<'group'> {
      override async get() {
        return counter() as never;
      }
      override reset() {
        reset();
      }
    })({ ...BYTES, labelNames: ['group'], registers });
  }

  /** One finished response: indexes into `groups` and `classes`, duration in seconds, bytes sent. */
  observe(group: number, cls: number, seconds: number, bytes: number): void {
    const cell = group * this.classes.length + cls;
    let b = 0;
    while (b < this.nb && seconds > HTTP_DURATION_BUCKETS[b]!) b++;
    if (b < this.nb) this.counts[cell * this.nb + b]!++;
    this.totals[cell]!++;
    this.sums[cell]! += seconds;
    if (bytes > 0) this.bytes[group]! += bytes;
  }

  /** The histogram as prom-client exports it: only label sets that saw a request. */
  private histogram(name: string, help: string): Exported {
    const values: Sample[] = [];
    for (let g = 0; g < this.groups.length; g++) {
      for (let c = 0; c < this.classes.length; c++) {
        const cell = g * this.classes.length + c;
        const total = this.totals[cell]!;
        if (total === 0) continue;
        const group = this.groups[g]!;
        const status = this.classes[c]!;
        let acc = 0;
        for (let b = 0; b < this.nb; b++) {
          acc += this.counts[cell * this.nb + b]!;
          values.push({ labels: { le: HTTP_DURATION_BUCKETS[b]!, group, status }, value: acc, metricName: `${name}_bucket` });
        }
        values.push({ labels: { le: '+Inf', group, status }, value: total, metricName: `${name}_bucket` });
        values.push({ labels: { group, status }, value: this.sums[cell]!, metricName: `${name}_sum` });
        values.push({ labels: { group, status }, value: total, metricName: `${name}_count` });
      }
    }
    return { name, help, type: 'histogram', values, aggregator: 'sum' };
  }

  private counter(name: string, help: string): Exported {
    const values: Sample[] = [];
    for (let g = 0; g < this.groups.length; g++) if (this.bytes[g]! > 0) values.push({ labels: { group: this.groups[g]! }, value: this.bytes[g]! });
    return { name, help, type: 'counter', values, aggregator: 'sum' };
  }
}
