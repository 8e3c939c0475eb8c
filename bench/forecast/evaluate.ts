/**
 * Evaluation of the viewer forecast (src/observability/forecast) on synthetic traces replayed
 * through the real forecaster with a simulated clock (no sleeping): every 30 s sample is added,
 * the forecast made then for +5 and +15 min is compared with the trace's value at that time.
 *   (a) diurnal: four days of a day-shaped curve (trough 04:00, peak 20:00 UTC, ±5 % noise);
 *       days 1–2 warm the daily seasonal form up, errors are over days 3–4; the same trace with
 *       a history shorter than two days (trend only) and the current gauge ("naive") for comparison;
 *   (b) live event: ~0 viewers, then 0 → 50,000 in 3 minutes at minute 60, a noisy plateau;
 *       with and without the stream's scheduledStart/expectedViewers known.
 * Reports MAE and MAPE (over samples whose actual value is ≥ 100: near-zero values make percentages meaningless) per horizon, and how many minutes
 * before the current gauge the forecast crosses a scale-up threshold (first crossing per rise).
 *   npx tsx bench/forecast/evaluate.ts
 */
import { ViewerForecaster, type HorizonLabel } from '../../src/observability/forecast/viewer-forecaster.js';
import type { ScheduledStream } from '../../src/observability/forecast/scheduled-audience.js';
import { DAY_MS } from '../../src/observability/forecast/smoothing.js';
import { seededRandom } from '../netem/model.js'; // deterministic noise: every run prints the same table

const STEP = 30_000;
const MIN = 60_000;
const BYTES_PER_VIEWER = 375_000;


type Trace = { t: number; v: number }[];

function diurnal(days: number): Trace {
  const r = seededRandom(7);
  const out: Trace = [];
  for (let t = 0; t < days * DAY_MS; t += STEP) {
    const hour = (t % DAY_MS) / 3_600_000;
    // Trough at 04:00, peak at 20:00: a raised cosine plus an evening bump.
    const base = 2000 + 1500 * Math.cos((2 * Math.PI * (hour - 20)) / 24) + 600 * Math.exp(-((hour - 20) ** 2) / 4);
    out.push({ t, v: Math.max(0, Math.round(base * (1 + (r() - 0.5) * 0.1))) });
  }
  return out;
}

const EVENT_AT = 60 * MIN;
function liveEvent(): Trace {
  const r = seededRandom(11);
  const out: Trace = [];
  for (let t = 0; t < 150 * MIN; t += STEP) {
    const since = t - EVENT_AT;
    const v = since < 0 ? r() * 3 : since < 3 * MIN ? (50_000 * since) / (3 * MIN) : 50_000 * (1 + (r() - 0.5) * 0.04);
    out.push({ t, v: Math.round(v) });
  }
  return out;
}

interface Run {
  /** forecast made at sample i for each horizon */
  f: Record<HorizonLabel, number[]>;
}

function replay(trace: Trace, historyMax: number, scheduled: (t: number, viewers: number) => ScheduledStream[]): Run {
  const fc = new ViewerForecaster({ stepMs: STEP, historyMax, rampMs: 5 * MIN, bytesPerViewer: BYTES_PER_VIEWER });
  const f: Run['f'] = { '5m': [], '15m': [] };
  for (const s of trace) {
    fc.add({ t: s.t, viewers: s.v, egressBps: s.v * BYTES_PER_VIEWER });
    const out = fc.forecast(s.t, scheduled(s.t, s.v));
    f['5m'].push(out.viewers['5m']);
    f['15m'].push(out.viewers['15m']);
  }
  return { f };
}

function naive(trace: Trace): Run {
  const v = trace.map((s) => s.v);
  return { f: { '5m': v, '15m': v } };
}

/** MAE and MAPE of forecasts made at samples in [from, to) for horizon `steps` ahead. */
function errors(trace: Trace, pred: number[], steps: number, from: number, to: number): { mae: number; mape: number } {
  let abs = 0, n = 0, pct = 0, np = 0;
  for (let i = 0; i + steps < trace.length; i++) {
    if (trace[i]!.t < from || trace[i]!.t >= to) continue;
    const actual = trace[i + steps]!.v;
    const e = Math.abs(pred[i]! - actual);
    abs += e;
    n++;
    if (actual >= 100) {
      pct += e / actual;
      np++;
    }
  }
  return { mae: abs / n, mape: (100 * pct) / np };
}

/** Minutes between the gauge's and the forecast's first upward crossing of `threshold`, per rise. */
function leads(trace: Trace, pred: number[], threshold: number, from: number): number[] {
  const out: number[] = [];
  let armed = true;
  let forecastAt: number | null = null;
  for (let i = 0; i < trace.length; i++) {
    const t = trace[i]!.t;
    if (t < from) continue;
    if (armed && forecastAt === null && pred[i]! >= threshold) forecastAt = t;
    if (armed && trace[i]!.v >= threshold) {
      out.push(((t - (forecastAt ?? t)) / MIN));
      armed = false;
      forecastAt = null;
    }
    // Re-arm once the gauge is well below the threshold again (the next day's rise).
    if (!armed && trace[i]!.v < threshold * 0.8) armed = true;
  }
  return out;
}

const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const rows: string[][] = [];
function report(name: string, trace: Trace, run: Run, from: number, to: number, threshold: number): void {
  const e5 = errors(trace, run.f['5m'], 5 * MIN / STEP, from, to);
  const e15 = errors(trace, run.f['15m'], 15 * MIN / STEP, from, to);
  const l5 = leads(trace, run.f['5m'], threshold, from);
  const l15 = leads(trace, run.f['15m'], threshold, from);
  const mean = (a: number[]) => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : NaN);
  rows.push([name, fmt(e5.mae), `${fmt(e5.mape, 1)} %`, fmt(e15.mae), `${fmt(e15.mape, 1)} %`, fmt(mean(l5), 1), fmt(mean(l15), 1)]);
}

const t0 = performance.now();
const day = diurnal(4);
const from = 2 * DAY_MS;
const none = () => [];
report('diurnal, seasonal (days 3-4)', day, replay(day, 8640, none), from, 4 * DAY_MS, 3000);
report('diurnal, trend only (< 2 days kept)', day, replay(day, 2000, none), from, 4 * DAY_MS, 3000);
report('diurnal, naive (current gauge)', day, naive(day), from, 4 * DAY_MS, 3000);
const ev = liveEvent();
const evFrom = EVENT_AT - 30 * MIN;
report('live event, no schedule', ev, replay(ev, 8640, none), evFrom, ev.at(-1)!.t, 10_000);
const known = (_t: number, viewers: number): ScheduledStream[] => [{ id: 'event', start: EVENT_AT, expectedViewers: 50_000, viewers }];
report('live event, scheduledStart + expectedViewers', ev, replay(ev, 8640, known), evFrom, ev.at(-1)!.t, 10_000);
report('live event, naive (current gauge)', ev, naive(ev), evFrom, ev.at(-1)!.t, 10_000);

const head = ['trace / forecast', 'MAE 5m', 'MAPE 5m', 'MAE 15m', 'MAPE 15m', 'lead 5m (min)', 'lead 15m (min)'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
console.log(line(head));
console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const r of rows) console.log(line(r));
console.log(`\nthresholds: diurnal 3,000 viewers, live event 10,000; lead = minutes the forecast crossed before the gauge (mean over rises); ${fmt((performance.now() - t0) / 1000, 1)} s`);
