/**
 * Predictive scaling on one node (docs/SCALING.md "Predictive scaling"): every
 * `forecast.sampleIntervalMs` the sampler reads the /metrics exposition for the node's viewers
 * (live viewers of every protocol, CMCD-reporting players, WHEP sessions) and egress (growth of
 * `strom_http_response_bytes_total`), feeds the ViewerForecaster, and in a cluster shares the
 * model-only forecast through Redis (src/cluster/forecast-share.ts). At scrape time it exports
 *   strom_forecast_viewers{horizon="5m"|"15m",scope="node"|"cluster"}
 *   strom_forecast_egress_bytes_per_second{horizon,scope}
 * adding the scheduled audience read from the store. Cluster scope = Σ nodes' model forecasts +
 * the scheduled audience once; node scope = this node's model forecast + an even share (1/nodes)
 * of the scheduled audience, so the node series add up to the cluster series.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { ForecastShare, ForecastShareEntry } from '../../cluster/forecast-share.js';
import type { LiveStreamRow } from '../../store/db/schema.js';
import { CounterIncreases, parseProm, sum } from '../prom-text.js';
import { scheduleWindow, type ScheduledStream } from './scheduled-audience.js';
import { HORIZONS, MAX_HORIZON_MS, sumForecasts, ViewerForecaster, withScheduled, type ForecastFigures, type HorizonLabel, type LoadSample } from './viewer-forecaster.js';

/** Scheduled streams read per evaluation (the earliest first); more are left out of the forecast. */
export const MAX_SCHEDULED_STREAMS = 1000;
const BYTES = 'strom_http_response_bytes_total';

/** What the service reads from the rest of the process. */
export interface ForecastSources {
  /** The /metrics exposition text. */
  exposition: () => Promise<string>;
  /** Streams with a schedule whose start lies in [from, to]. */
  scheduled: (from: number, to: number, limit: number) => Promise<LiveStreamRow[]>;
  /** This node's viewers by live stream id. */
  streamViewers: () => Map<string, number>;
  /** The cluster's shared forecasts; absent on a single node. */
  share?: ForecastShare;
  log?: Logger;
  /** Clock (epoch ms), for tests. */
  now?: () => number;
}

/** Viewers (all playback protocols) and egress (bytes/s over `seconds`) of one exposition reading. */
export function loadOf(text: string, increases: CounterIncreases, seconds: number | null): { viewers: number; egressBps: number | null } {
  const samples = parseProm(text);
  const viewers = sum(samples, 'strom_live_viewers') + sum(samples, 'strom_qoe_active_sessions') + sum(samples, 'strom_webrtc_sessions', (l) => l.role === 'whep');
  const inc = increases.next(samples.filter((s) => s.name === BYTES));
  return { viewers, egressBps: inc !== null && seconds !== null && seconds > 0 ? sum(inc, BYTES) / seconds : null };
}

/** The sampler, the cluster view and the exported gauges. */
export class ForecastService {
  readonly forecaster: ViewerForecaster;
  private readonly increases = new CounterIncreases();
  private readonly now: () => number;
  private readonly ramp: { rampMs: number; bytesPerViewer: number };
  private prevAt: number | null = null;
  private peers = new Map<string, ForecastShareEntry>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private failures: Counter | null = null;
  private inflight: ReturnType<ForecastService['current']> | null = null;

  constructor(private readonly cfg: Config['forecast'], private readonly src: ForecastSources) {
    this.forecaster = new ViewerForecaster({ stepMs: cfg.sampleIntervalMs, historyMax: cfg.historyMaxSamples, rampMs: cfg.rampMs, bytesPerViewer: cfg.bytesPerViewer });
    this.ramp = { rampMs: cfg.rampMs, bytesPerViewer: cfg.bytesPerViewer };
    this.now = src.now ?? Date.now;
  }

