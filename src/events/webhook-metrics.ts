/**
 * Webhook metrics: the outbox by state (read from the store at scrape time, for the whole
 * service), what this node holds in memory (events buffered while the store is away, deliveries
 * in flight), attempts by outcome and deliveries dropped by reason. Created unregistered and
 * joined to the process registry by `register` (app.ts owns the registry). A scrape never waits
 * on an unreachable store for long: the outbox count is bounded by `OUTBOX_READ_MS` and keeps its
 * last value when the store does not answer.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { OutboxState } from '../store/db/schema.js';

/** Why deliveries were dropped: the outbox was full, the memory buffer was full, or they waited past the retention. */
export type DropReason = 'queue_full' | 'buffer_full' | 'expired';
/** How an attempt ended: delivered (2xx), retried later, or failed for good (no attempt left). */
export type AttemptOutcome = 'delivered' | 'retried' | 'failed';

/** Longest a scrape waits for the outbox count. */
const OUTBOX_READ_MS = 1000;

/** What the gauges read. */
export interface WebhookMetricSources {
  outbox(): Promise<Record<OutboxState, number>>;
  buffered(): number;
  inFlight(): number;
}

/** The webhook metrics of one process. */
export class WebhookMetrics {
  private readonly attempts = new Counter({ name: 'strom_webhook_attempts_total', help: 'Webhook delivery attempts by outcome (delivered, retried, failed = given up)', labelNames: ['outcome'] as const, registers: [] });
  private readonly drops = new Counter({ name: 'strom_webhook_dropped_total', help: 'Webhook deliveries dropped: queue_full (outbox at webhooks.maxQueued), buffer_full (store unreachable, webhooks.maxBuffered), expired (undelivered past webhooks.retentionMs)', labelNames: ['reason'] as const, registers: [] });
  private readonly gauges: Gauge[];
  /** Deliveries dropped since start, by reason (also for tests and logs). */
  readonly dropped: Record<DropReason, number> = { queue_full: 0, buffer_full: 0, expired: 0 };

  constructor(s: WebhookMetricSources) {
    const last: Record<OutboxState, number> = { pending: 0, delivering: 0, failed: 0 };
    this.gauges = [
      new Gauge({ name: 'strom_webhook_deliveries', help: 'Webhook deliveries in the outbox by state, for the whole service (pending = waiting or backing off)', labelNames: ['state'] as const, registers: [], async collect() {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), OUTBOX_READ_MS)));
        const counts = await Promise.race([s.outbox().catch(() => null), timeout]);
        clearTimeout(timer);
        if (counts !== null) Object.assign(last, counts);
        for (const [state, n] of Object.entries(last)) this.set({ state }, n);
      } }),
      new Gauge({ name: 'strom_webhook_buffered_events', help: 'Events held in memory on this node while the metadata store is unreachable (at most webhooks.maxBuffered)', registers: [], collect() {
        this.set(s.buffered());
      } }),
      new Gauge({ name: 'strom_webhook_in_flight', help: 'Webhook requests in flight on this node (at most webhooks.concurrency)', registers: [], collect() {
        this.set(s.inFlight());
      } }),
    ];
  }

  /** Join the process registry (once). */
  register(registry: Registry): void {
    registry.registerMetric(this.attempts);
    registry.registerMetric(this.drops);
    for (const g of this.gauges) registry.registerMetric(g);
  }

  /** Count finished attempts. */
  attempt(outcome: AttemptOutcome, n = 1): void {
    this.attempts.inc({ outcome }, n);
  }

  /** Count dropped deliveries (or buffered events); returns the running total for that reason. */
  drop(reason: DropReason, n: number): number {
    this.drops.inc({ reason }, n);
    return (this.dropped[reason] += n);
  }
}
