/**
 * Sends bus events to webhooks through a durable outbox in the metadata store
 * (src/store/db/webhook-outbox-repo.ts): a delivery survives a restart, and the nodes of a cluster
 * send it once between them.
 *
 * Enqueue. In a cluster every node sees every event; an event is enqueued only by the node that
 * owns it — by default the one that published it (`BusEvent.local`). Each webhook whose filter
 * matches the type gets one outbox row carrying the JSON body `{id, type, at, data}` fixed then;
 * `video.progress` is frequent and goes only to webhooks that name it. The outbox holds at most
 * `webhooks.maxQueued` undelivered rows for the service; beyond that deliveries are dropped,
 * counted and logged. While the store is unreachable, events wait in memory (at most
 * `webhooks.maxBuffered`, oldest dropped first) and are enqueued when it returns.
 *
 * Delivery. A poller on every node leases due rows (at most `webhooks.concurrency` in flight per
 * node) and POSTs each, signed (`Strom-Signature`), with `Strom-Event-Id` and `Strom-Delivery-Id`,
 * aborted after `webhooks.timeoutMs`. It logs the attempt, deletes the row on a 2xx, or makes it
 * due again after `webhooks.retryBaseMs` × 2^(n−1) until `webhooks.maxAttempts` (then `failed`).
 * The lease (2 × timeoutMs + 5 s) outlives any attempt; a killed node's leases expire and another
 * node sends those deliveries again — at least once, receivers deduplicate on the delivery id.
 * While the store is unreachable the poller backs off and logs once (store-outage.ts). Every
 * minute a node fails deliveries whose last attempt never finished and prunes what is older than
 * `webhooks.retentionMs` (undelivered rows expire, counted).
 *
 * `stop()` unsubscribes, aborts in-flight requests and gives their leases back without counting
 * the attempt, so another node (or the next start) sends them at once; with the store away the
 * leases expire instead. Events still buffered in memory then are lost, and logged.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Store } from '../store/db/database.js';
import type { WebhookOutboxRow, WebhookRow } from '../store/db/schema.js';
import { newId } from '../store/db/ids.js';
import { StoreOutage } from '../store/db/store-outage.js';
import type { BusEvent, EventBus } from './event-bus.js';
import { DELIVERY_ID_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, signWebhook } from './webhook-signature.js';
import { WebhookMetrics, type DropReason } from './webhook-metrics.js';

/** How often a node fails exhausted deliveries and prunes by retention. */
const MAINTENANCE_MS = 60_000;
/** Longest `stop()` waits for the store to take leases and buffered events back. */
const STOP_GRACE_MS = 2_000;
/** Events waiting for their turn to be written; beyond it (a store far slower than the events) they go to the memory buffer. */
const MAX_QUEUED_WRITES = 10_000;

/** True when a webhook's `events` filter selects `type`: exact, `*`, or `prefix.*`. */
export function webhookWants(filter: string[], type: string): boolean {
  if (filter.includes(type)) return true;
  if (type === 'video.progress') return false; // frequent: only when named explicitly
  return filter.some((f) => f === '*' || (f.endsWith('.*') && type.startsWith(f.slice(0, -1))));
}

/** The webhooks of `hooks` that want `type`. */
function wanting(hooks: readonly WebhookRow[], type: string): WebhookRow[] {
  return hooks.filter((w) => webhookWants(JSON.parse(w.events) as string[], type));
}

/** `p`, or a rejection after `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A delivery being sent by this node. */
interface InFlight {
  row: WebhookOutboxRow;
  ctl: AbortController;
  done: Promise<void>;
}

