/**
 * Metrics of media storage operations: `strom_storage_operations_total{backend,op,outcome}` and
 * `strom_storage_operation_seconds{backend,op}` (time to the response, not to the last byte of a
 * streamed body). Ops are a fixed set (stat, get, get_range, put, copy, list, delete, publish), so
 * label values stay bounded. A storage built before the process's registry exists records nothing
 * until `attach(registry)`; delivery workers attach their own registry, which the main sums.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

/** The operations measured. */
export type StorageOp = 'stat' | 'get' | 'get_range' | 'put' | 'copy' | 'list' | 'delete' | 'publish' | 'download';

/** Per-storage recorder of operation outcomes and latencies. */
export class StorageMetrics {
  private ops: Counter<'backend' | 'op' | 'outcome'> | null = null;
  private latency: Histogram<'backend' | 'op'> | null = null;
  /** Operations that failed (other than "not found") since start, for tests and logs. */
  errors = 0;

  constructor(private readonly backend: 'fs' | 's3') {}

  /** Register the metric families in `registry` (once per registry; a second call is ignored). */
  attach(registry: Registry): void {
    if (this.ops !== null) return;
    const registers = [registry];
    this.ops = (registry.getSingleMetric('strom_storage_operations_total') as Counter<'backend' | 'op' | 'outcome'> | undefined)
      ?? new Counter({ name: 'strom_storage_operations_total', help: 'Media storage operations by backend, op and outcome (ok, not_found, error)', labelNames: ['backend', 'op', 'outcome'] as const, registers });
    this.latency = (registry.getSingleMetric('strom_storage_operation_seconds') as Histogram<'backend' | 'op'> | undefined)
      ?? new Histogram({ name: 'strom_storage_operation_seconds', help: 'Time to the response of one media storage operation', labelNames: ['backend', 'op'] as const, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60], registers });
  }

  /** Record one operation that started at `t0` (performance.now()). */
  record(op: StorageOp, t0: number, outcome: 'ok' | 'not_found' | 'error'): void {
    if (outcome === 'error') this.errors++;
    if (this.ops === null) return;
    this.ops.inc({ backend: this.backend, op, outcome });
    this.latency!.observe({ backend: this.backend, op }, (performance.now() - t0) / 1000);
  }

  /** Run `fn` as operation `op`: a null result counts as not_found, a throw as error. */
  async time<T>(op: StorageOp, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      const out = await fn();
      this.record(op, t0, out === null ? 'not_found' : 'ok');
      return out;
    } catch (err) {
      this.record(op, t0, (err as { code?: string }).code === 'OBJECT_NOT_FOUND' ? 'not_found' : 'error');
      throw err;
    }
  }
}
