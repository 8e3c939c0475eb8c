/** Prometheus metrics of pulled sources, read from the manager at scrape time; created unregistered, joined by `register`. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SourceState } from './pulled-source.js';

/** What the metrics read. */
export interface PullFigures {
  /** Sources this node runs, by state. */
  byState(): Record<SourceState, number>;
  /** Connection attempts since start by protocol and result (`ok` or an error code). */
  connects(): ReadonlyMap<string, number>;
  /** Bytes received from sources since start. */
  bytesIn(): number;
}

const STATES: readonly SourceState[] = ['idle', 'connecting', 'live', 'failed'];

/** The pulled-source metrics. */
export class PullMetrics {
  private readonly all: Array<Counter<string> | Gauge<string>>;

  constructor(f: PullFigures) {
    this.all = [
      new Gauge({ name: 'strom_live_sources', help: 'Pulled sources known on this node, by state', labelNames: ['state'], registers: [], collect() {
        const n = f.byState();
        for (const s of STATES) this.set({ state: s }, n[s]);
      } }),
      new Counter({ name: 'strom_live_source_connects_total', help: 'Connection attempts to pulled sources, by protocol and result (ok or the error code)', labelNames: ['protocol', 'result'], registers: [], collect() {
        this.reset();
        for (const [k, n] of f.connects()) {
          const [protocol, result] = k.split(' ');
          this.inc({ protocol, result }, n);
        }
      } }),
      new Counter({ name: 'strom_live_source_bytes_total', help: 'Bytes received from pulled sources', registers: [], collect() {
        this.reset();
        this.inc(f.bytesIn());
      } }),
    ];
  }

  /** Join the process registry (once). */
  register(registry: Registry): void {
    for (const m of this.all) registry.registerMetric(m);
  }
}
