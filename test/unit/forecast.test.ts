/**
 * The viewer forecaster (src/observability/forecast): the damped-trend smoothing against values
 * worked out by hand, the bounded history, the daily seasonal form, and the scheduled audience
 * counted within the horizon (with its ramp) and not after it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dampedSteps, DAY_MS, smoothForecast } from '../../src/observability/forecast/smoothing.js';
import { rampShare, scheduledAudience, type ScheduledStream } from '../../src/observability/forecast/scheduled-audience.js';
import { ViewerForecaster } from '../../src/observability/forecast/viewer-forecaster.js';

const STEP = 30_000;
const MIN = 60_000;
/** The constants the hand computations below use (simpler decimals than DEFAULT_SMOOTHING). */
const P = { alpha: 0.5, beta: 0.3, gamma: 0.1, phi: 0.9 };
const near = (actual: number, expected: number, eps = 1e-6) => assert.ok(Math.abs(actual - expected) < eps, `${actual} ≠ ${expected}`);

test('damped Holt on a 4-sample trace matches the hand computation', () => {
  // α = 0.5, β = 0.3, φ = 0.9 (P); y = 100, 110, 130, 140 every 30 s.
  // Start: L0 = 100, T0 = 0.
  // y=110: L1 = 0.5·110 + 0.5·(100 + 0.9·0)            = 105
  //        T1 = 0.3·(105 − 100) + 0.7·0.9·0              = 1.5
  // y=130: L2 = 0.5·130 + 0.5·(105 + 0.9·1.5 = 106.35)  = 65 + 53.175 = 118.175
  //        T2 = 0.3·(118.175 − 105) + 0.7·0.9·1.5        = 3.9525 + 0.945 = 4.8975
  // y=140: L3 = 0.5·140 + 0.5·(118.175 + 0.9·4.8975)     = 70 + 0.5·122.58275 = 131.291375
  //        T3 = 0.3·(131.291375 − 118.175) + 0.63·4.8975 = 3.9349125 + 3.085425 = 7.0203375
  // 5 min = 10 steps: Σφ^i (i=1..10) = 9·(1 − 0.9^10) = 9·0.6513215599 = 5.861894039
  //   ŷ = 131.291375 + 5.861894039·7.0203375 = 172.4438495
  // 15 min = 30 steps: Σφ^i (i=1..30) = 9·(1 − 0.9^30) = 8.618479576
  //   ŷ = 131.291375 + 8.618479576·7.0203375 = 191.7960104
  near(dampedSteps(0.9, 10), 5.861894039, 1e-8);
  near(dampedSteps(0.9, 30), 8.618479576, 1e-8);
  const points = [100, 110, 130, 140].map((v, i) => ({ t: i * STEP, v }));
  const f = smoothForecast(points, STEP, [5 * MIN, 15 * MIN], P);
  assert.equal(f.model, 'trend');
  near(f.values[0]!, 172.4438495, 1e-6);
  near(f.values[1]!, 191.7960104, 1e-6);
});

test('the forecaster rounds the model forecast; a flat egress series forecasts itself', () => {
  const fc = new ViewerForecaster({ stepMs: STEP, historyMax: 100, rampMs: 5 * MIN, bytesPerViewer: 1000, params: P });
  [100, 110, 130, 140].forEach((v, i) => fc.add({ t: i * STEP, viewers: v, egressBps: 1000 }));
  const b = fc.base();
  assert.deepEqual(b.viewers, { '5m': 172, '15m': 192 }); // 172.44 and 191.80 from the test above
  // Constant 1000: L stays 1000 and T stays 0 at every step, so both horizons forecast 1000.
  assert.deepEqual(b.egressBps, { '5m': 1000, '15m': 1000 });
});