  /** Sample now and then every interval (no-op when `forecast.enabled` is off). */
  start(): this {
    if (!this.cfg.enabled || this.timer !== null) return this;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.cfg.sampleIntervalMs);
    this.timer.unref();
    return this;
  }

  /** Stop sampling and withdraw this node's shared entry. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.src.share?.withdraw().catch(() => undefined);
  }

  /** Take one sample, share the model forecast and read the other nodes'; skipped while one runs. */
  async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const text = await this.src.exposition();
      const at = this.now();
      const load = loadOf(text, this.increases, this.prevAt === null ? null : (at - this.prevAt) / 1000);
      this.prevAt = at;
      // The first reading has no interval to measure egress over: it only primes the counters.
      if (load.egressBps !== null) this.forecaster.add({ t: at, viewers: load.viewers, egressBps: load.egressBps } satisfies LoadSample);
      if (this.src.share) {
        const local = this.src.streamViewers();
        const base = this.forecaster.base();
        const scheduledViewers: Record<string, number> = {};
        for (const r of await this.scheduledRows(at)) if ((local.get(r.id) ?? 0) > 0) scheduledViewers[r.id] = local.get(r.id)!;
        await this.src.share.publish({ at, viewers: base.viewers, egressBps: base.egressBps, scheduledViewers });
        this.peers = await this.src.share.readAll(at);
      }
    } catch (err) {
      this.failures?.inc();
      this.src.log?.warn({ err, nodeId: this.src.share?.nodeId }, 'forecast: sampling failed');
    } finally {
      this.busy = false;
    }
  }

  private async scheduledRows(now: number): Promise<LiveStreamRow[]> {
    const w = scheduleWindow(now, MAX_HORIZON_MS, this.cfg.rampMs);
    return this.src.scheduled(w.from, w.to, MAX_SCHEDULED_STREAMS);
  }

  /** The forecasts at `now` for this node and for the cluster (the same on a single node). */
  async current(): Promise<{ node: ForecastFigures; cluster: ForecastFigures; nodes: number }> {
    const now = this.now();
    // A store outage must not fail the whole /metrics scrape: the forecast goes on without the schedule.
    const rows = await this.scheduledRows(now).catch((err: unknown) => {
      this.failures?.inc();
      this.src.log?.warn({ err, nodeId: this.src.share?.nodeId }, 'forecast: scheduled streams unreadable');
      return [];
    });
    const own = this.forecaster.base();
    const local = this.src.streamViewers();
    const others = [...this.peers.entries()].filter(([id]) => id !== this.src.share?.nodeId).map(([, e]) => e);
    // A stream's viewers across the cluster: this node's live figure plus the other nodes' shared ones.
    const scheduled: ScheduledStream[] = rows.map((r) => ({
      id: r.id, start: r.scheduled_start!, expectedViewers: r.expected_viewers!,
      viewers: (local.get(r.id) ?? 0) + others.reduce((a, e) => a + (e.scheduledViewers[r.id] ?? 0), 0),
    }));
    const nodes = 1 + others.length;
    const modelSum = sumForecasts([own, ...others]);
    return {
      node: withScheduled(own, scheduled, now, { ...this.ramp, share: 1 / nodes }),
      cluster: withScheduled(modelSum, scheduled, now, this.ramp),
      nodes,
    };
  }

  /** `current()` shared by the gauges of one scrape (prom-client collects every metric concurrently). */
  private scrape(): Promise<Awaited<ReturnType<ForecastService['current']>>> {
    return (this.inflight ??= this.current().finally(() => (this.inflight = null)));
  }

  /** Export the forecast gauges into `registry` (computed at scrape time). */
  register(registry: Registry): void {
    const registers = [registry];
    const labelNames = ['horizon', 'scope'] as const;
    const enabled = this.cfg.enabled;
    const scrape = () => this.scrape();
    const gauge = (name: string, help: string, pick: (f: ForecastFigures) => Record<HorizonLabel, number>) => new Gauge({ name, help, labelNames, registers, collect: async function (this: Gauge<'horizon' | 'scope'>) {
      this.reset();
      if (!enabled) return;
      const f = await scrape();
      for (const [scope, fig] of [['node', f.node], ['cluster', f.cluster]] as const) {
        for (const h of HORIZONS) this.set({ horizon: h.label, scope }, pick(fig)[h.label]);
      }
    } });
    gauge('strom_forecast_viewers', 'Expected viewers 5 and 15 minutes ahead (smoothing model + scheduled streams), for this node and the cluster', (f) => f.viewers);
    gauge('strom_forecast_egress_bytes_per_second', 'Expected egress (bytes/s) 5 and 15 minutes ahead, for this node and the cluster', (f) => f.egressBps);
    const forecaster = this.forecaster;
    new Gauge({ name: 'strom_forecast_history_samples', help: 'Load samples the forecaster holds (bounded by forecast.historyMaxSamples)', registers, collect() {
      this.set(forecaster.length);
    } });
    this.failures = new Counter({ name: 'strom_forecast_sample_failures_total', help: 'Forecast samples or scrapes that failed (exposition, store or Redis unavailable)', registers });
  }
}
