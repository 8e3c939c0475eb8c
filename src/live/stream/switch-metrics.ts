/** Prometheus counters of publisher switches (backup ingest) and the slate, read from the registry at scrape time. */
import { Counter, type Registry } from 'prom-client';

/** Switch counts kept by the stream registry. */
export interface SwitchCounts {
  toBackup: number;
  toPrimary: number;
  /** A slate took the place of a publisher that left (reconnect window). */
  toSlate: number;
  /** A publisher came back within the window. */
  slateResumed: number;
  /** The window ended without a publisher: the stream ended. */
  slateExpired: number;
}

/** Switch metrics of a stream registry; created unregistered, joined by `register`. */
export class SwitchMetrics {
  private readonly counter: Counter<string>;
  private readonly slate: Counter<string>;

  constructor(n: SwitchCounts) {
    this.counter = new Counter({ name: 'strom_live_publisher_switches_total', help: 'Switches between a primary and a backup publisher while the stream stayed live, by the kind switched to', labelNames: ['to'], registers: [], collect() {
      this.reset();
      this.inc({ to: 'backup' }, n.toBackup);
      this.inc({ to: 'primary' }, n.toPrimary);
    } });
    this.slate = new Counter({ name: 'strom_live_slate_total', help: 'Reconnect window: slates started when a publisher left, and how they ended (resumed: a publisher came back; expired: the stream ended)', labelNames: ['event'], registers: [], collect() {
      this.reset();
      this.inc({ event: 'started' }, n.toSlate);
      this.inc({ event: 'resumed' }, n.slateResumed);
      this.inc({ event: 'expired' }, n.slateExpired);
    } });
  }

  /** Join the process registry (once). */
  register(registry: Registry): void {
    registry.registerMetric(this.counter);
    registry.registerMetric(this.slate);
  }
}