test('history is bounded: the oldest samples are dropped and no longer shape the forecast', () => {
  const fc = new ViewerForecaster({ stepMs: STEP, historyMax: 4, rampMs: 0, bytesPerViewer: 0, params: P });
  // 5000 and 9000 are dropped; the remaining four are the hand-computed trace above.
  [5000, 9000, 100, 110, 130, 140].forEach((v, i) => fc.add({ t: i * STEP, viewers: v, egressBps: 0 }));
  assert.equal(fc.length, 4);
  assert.deepEqual(fc.base().viewers, { '5m': 172, '15m': 192 });
  assert.equal(fc.latest()?.viewers, 140);
});

test('with two days of history the seasonal form predicts the daily shape a trend cannot', () => {
  // A square wave: 1000 viewers from 12:00 to 12:30 UTC, 100 otherwise, sampled every 30 s for 3 days.
  const at = (t: number) => ((t % DAY_MS) >= 12 * 60 * MIN && (t % DAY_MS) < 12.5 * 60 * MIN ? 1000 : 100);
  const end = 2 * DAY_MS + 11 * 60 * MIN + 50 * MIN; // day 3, 11:50: the rise is 10 minutes away
  const points = [];
  for (let t = 0; t <= end; t += STEP) points.push({ t, v: at(t) });
  const seasonal = smoothForecast(points, STEP, [5 * MIN, 15 * MIN]);
  assert.equal(seasonal.model, 'seasonal');
  near(seasonal.values[0]!, 100, 5); // 11:55: still low
  near(seasonal.values[1]!, 1000, 60); // 12:05: high — learnt from the two previous days
  const recent = smoothForecast(points.slice(-100), STEP, [15 * MIN]); // under two days: trend only
  assert.equal(recent.model, 'trend');
  near(recent.values[0]!, 100, 1);
});

test('scheduled audience: the linear ramp before the start, counted within the horizon and not after', () => {
  const now = 1_000_000_000;
  const ramp = 5 * MIN;
  // share(T) = 0 up to start − 5 min, linear to 1 at the start, 1 after.
  near(rampShare(now, now + 5 * MIN, ramp), 0);
  near(rampShare(now + 2 * MIN, now + 5 * MIN, ramp), 0.4);
  near(rampShare(now + 9 * MIN, now + 5 * MIN, ramp), 1);
  const s = (startMin: number, expectedViewers: number, viewers = 0): ScheduledStream => ({ id: `s${startMin}`, start: now + startMin * MIN, expectedViewers, viewers });
  // Starts in 3 min: fully in both horizons (T ≥ start).
  assert.equal(scheduledAudience([s(3, 1000)], now, 5 * MIN, ramp), 1000);
  assert.equal(scheduledAudience([s(3, 1000)], now, 15 * MIN, ramp), 1000);
  // Starts in 17 min: ramp from minute 12. At +5 min nothing; at +15 min (15 − 12)/5 = 0.6 → 600.
  assert.equal(scheduledAudience([s(17, 1000)], now, 5 * MIN, ramp), 0);
  near(scheduledAudience([s(17, 1000)], now, 15 * MIN, ramp), 600);
  // Starts in 21 min: its ramp begins at minute 16, after the 15-minute horizon: nothing.
  assert.equal(scheduledAudience([s(21, 1000)], now, 15 * MIN, ramp), 0);
  // Viewers already watching are in the measured series: only the rest is added.
  assert.equal(scheduledAudience([s(3, 1000, 250)], now, 5 * MIN, ramp), 750);
  // Started 6 min ago (more than the ramp): the measured series alone describes it.
  assert.equal(scheduledAudience([s(-6, 1000)], now, 5 * MIN, ramp), 0);
  // Through the forecaster: the model (0 without history) plus the audience, egress at bytesPerViewer.
  const fc = new ViewerForecaster({ stepMs: STEP, historyMax: 10, rampMs: ramp, bytesPerViewer: 375_000 });
  const f = fc.forecast(now, [s(3, 1000), s(17, 1000), s(21, 1000)]);
  assert.deepEqual(f.viewers, { '5m': 1000, '15m': 1600 }); // 1000 + 600 + 0
  assert.deepEqual(f.egressBps, { '5m': 375_000_000, '15m': 600_000_000 }); // × 375,000 B/s
});