/** Delivers bus events to the registered webhooks through the store's outbox. */
export class WebhookDispatcher {
  readonly metrics: WebhookMetrics;
  private readonly backlog: BusEvent[] = [];
  private readonly inflight = new Map<string, InFlight>();
  /** Enqueues run one after another (event order, and an exact `maxQueued` check on this node). */
  private writes: Promise<void> = Promise.resolve();
  private writesQueued = 0;
  private readonly outage: StoreOutage;
  /** The webhooks as last read, to skip buffering events nobody wants while the store is away. */
  private knownHooks: WebhookRow[] | null = null;
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private polling: Promise<void> | null = null;
  /** Earliest poll asked for while one was running. */
  private nextAt = Infinity;
  private stopped = false;
  private orphansChecked = false;
  private lastMaintenance = 0;
  /** A lease outlives any attempt (bounded by timeoutMs) and the recording after it. */
  private readonly leaseMs: number;

  constructor(private readonly o: {
    config: Config;
    store: Store;
    bus: EventBus;
    log: Logger;
    fetch?: typeof fetch;
    /** Which events this node enqueues (default: those it published, so a cluster enqueues each once). */
    owns?: (e: BusEvent) => boolean;
  }) {
    this.leaseMs = 2 * o.config.webhooks.timeoutMs + 5000;
    this.outage = new StoreOutage(o.log, 'webhook poller', o.config.webhooks.pollMs);
    this.metrics = new WebhookMetrics({
      outbox: () => o.store.webhookOutbox.countByState(),
      buffered: () => this.backlog.length,
      inFlight: () => this.inflight.size,
    });
  }

  /** Subscribe to the bus and start polling the outbox. */
  start(): void {
    const owns = this.o.owns ?? ((e: BusEvent) => e.local);
    this.unsubscribe = this.o.bus.subscribe((e) => {
      if (this.stopped || !owns(e)) return;
      if (this.writesQueued >= MAX_QUEUED_WRITES) return this.buffer(e);
      this.writesQueued++;
      this.writes = this.writes.then(() => this.enqueue(e)).finally(() => void this.writesQueued--);
    });
    this.schedule(0);
  }

  /** On this node: events buffered or being enqueued, plus deliveries in flight. */
  get pending(): number {
    return this.backlog.length + this.writesQueued + this.inflight.size;
  }

  /** Deliveries (or buffered events) dropped since start, every reason together. */
  get dropped(): number {
    const d = this.metrics.dropped;
    return d.queue_full + d.buffer_full + d.expired;
  }

  /** Look for due deliveries now (after an enqueue, or when an attempt frees a slot). */
  kick(): void {
    this.schedule(0);
  }

  /** Stop: unsubscribe, abort in-flight requests and give their leases back (see the file header). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await within(Promise.allSettled([this.writes, this.polling]), STOP_GRACE_MS).catch(() => undefined);
    const sending = [...this.inflight.values()];
    for (const f of sending) f.ctl.abort(new Error('shutting down'));
    await Promise.allSettled(sending.map((f) => f.done));
    const outbox = this.o.store.webhookOutbox;
    if (sending.length > 0) {
      await within(outbox.release(sending.map((f) => f.row)), STOP_GRACE_MS)
        .catch((err: unknown) => this.o.log.warn({ err, deliveries: sending.length }, 'could not give webhook leases back; they expire by themselves'));
    }
    if (this.backlog.length > 0) await within(this.flushBacklog(), STOP_GRACE_MS).catch(() => undefined);
    if (this.backlog.length > 0) this.o.log.warn({ events: this.backlog.length }, 'stopping with webhook events the unreachable store never took: they are lost');
  }

  /**
   * Fail deliveries whose last attempt never finished, expire undelivered ones older than the
   * retention and prune the attempt log (every node runs it every minute; `now` for tests).
   */
  async maintain(now = Date.now()): Promise<void> {
    this.lastMaintenance = Date.now();
    const { maxAttempts, retentionMs } = this.o.config.webhooks;
    const exhausted = await this.o.store.webhookOutbox.failExhausted(maxAttempts, now);
    if (exhausted > 0) {
      this.metrics.attempt('failed', exhausted);
      this.o.log.warn({ deliveries: exhausted }, 'webhook deliveries gave up: their last attempt did not finish before its lease expired');
    }
    const expired = await this.o.store.webhookOutbox.prune(now - retentionMs);
    if (expired > 0) this.drop('expired', expired, { retentionMs });
    await this.o.store.webhooks.pruneAttempts(now - retentionMs);
  }

