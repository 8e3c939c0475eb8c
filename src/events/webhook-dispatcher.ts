/**
 * Sends bus events to webhooks: every event whose type a webhook's filter matches is POSTed as
 * JSON `{id, type, at, data}`, signed (`Strom-Signature`, webhook-signature.ts), with a per-attempt
 * timeout and exponential-backoff retries. Deliveries wait in a bounded in-memory queue — a slow
 * receiver must never grow memory or hold up the producers — so overflow is dropped, counted and
 * logged; every attempt is written to `webhook_deliveries`. `video.progress` is frequent and goes
 * only to webhooks that name it explicitly. `stop()` aborts in-flight requests and clears timers.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Store } from '../store/db/database.js';
import type { WebhookRow } from '../store/db/schema.js';
import { newId } from '../store/db/ids.js';
import type { BusEvent, EventBus } from './event-bus.js';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signWebhook } from './webhook-signature.js';

/** One delivery of one event to one webhook (retries reuse it). */
interface Delivery {
  webhook: Pick<WebhookRow, 'id' | 'url' | 'secret'>;
  type: string;
  eventId: string;
  body: string;
  attempt: number;
}

/** True when a webhook's `events` filter (JSON array) selects `type`: exact, `*`, or `prefix.*`. */
export function webhookWants(filter: string[], type: string): boolean {
  if (filter.includes(type)) return true;
  if (type === 'video.progress') return false; // frequent: only when named explicitly
  return filter.some((f) => f === '*' || (f.endsWith('.*') && type.startsWith(f.slice(0, -1))));
}

/** Delivers bus events to the registered webhooks. */
export class WebhookDispatcher {
  /** Deliveries dropped because the queue was full. */
  dropped = 0;
  private readonly queue: Delivery[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Map<AbortController, Promise<void>>();
  private unsubscribe: (() => void) | null = null;
  private stopped = false;

  constructor(private readonly o: { config: Config; store: Store; bus: EventBus; log: Logger; fetch?: typeof fetch }) {}

  /** Subscribe to the bus. */
  start(): void {
    this.unsubscribe = this.o.bus.subscribe((e) => {
      this.fanOut(e).catch((err: unknown) => this.o.log.error({ err, type: e.type }, 'webhook fan-out failed'));
    });
  }

  /** Deliveries waiting (queued or in backoff) plus in flight. */
  get pending(): number {
    return this.queue.length + this.timers.size + this.inflight.size;
  }

  /** Unsubscribe, drop queued work, abort in-flight requests and wait for them to settle. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
    for (const c of this.inflight.keys()) c.abort(new Error('shutting down'));
    await Promise.allSettled(this.inflight.values());
  }

  private async fanOut(e: BusEvent): Promise<void> {
    const hooks = (await this.o.store.webhooks.list()).filter((w) => webhookWants(JSON.parse(w.events) as string[], e.type));
    if (hooks.length === 0 || this.stopped) return;
    const eventId = newId('evt_');
    const body = JSON.stringify({ id: eventId, type: e.type, at: e.at, data: e.data });
    for (const w of hooks) this.enqueue({ webhook: { id: w.id, url: w.url, secret: w.secret }, type: e.type, eventId, body, attempt: 1 });
  }

  private enqueue(d: Delivery): void {
    if (this.stopped) return;
    if (this.pending >= this.o.config.webhooks.maxQueued) {
      this.dropped++;
      if (this.dropped === 1 || this.dropped % 100 === 0) this.o.log.warn({ dropped: this.dropped, webhookId: d.webhook.id, type: d.type }, 'webhook queue full, delivery dropped');
      return;
    }
    this.queue.push(d);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.inflight.size < this.o.config.webhooks.concurrency && this.queue.length > 0) {
      const d = this.queue.shift()!;
      const ctl = new AbortController();
      const p = this.attempt(d, ctl).finally(() => {
        this.inflight.delete(ctl);
        this.pump();
      });
      this.inflight.set(ctl, p);
    }
  }

  /** One HTTP attempt; logs it and schedules the retry on failure. */
  private async attempt(d: Delivery, ctl: AbortController): Promise<void> {
    const { timeoutMs, maxAttempts, retryBaseMs } = this.o.config.webhooks;
    const startedAt = Date.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      const res = await (this.o.fetch ?? fetch)(d.webhook.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.any([ctl.signal, AbortSignal.timeout(timeoutMs)]),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Strom-Webhooks/1',
          [SIGNATURE_HEADER]: signWebhook(d.webhook.secret, d.body),
          [EVENT_ID_HEADER]: d.eventId,
        },
        body: d.body,
      });
      statusCode = res.status;
      await res.body?.cancel().catch(() => undefined); // the receiver's body is not ours to read
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
    } catch (err) {
      const e = err as Error;
      error = e.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : ctl.signal.aborted ? 'aborted: shutting down' : `${e.name}: ${(e.cause as Error | undefined)?.message ?? e.message}`;
    }
    if (this.stopped && error) return; // the store may be closing; nothing more to do
    await this.o.store.webhooks.logAttempt({ webhookId: d.webhook.id, event: d.type, payload: d.body, attempt: d.attempt, statusCode, error, startedAt, endedAt: Date.now() })
      .catch((err: unknown) => this.o.log.warn({ err }, 'could not log webhook attempt'));
    if (error === null) return;
    if (d.attempt >= maxAttempts) {
      this.o.log.warn({ webhookId: d.webhook.id, eventId: d.eventId, attempts: d.attempt, error }, 'webhook delivery gave up');
      return;
    }
    const delay = retryBaseMs * 2 ** (d.attempt - 1);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.queue.push({ ...d, attempt: d.attempt + 1 });
      this.pump();
    }, delay);
    timer.unref();
    this.timers.add(timer);
  }
}
