/**
 * The forecaster of one node: a bounded history of (viewers, egress bytes/s) samples and the
 * forecast 5 and 15 minutes ahead (smoothing.ts on each series, plus the scheduled audience of
 * scheduled-audience.ts). Pure: no timer, no clock, no I/O — the sampler (forecast-service.ts)
 * and the evaluation (bench/forecast) feed it samples with their own clock.
 */
import { Ring } from '../metrics-history.js';
import { DEFAULT_SMOOTHING, smoothForecast, type ModelKind, type SeriesPoint, type SmoothingParams } from './smoothing.js';
import { scheduledAudience, type ScheduledStream } from './scheduled-audience.js';

/** The forecast horizons, as exported in the `horizon` label. */
export const HORIZONS = [{ label: '5m', ms: 5 * 60_000 }, { label: '15m', ms: 15 * 60_000 }] as const;
/** One horizon label. */
export type HorizonLabel = (typeof HORIZONS)[number]['label'];
/** The longest horizon (ms). */
export const MAX_HORIZON_MS = 15 * 60_000;

/** One sample of the node's load. */
export interface LoadSample {
  /** Epoch ms. */
  t: number;
  viewers: number;
  /** Bytes sent per second over the interval ending at `t`. */
  egressBps: number;
}

/** Expected viewers and egress per horizon. */
export interface ForecastFigures {
  viewers: Record<HorizonLabel, number>;
  egressBps: Record<HorizonLabel, number>;
}

/** The model-only forecast (no scheduled audience) of a node, what it shares with the cluster. */
export interface BaseForecast extends ForecastFigures {
  model: ModelKind;
}

/** Options of the forecaster. */
export interface ForecasterOptions {
  /** Sampling interval (ms): one model step. */
  stepMs: number;
  /** Most samples kept; the oldest are dropped. */
  historyMax: number;
  /** Scheduled audience ramp (scheduled-audience.ts). */
  rampMs: number;
  /** Egress of one expected viewer (bytes/s), for the scheduled audience's egress. */
  bytesPerViewer: number;
  params?: SmoothingParams;
}

const byHorizon = (f: (ms: number, i: number) => number): Record<HorizonLabel, number> => {
  const out = {} as Record<HorizonLabel, number>;
  HORIZONS.forEach((h, i) => (out[h.label] = f(h.ms, i)));
  return out;
};

/** Add the scheduled audience (and its egress) to a model-only forecast made at `now`. */
export function withScheduled(base: ForecastFigures, scheduled: readonly ScheduledStream[], now: number, o: { rampMs: number; bytesPerViewer: number; share?: number }): ForecastFigures {
  const share = o.share ?? 1;
  const extra = byHorizon((ms) => scheduledAudience(scheduled, now, ms, o.rampMs) * share);
  return {
    viewers: byHorizon((_, i) => Math.round(base.viewers[HORIZONS[i]!.label] + extra[HORIZONS[i]!.label])),
    egressBps: byHorizon((_, i) => Math.round(base.egressBps[HORIZONS[i]!.label] + extra[HORIZONS[i]!.label] * o.bytesPerViewer)),
  };
}

/** Sum of several nodes' model-only forecasts. */
export function sumForecasts(list: readonly ForecastFigures[]): ForecastFigures {
  return {
    viewers: byHorizon((_, i) => list.reduce((a, f) => a + f.viewers[HORIZONS[i]!.label], 0)),
    egressBps: byHorizon((_, i) => list.reduce((a, f) => a + f.egressBps[HORIZONS[i]!.label], 0)),
  };
}

/** History and forecast of one node's load. */
export class ViewerForecaster {
  private readonly ring: Ring<LoadSample>;
  private cached: BaseForecast | null = null;
  private readonly params: SmoothingParams;

  constructor(readonly o: ForecasterOptions) {
    this.ring = new Ring(Math.max(1, o.historyMax));
    this.params = o.params ?? DEFAULT_SMOOTHING;
  }

  /** Add a sample (oldest dropped once `historyMax` are held). */
  add(s: LoadSample): void {
    this.ring.push(s);
    this.cached = null;
  }

  /** Samples held. */
  get length(): number {
    return this.ring.length;
  }

  /** The latest sample, or null. */
  latest(): LoadSample | null {
    const all = this.ring.toArray();
    return all.length > 0 ? all[all.length - 1]! : null;
  }

  /** The model-only forecast from the samples held (computed once per sample). */
  base(): BaseForecast {
    if (this.cached) return this.cached;
    const samples = this.ring.toArray();
    const horizons = HORIZONS.map((h) => h.ms);
    const series = (pick: (s: LoadSample) => number): SeriesPoint[] => samples.map((s) => ({ t: s.t, v: pick(s) }));
    const v = smoothForecast(series((s) => s.viewers), this.o.stepMs, horizons, this.params);
    const e = smoothForecast(series((s) => s.egressBps), this.o.stepMs, horizons, this.params);
    this.cached = {
      viewers: byHorizon((_, i) => Math.round(v.values[i]!)),
      egressBps: byHorizon((_, i) => Math.round(e.values[i]!)),
      model: v.model,
    };
    return this.cached;
  }

  /** The node's forecast at `now`: the model plus the scheduled audience. */
  forecast(now: number, scheduled: readonly ScheduledStream[]): ForecastFigures {
    return withScheduled(this.base(), scheduled, now, this.o);
  }
}
