/** HttpStats: typed-array HTTP metrics must expose exactly what prom-client's own metrics would. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { HTTP_DURATION_BUCKETS, HttpStats } from '../../src/observability/http-stats.js';

const GROUPS = ['media', 'api', 'health'];
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];

/** The same observations through prom-client's Histogram/Counter (the reference). */
function reference() {
  const registry = new Registry();
  const hist = new Histogram({ name: 'strom_http_request_duration_seconds', help: 'HTTP request duration by route group and status class', labelNames: ['group', 'status'], buckets: [...HTTP_DURATION_BUCKETS], registers: [registry] });
  const bytes = new Counter({ name: 'strom_http_response_bytes_total', help: 'Bytes sent in responses (HTTP/1: on the wire incl. headers; HTTP/2: Content-Length)', labelNames: ['group'], registers: [registry] });
  return {
    registry,
    observe(g: number, c: number, s: number, b: number) {
      hist.labels(GROUPS[g]!, CLASSES[c]!).observe(s);
      if (b > 0) bytes.labels(GROUPS[g]!).inc(b);
    },
  };
}

// Durations on, just below and just above bucket bounds, past the last bound, and zero.
const OBSERVATIONS: Array<[number, number, number, number]> = [
  [0, 1, 0, 512], [0, 1, 0.0005, 100], [0, 1, 0.00050001, 0], [0, 1, 0.004, 7], [0, 3, 0.2, 90],
  [1, 1, 1, 10], [1, 4, 31, 0], [1, 4, 30, 5], [2, 1, 0.0001, 2], [0, 1, 2.5, 1_000_000],
];

test('text exposition is identical to prom-client Histogram + Counter for the same observations', async () => {
  const registry = new Registry();
  const fast = new HttpStats(GROUPS, CLASSES, [registry]);
  const ref = reference();
  assert.equal(await registry.metrics(), await ref.registry.metrics(), 'empty: no samples from either');
  for (const [g, c, s, b] of OBSERVATIONS) {
    fast.observe(g, c, s, b);
    ref.observe(g, c, s, b);
  }
  const text = await registry.metrics();
  assert.equal(text, await ref.registry.metrics());
  assert.match(text, /strom_http_request_duration_seconds_bucket\{le="0.0005",group="media",status="2xx"\} 2/);
  assert.match(text, /strom_http_request_duration_seconds_bucket\{le="\+Inf",group="api",status="5xx"\} 2/);
  assert.match(text, /strom_http_response_bytes_total\{group="media"\} 1000709/);
});

test('JSON exposition merges across processes like prom-client metrics (worker registries summed)', async () => {
  const a = new Registry();
  const b = new Registry();
  const fa = new HttpStats(GROUPS, CLASSES, [a]);
  const fb = new HttpStats(GROUPS, CLASSES, [b]);
  const ref = reference();
  // Binary fractions, so the sums do not depend on the order of addition.
  const dyadic: Array<[number, number, number, number]> = [[0, 1, 2 ** -11, 5], [0, 1, 0.25, 9], [0, 1, 2 ** -7, 0], [1, 4, 32, 3], [1, 4, 0.5, 1], [2, 1, 1, 2]];
  dyadic.forEach(([g, c, s, n], i) => {
    (i % 2 === 0 ? fa : fb).observe(g, c, s, n);
    ref.observe(g, c, s, n);
  });
  const merged = AggregatorRegistry.aggregate([await a.getMetricsAsJSON(), await b.getMetricsAsJSON()]);
  // Same samples; the order of label sets follows first sight, which differs between the two.
  const lines = (t: string) => t.split('\n').filter((l) => l !== '').sort();
  assert.deepEqual(lines(await merged.metrics()), lines(await ref.registry.metrics()));
});

test('reset clears every cell', async () => {
  const registry = new Registry();
  const fast = new HttpStats(GROUPS, CLASSES, [registry]);
  fast.observe(0, 1, 0.01, 10);
  registry.resetMetrics();
  assert.doesNotMatch(await registry.metrics(), /group="media"/);
});
