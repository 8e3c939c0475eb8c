/**
 * Exponential smoothing of a viewer (or egress) series, the model behind the predictive scaling
 * forecast (docs/SCALING.md "Predictive scaling"). Two forms, chosen by how much history there is:
 *
 * - trend only, Holt's linear trend with a damped trend (Gardner & McKenzie 1985; Hyndman &
 *   Athanasopoulos, "Forecasting: Principles and Practice", 3rd ed., section 8.2):
 *     level  L_t = α·y_t + (1−α)·(L_{t−1} + φ·T_{t−1})
 *     trend  T_t = β·(L_t − L_{t−1}) + (1−β)·φ·T_{t−1}
 *     ŷ_{t+h} = L_t + (φ + φ² + … + φ^h)·T_t
 *   started with L_0 = y_0, T_0 = 0;
 * - with at least two days of history, additive Holt-Winters (same book, section 8.3) with the
 *   same damped trend and a daily seasonal term S indexed by the slot of the day (UTC) a sample
 *   falls in (SLOT_MS wide, so each seasonal value averages several samples a day instead of one
 *   noisy sample):
 *     L_t = α·(y_t − S_slot) + (1−α)·(L_{t−1} + φ·T_{t−1})
 *     S_slot ← γ·(y_t − L_t) + (1−γ)·S_slot
 *     ŷ_{t+h} = L_t + (φ + … + φ^h)·T_t + S_slot(t+h)
 *   started from the first day: L_0 = its mean, S_slot = the slot's mean minus L_0, T_0 = 0.
 * The damped trend keeps a steep ramp from being extrapolated without end: the most a trend can
 * add is φ/(1−φ)·T. Forecasts are clipped at 0 (viewers and bytes are never negative).
 * No weights, no training: everything is recomputed from the bounded history in O(points).
 */

/** Smoothing constants (0–1): level α, trend β, season γ, trend damping φ. */
export interface SmoothingParams {
  alpha: number;
  beta: number;
  gamma: number;
  phi: number;
}

/** The constants the forecaster uses (chosen on the bench/forecast traces; docs/BENCHMARKS.md). */
export const DEFAULT_SMOOTHING: SmoothingParams = { alpha: 0.3, beta: 0.1, gamma: 0.1, phi: 0.9 };

/** One sample of a series: time (epoch ms) and value. */
export interface SeriesPoint {
  t: number;
  v: number;
}

/** One day, the seasonal period. */
export const DAY_MS = 86_400_000;
/** Width of a seasonal slot: 288 slots a day. */
export const SLOT_MS = 5 * 60_000;
const SLOTS = DAY_MS / SLOT_MS;

/** Which form a forecast used. */
export type ModelKind = 'none' | 'trend' | 'seasonal';

/** Sum φ + φ² + … + φ^h (the damped trend's multiplier h steps ahead). */
export function dampedSteps(phi: number, h: number): number {
  let s = 0;
  let p = 1;
  for (let i = 0; i < h; i++) {
    p *= phi;
    s += p;
  }
  return s;
}

const slotOf = (t: number): number => Math.floor((((t % DAY_MS) + DAY_MS) % DAY_MS) / SLOT_MS);

/**
 * Forecast `horizonsMs` after the last point of `points` (oldest first, about `stepMs` apart):
 * one value per horizon, and the form used. Empty history forecasts 0.
 */
export function smoothForecast(points: readonly SeriesPoint[], stepMs: number, horizonsMs: readonly number[], p: SmoothingParams = DEFAULT_SMOOTHING): { values: number[]; model: ModelKind } {
  if (points.length === 0) return { values: horizonsMs.map(() => 0), model: 'none' };
  const last = points[points.length - 1]!;
  const seasonal = last.t - points[0]!.t >= 2 * DAY_MS;
  let level: number;
  let trend = 0;
  let start: number;
  const season = new Float64Array(SLOTS);
  if (seasonal) {
    // First day: level = its mean, each slot's offset from it.
    const dayEnd = points[0]!.t + DAY_MS;
    const sums = new Float64Array(SLOTS);
    const counts = new Uint32Array(SLOTS);
    let total = 0;
    start = 0;
    while (start < points.length && points[start]!.t < dayEnd) {
      const q = points[start++]!;
      const s = slotOf(q.t);
      sums[s]! += q.v;
      counts[s]!++;
      total += q.v;
    }
    level = total / start;
    for (let s = 0; s < SLOTS; s++) season[s] = counts[s]! > 0 ? sums[s]! / counts[s]! - level : 0;
  } else {
    level = points[0]!.v;
    start = 1;
  }
  for (let i = start; i < points.length; i++) {
    const q = points[i]!;
    const s = seasonal ? slotOf(q.t) : 0;
    const prev = level;
    level = p.alpha * (q.v - season[s]!) + (1 - p.alpha) * (prev + p.phi * trend);
    trend = p.beta * (level - prev) + (1 - p.beta) * p.phi * trend;
    if (seasonal) season[s] = p.gamma * (q.v - level) + (1 - p.gamma) * season[s]!;
  }
  const values = horizonsMs.map((h) => {
    const steps = Math.max(1, Math.round(h / stepMs));
    const seasonal_ = seasonal ? season[slotOf(last.t + h)]! : 0;
    return Math.max(0, level + dampedSteps(p.phi, steps) * trend + seasonal_);
  });
  return { values, model: seasonal ? 'seasonal' : 'trend' };
}
