/**
 * Prometheus text exposition (format 0.0.4) for the pages: parsing and the arithmetic the
 * dashboard uses to derive requests per second, error rate and P95/P99 latency from the
 * *difference* of histogram buckets between two scrapes (what `rate()` + `histogram_quantile()`
 * would give over that window). The arithmetic is shared with the server's metrics history.
 */
import type { Sample } from '../../src/observability/prom-text.js';

export { buckets, diffBuckets, isServerError, parseProm, quantile, STATUS_LABELS, sum, type Sample } from '../../src/observability/prom-text.js';

/** The HTTP request-duration histogram's base name in `samples`, if there is one. */
export function findRequestHistogram(samples: Sample[]): string | null {
  const names = new Set(samples.filter((s) => s.name.endsWith('_bucket')).map((s) => s.name.slice(0, -7)));
  const pick = [...names].find((n) => /http.*request.*duration|request_duration/.test(n)) ?? [...names].find((n) => /http/.test(n));
  return pick ?? null;
}
