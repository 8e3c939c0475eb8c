/** Prometheus metrics of the slate renderer and of streams on a slate, read at scrape time. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { StreamRegistry } from '../stream/stream-registry.js';
import type { SlateRenderStats } from './slate-renderer.js';

/** Slate metrics; created unregistered, joined by `register`. */
export class SlateMetrics {
  private readonly metrics: Array<Counter<string> | Gauge<string>>;

  constructor(stats: SlateRenderStats, streams: StreamRegistry) {
    this.metrics = [
      new Counter({ name: 'strom_live_slate_renders_total', help: 'Slate clips asked for, by result (ok: rendered by ffmpeg, cached: reused, failed: the stream ended without a slate)', labelNames: ['result'], registers: [], collect() {
        this.reset();
        this.inc({ result: 'ok' }, stats.renders);
        this.inc({ result: 'cached' }, stats.cacheHits);
        this.inc({ result: 'failed' }, stats.failures);
      } }),
      new Gauge({ name: 'strom_live_slate_streams', help: 'Live streams showing the slate now (publisher away, within live.reconnectWindowS)', registers: [], collect() {
        this.set(streams.list().filter((s) => s.slate !== null).length);
      } }),
    ];
  }

  /** Join the process registry (once). */
  register(registry: Registry): void {
    for (const m of this.metrics) registry.registerMetric(m);
  }
}
