/**
 * The dashboard's metrics history (src/observability/metrics-history.ts): the ring stays within
 * ceil(15 min / interval) points, a point's rate, P95/P99 and error ratio come from histogram
 * bucket increases (long-lived groups left out of the quantiles), gauges give viewers and ingest,
 * QoE figures come from their histogram and counters, and counters that go down — a restarted
 * delivery worker, or a worker's share missing from one reading — neither go negative nor spike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { derivePoint, HISTORY_WINDOW_MS, MetricsHistory, Ring } from '../../src/observability/metrics-history.js';
import { CounterIncreases, parseProm, type Sample } from '../../src/observability/prom-text.js';

const H = 'strom_http_request_duration_seconds';

/** Exposition lines of one histogram series: cumulative `[le, count]` pairs, +Inf = the last count. */
function histogram(name: string, labels: string, cumulative: [number, number][]): string {
  const total = cumulative.at(-1)?.[1] ?? 0;
  return [
    ...cumulative.map(([le, v]) => `${name}_bucket{le="${le}",${labels}} ${v}`),
    `${name}_bucket{le="+Inf",${labels}} ${total}`,
    `${name}_count{${labels}} ${total}`,
  ].join('\n');
}

/** One reading: `n` fast API requests (10 ms), `errors` API 5xx, `slow` event-stream responses. */
function reading(o: { fast: number; errors: number; slow: number; startups?: [number, number][]; stalled?: number }): string {
  return [
    '# HELP strom_http_request_duration_seconds HTTP request duration',
    histogram(H, 'group="api",status="2xx"', [[0.005, Math.round(o.fast * 0.9)], [0.01, Math.round(o.fast * 0.95)], [0.025, o.fast]]),
    histogram(H, 'group="api",status="5xx"', [[0.005, o.errors], [0.01, o.errors], [0.025, o.errors]]),
    histogram(H, 'group="events",status="2xx"', [[0.005, 0], [0.01, 0], [0.025, 0], [30, 0]]).replace(/_bucket\{le="\+Inf",(.*)\} 0/, `_bucket{le="+Inf",$1} ${o.slow}`).replace(/_count\{(.*)\} 0/, `_count{$1} ${o.slow}`),
    'strom_live_viewers{stream="a",protocol="http-flv"} 3',
    'strom_live_viewers{stream="b",protocol="http-flv"} 1',
    'strom_live_viewers{stream="a",protocol="ws-flv"} 2',
    'strom_live_viewers{stream="a",protocol="rtmp"} 0',
    'strom_webrtc_sessions{role="whip"} 1',
    'strom_webrtc_sessions{role="whep"} 4',
    'strom_live_ingest_bitrate_bps{stream="a"} 2500000',
    'strom_live_ingest_bitrate_bps{stream="b"} 500000',
    'strom_qoe_active_sessions{type="vod"} 3',
    'strom_qoe_active_sessions{type="live"} 1',
    histogram('strom_qoe_startup_seconds', 'type="vod"', o.startups ?? [[0.5, 0], [1, 0], [2, 0]]),
    `strom_qoe_rebuffer_seconds_total{type="vod"} ${o.stalled ?? 0}`,
  ].join('\n');
}

test('the ring keeps at most its capacity, oldest first, and the sampler sizes it to 15 minutes', () => {
  const r = new Ring<number>(3);
  for (let i = 1; i <= 7; i++) r.push(i);
  assert.equal(r.length, 3);
  assert.deepEqual(r.toArray(), [5, 6, 7]);
  assert.throws(() => new Ring(0), RangeError);
  assert.equal(new MetricsHistory({ read: async () => '', intervalMs: 5000 }).capacity, 180);
  assert.equal(new MetricsHistory({ read: async () => '', intervalMs: 7000 }).capacity, Math.ceil(HISTORY_WINDOW_MS / 7000));
  assert.equal(new MetricsHistory({ read: async () => '', intervalMs: 0 }).capacity, 0);
});

