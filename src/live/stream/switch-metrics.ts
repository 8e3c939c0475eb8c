/** Prometheus counter of publisher switches (backup ingest), read from the registry at scrape time. */
import { Counter, type Registry } from 'prom-client';

/** Switch counts kept by the stream registry. */
export interface SwitchCounts {
  toBackup: number;
  toPrimary: number;
}

/** Switch metrics of a stream registry; created unregistered, joined by `register`. */
export class SwitchMetrics {
  private readonly counter: Counter<string>;

  constructor(n: SwitchCounts) {
    this.counter = new Counter({ name: 'strom_live_publisher_switches_total', help: 'Switches between a primary and a backup publisher while the stream stayed live, by the kind switched to', labelNames: ['to'], registers: [], collect() {
      this.reset();
      this.inc({ to: 'backup' }, n.toBackup);
      this.inc({ to: 'primary' }, n.toPrimary);
    } });
  }

  /** Join the process registry (once). */
  register(registry: Registry): void {
    registry.registerMetric(this.counter);
  }
}