  /** Enqueue the deliveries of one event, or buffer it while the store is away. */
  private async enqueue(e: BusEvent): Promise<void> {
    if (this.outage.down) return this.buffer(e); // no connection attempt per event during an outage
    try {
      await this.write(e);
      this.kick();
    } catch (err) {
      if (this.outage.failed(err)) this.buffer(e);
      else this.o.log.error({ err, type: e.type }, 'webhook enqueue failed');
    }
  }

  /** Insert one outbox row per webhook that wants `e`; throws when the store fails. */
  private async write(e: BusEvent): Promise<void> {
    this.knownHooks = await this.o.store.webhooks.list();
    const hooks = wanting(this.knownHooks, e.type);
    if (hooks.length === 0) return;
    const eventId = newId('evt_');
    const payload = JSON.stringify({ id: eventId, type: e.type, at: e.at, data: e.data });
    const items = hooks.map((w) => ({ webhookId: w.id, event: e.type, eventId, payload }));
    const inserted = await this.o.store.webhookOutbox.enqueue(items, this.o.config.webhooks.maxQueued);
    if (inserted < items.length) this.drop('queue_full', items.length - inserted, { type: e.type, maxQueued: this.o.config.webhooks.maxQueued });
  }

  /** Keep an event in memory until the store returns (bounded; the oldest goes first). */
  private buffer(e: BusEvent): void {
    if (this.knownHooks !== null && wanting(this.knownHooks, e.type).length === 0) return;
    const max = this.o.config.webhooks.maxBuffered;
    if (this.backlog.length >= max) {
      if (max === 0) return void this.drop('buffer_full', 1, { type: e.type, maxBuffered: max });
      const oldest = this.backlog.shift()!;
      this.drop('buffer_full', 1, { type: oldest.type, maxBuffered: max });
    }
    this.backlog.push(e);
  }

  /** Count and log (first, then every 100th per reason) dropped deliveries. */
  private drop(reason: DropReason, n: number, detail: Record<string, unknown>): void {
    const total = this.metrics.drop(reason, n);
    if (total === n || Math.floor(total / 100) > Math.floor((total - n) / 100)) this.o.log.warn({ ...detail, reason, dropped: total }, 'webhook deliveries dropped');
  }

  /** Enqueue what was buffered during an outage, oldest first; throws (keeping the rest) when the store fails again. */
  private async flushBacklog(): Promise<void> {
    while (this.backlog.length > 0) {
      await this.write(this.backlog[0]!);
      this.backlog.shift();
    }
  }