test('a point: rate, P95/P99 from bucket increases without long-lived groups, errors, gauges, QoE', () => {
  const inc = new CounterIncreases();
  const prev = parseProm(reading({ fast: 10, errors: 0, slow: 0 }));
  const cur = parseProm(reading({ fast: 110, errors: 5, slow: 4, startups: [[0.5, 1], [1, 3], [2, 4]], stalled: 2 }));
  assert.equal(inc.next(prev), null, 'the first reading is the baseline');
  const p = derivePoint(inc.next(cur)!, cur, 5, 1_000);
  assert.equal(p.t, 1_000);
  assert.equal(p.rps, (100 + 5 + 4) / 5);
  // Window buckets (api only): ≤5 ms 90+5, ≤10 ms 95+5, ≤25 ms 100+5 → rank 99.75 and 103.95.
  assert.equal(p.p95Ms, 10 - 5 * (100 - 99.75) / 5);
  assert.equal(p.p99Ms, Math.round((10 + 15 * (103.95 - 100) / 5) * 1000) / 1000);
  assert.equal(p.errorRatio, Math.round((5 / 109) * 1e4) / 1e4);
  assert.deepEqual(p.viewers, { 'http-flv': 4, 'ws-flv': 2, rtmp: 0, hls: 1, whep: 4 });
  assert.equal(p.ingestBps, 3_000_000);
  assert.equal(p.qoeStartupP50Ms, 750, 'startups 1 ≤0.5 s, 2 in (0.5, 1] s: median at 0.75 s');
  assert.equal(p.rebufferRatio, Math.round((2 / (4 * 5)) * 1e4) / 1e4);
});

test('an idle interval has zero rate and no quantiles, error ratio or startup', () => {
  const inc = new CounterIncreases();
  const same = parseProm(reading({ fast: 10, errors: 1, slow: 0 }));
  inc.next(same);
  const p = derivePoint(inc.next(same)!, same, 5, 0);
  assert.equal(p.rps, 0);
  assert.equal(p.p95Ms, null);
  assert.equal(p.p99Ms, null);
  assert.equal(p.errorRatio, null);
  assert.equal(p.qoeStartupP50Ms, null);
  assert.equal(p.rebufferRatio, 0);
});

test('counters that go down: a missing share counts on from the old value, a reset from the low one', () => {
  const s = (value: number, labels: Record<string, string> = {}): Sample[] => [{ name: 'c_total', labels, value }];
  const inc = new CounterIncreases();
  const d = (x: Sample[]) => inc.next(x)?.[0]?.value;
  assert.equal(inc.next(s(100)), null);
  assert.equal(d(s(200)), 100);
  assert.equal(d(s(80)), 0, 'went down: counts nothing yet');
  assert.equal(d(s(300)), 100, 'back above 200: the share was only missing');
  assert.equal(d(s(50)), 0);
  assert.equal(d(s(120)), 70, 'stayed below 300: a reset, counted from 50');
  assert.equal(d(s(20)), 0);
  assert.equal(d(s(10)), 0, 'went down again');
  assert.equal(d(s(40)), 30, 'counted from the lowest reading');
  assert.deepEqual(inc.next([]), [], 'an absent series reports nothing…');
  assert.equal(d(s(45)), 5, '…and keeps its last value');
  assert.equal(inc.next([...s(1), ...s(7, { x: 'new' })])?.[1]?.value, 7, 'a new series counts whole');
});

test('the sampler: points from successive readings, bounded, never negative across a reset, since filter', async () => {
  let clock = 0;
  let fast = 0;
  const history = new MetricsHistory({ read: async () => reading({ fast, errors: 0, slow: 0 }), intervalMs: 60_000, now: () => clock });
  for (let i = 0; i < 40; i++) {
    fast = i === 20 ? 30 : fast + 600; // reading 20: the counters fell (a worker restarted)
    clock += 60_000;
    await history.sample();
  }
  const { intervalMs, points } = history.snapshot();
  assert.equal(intervalMs, 60_000);
  assert.equal(history.capacity, 15);
  assert.equal(points.length, 15, 'bounded by ceil(15 min / 1 min)');
  assert.deepEqual(points.map((p) => p.t), Array.from({ length: 15 }, (_, i) => (26 + i) * 60_000), 'the newest 15, oldest first');
  assert.ok(points.every((p) => p.rps === 10), `steady 600 per minute: ${points.map((p) => p.rps).join(',')}`);
  assert.equal(history.snapshot(38 * 60_000).points.length, 2);
  const around = new MetricsHistory({ read: async () => reading({ fast, errors: 0, slow: 0 }), intervalMs: 60_000, now: () => clock });
  for (const f of [1000, 1600, 30, 630]) {
    fast = f;
    clock += 60_000;
    await around.sample();
  }
  assert.deepEqual(around.snapshot().points.map((p) => p.rps), [10, 0, 10]);
});

test('a failed reading is skipped, and start/stop leave no timer behind', async () => {
  let fail = true;
  const history = new MetricsHistory({ read: async () => (fail ? Promise.reject(new Error('scrape failed')) : reading({ fast: 1, errors: 0, slow: 0 })), intervalMs: 100 });
  await history.sample();
  fail = false;
  history.start();
  await new Promise((r) => setTimeout(r, 350));
  history.stop();
  const n = history.snapshot().points.length;
  assert.ok(n >= 2, `points while running: ${n}`);
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(history.snapshot().points.length, n, 'no sampling after stop');
});
