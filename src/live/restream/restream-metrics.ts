/** Prometheus metrics of restreaming outputs, read from the service at scrape time; created unregistered, joined by `register`. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { OutputState } from './restream-output.js';

/** What the metrics read. */
export interface RestreamFigures {
  /** Outputs running on this node by state. */
  byState(): Record<OutputState, number>;
  /** Bytes pushed to destinations since start (ended connections included). */
  bytesSent(): number;
  /** Failures followed by a reconnect, since start. */
  reconnects(): number;
}

const STATES: readonly OutputState[] = ['idle', 'connecting', 'live', 'reconnecting', 'failed'];

/** The restreaming metrics. */
export class RestreamMetrics {
  private readonly all: Array<Counter<string> | Gauge<string>>;

  constructor(f: RestreamFigures) {
    this.all = [
      new Gauge({ name: 'strom_live_outputs', help: 'Restreaming outputs of streams live on this node, by state', labelNames: ['state'], registers: [], collect() {
        const n = f.byState();
        for (const s of STATES) this.set({ state: s }, n[s]);
      } }),
      new Counter({ name: 'strom_live_output_bytes_sent_total', help: 'Bytes pushed to restreaming destinations', registers: [], collect() {
        this.reset();
        this.inc(f.bytesSent());
      } }),
      new Counter({ name: 'strom_live_output_reconnects_total', help: 'Restreaming output failures followed by a reconnect (backoff 1 s doubling to 30 s)', registers: [], collect() {
        this.reset();
        this.inc(f.reconnects());
      } }),
    ];
  }

  /** Join the process registry (once). */
  register(registry: Registry): void {
    for (const m of this.all) registry.registerMetric(m);
  }
}