  /** Run a poll in `ms` unless one is due sooner. */
  private schedule(ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + Math.max(0, ms);
    if (this.polling) return void (this.nextAt = Math.min(this.nextAt, at));
    if (this.timer !== null && this.timerAt <= at) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.polling = this.poll().finally(() => {
        this.polling = null;
        const now = Date.now();
        const next = this.outage.down ? now + this.outage.waitMs() : Math.min(this.nextAt, now + this.o.config.webhooks.pollMs);
        this.nextAt = Infinity;
        this.schedule(next - now);
      });
    }, at - Date.now());
    this.timer.unref();
  }

  /** One poll: buffered events, maintenance when due, then lease and send what is due. */
  private async poll(): Promise<void> {
    if (this.stopped || !this.outage.ready()) return;
    const outbox = this.o.store.webhookOutbox;
    try {
      if (!this.orphansChecked) {
        const n = await outbox.recoverOrphans();
        if (n > 0) this.o.log.warn({ deliveries: n }, 'webhook deliveries interrupted by an earlier stop are due again');
        this.orphansChecked = true;
      }
      await this.flushBacklog();
      if (Date.now() - this.lastMaintenance >= MAINTENANCE_MS) await this.maintain();
      const { concurrency, maxAttempts } = this.o.config.webhooks;
      const rows = await outbox.lease(concurrency - this.inflight.size, this.leaseMs, maxAttempts);
      if (this.stopped) return void (await outbox.release(rows)); // stop() began meanwhile
      if (rows.length > 0) {
        const hooks = new Map((await this.o.store.webhooks.list()).map((w) => [w.id, w]));
        // stop() may have begun during that read, and given up waiting for this poll: nothing may
        // be sent once it has, or a delivery goes out from a stopped node and again from the next.
        if (this.stopped) return void (await outbox.release(rows));
        for (const row of rows) this.send(row, hooks.get(row.webhook_id));
      }
      this.outage.ok();
    } catch (err) {
      if (!this.outage.failed(err)) this.o.log.error({ err }, 'webhook poll failed');
    }
  }

  /** Send one leased delivery in the background. */
  private send(row: WebhookOutboxRow, hook: WebhookRow | undefined): void {
    const ctl = new AbortController();
    const done = this.attempt(row, hook, ctl)
      .catch((err: unknown) => {
        if (!this.outage.failed(err)) this.o.log.error({ err, deliveryId: row.id }, 'webhook delivery bookkeeping failed');
      })
      .finally(() => {
        this.inflight.delete(row.id);
        this.kick();
      });
    this.inflight.set(row.id, { row, ctl, done });
  }

  /** One attempt: POST, record the outcome in the outbox, log it. */
  private async attempt(row: WebhookOutboxRow, hook: WebhookRow | undefined, ctl: AbortController): Promise<void> {
    const outbox = this.o.store.webhookOutbox;
    if (hook === undefined) return void (await outbox.failed(row, 'the webhook was deleted', null)); // deleted since the lease
    const { maxAttempts, retryBaseMs } = this.o.config.webhooks;
    const startedAt = Date.now();
    const { statusCode, error } = await this.post(row, hook, ctl);
    if (error !== null && this.stopped) return; // aborted by stop(), which gives the lease back
    let held: boolean;
    if (error === null) {
      held = await outbox.delivered(row);
      this.metrics.attempt('delivered');
    } else if (row.attempts >= maxAttempts) {
      held = await outbox.failed(row, error, null);
      this.metrics.attempt('failed');
      this.o.log.warn({ webhookId: hook.id, deliveryId: row.id, eventId: row.event_id, attempts: row.attempts, error }, 'webhook delivery gave up');
    } else {
      const dueAt = Date.now() + retryBaseMs * 2 ** (row.attempts - 1);
      held = await outbox.failed(row, error, dueAt);
      this.metrics.attempt('retried');
      if (held) this.schedule(dueAt - Date.now());
    }
    if (!held) this.o.log.warn({ deliveryId: row.id }, 'webhook delivery lease expired before its outcome was recorded; it may be sent again');
    await this.o.store.webhooks.logAttempt({
      webhookId: hook.id, deliveryId: row.id, event: row.event, payload: row.payload, attempt: row.attempts, statusCode, error, startedAt, endedAt: Date.now(),
    });
  }

  /** The HTTP request of one attempt: its status code, and null or why it failed. */
  private async post(row: WebhookOutboxRow, hook: WebhookRow, ctl: AbortController): Promise<{ statusCode: number | null; error: string | null }> {
    const { timeoutMs } = this.o.config.webhooks;
    try {
      const res = await (this.o.fetch ?? fetch)(hook.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.any([ctl.signal, AbortSignal.timeout(timeoutMs)]),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Strom-Webhooks/1',
          [SIGNATURE_HEADER]: signWebhook(hook.secret, row.payload),
          [EVENT_ID_HEADER]: row.event_id,
          [DELIVERY_ID_HEADER]: row.id,
        },
        body: row.payload,
      });
      await res.body?.cancel().catch(() => undefined); // the receiver's body is not ours to read
      return { statusCode: res.status, error: res.status >= 200 && res.status < 300 ? null : `HTTP ${res.status}` };
    } catch (err) {
      const e = err as Error;
      const error = e.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : ctl.signal.aborted ? 'aborted: shutting down' : `${e.name}: ${(e.cause as Error | undefined)?.message ?? e.message}`;
      return { statusCode: null, error };
    }
  }
}
