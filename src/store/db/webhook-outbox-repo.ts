/**
 * The `webhook_outbox` table: webhook deliveries that survive a restart and are sent once by the
 * whole cluster. When an event matches webhooks, the node that published it inserts one row per
 * webhook (`pending`, due now); every node polls for due rows and leases a batch exactly as jobs
 * are leased (jobs-repo.ts): one UPDATE … RETURNING over the due rows, whose selection is
 * `FOR UPDATE SKIP LOCKED` on PostgreSQL (two nodes never lease the same row, nor wait on each
 * other) and plain on SQLite (one writer at a time). A leased row is `delivering` with `due_at` =
 * when the lease expires and an owner `<node id>/<random>`; recording the outcome only applies
 * while that owner still holds it. A node killed mid-delivery leaves a lease that expires, and any
 * node (or the same one restarted) sends the delivery again: at least once, with the same
 * `dlv_…` id so receivers can deduplicate.
 *
 * A delivered row is deleted (the attempt log keeps its history); one out of attempts is `failed`
 * and kept until the retention prune. `due_at` serves both states, so one index (state, due_at)
 * answers the poll.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, OutboxState, WebhookOutboxRow } from './schema.js';
import { diagnosticText, type SqlDialect } from './sql-dialect.js';
import { newId } from './ids.js';

/** What identifies a delivery lease: the row and the owner it was leased to. */
export type DeliveryLease = Pick<WebhookOutboxRow, 'id' | 'lease_owner'>;

/** One delivery to enqueue. */
export interface NewDelivery {
  webhookId: string;
  event: string;
  eventId: string;
  /** The JSON body to sign and send. */
  payload: string;
}

/** Repository of the webhook outbox. */
export class WebhookOutboxRepo {
  /** `nodeId` names this process in `lease_owner`; `d` decides how leases are taken. */
  constructor(private readonly db: Kysely<Database>, private readonly d: SqlDialect, readonly nodeId = `node-${newId('', 8)}`) {}

  /**
   * Insert deliveries while the outbox holds fewer than `max` undelivered ones; returns how many
   * were inserted (the caller counts the rest as dropped). The bound is checked, not locked: nodes
   * enqueueing at the same moment may pass it by a few rows.
   */
  async enqueue(items: readonly NewDelivery[], max: number, now = Date.now()): Promise<number> {
    if (items.length === 0) return 0;
    const take = items.slice(0, Math.max(0, max - (await this.undelivered())));
    if (take.length === 0) return 0;
    await this.db.insertInto('webhook_outbox').values(take.map((i): WebhookOutboxRow => ({
      id: newId('dlv_'), webhook_id: i.webhookId, event: i.event, event_id: i.eventId, payload: i.payload, state: 'pending',
      attempts: 0, due_at: now, lease_owner: null, last_error: null, created_at: now, updated_at: now,
    }))).execute();
    return take.length;
  }

  /**
   * Lease up to `limit` due deliveries (pending and due, or delivering with an expired lease) for
   * `leaseMs` under one new owner, oldest due first; counts the attempt. Rows out of attempts are
   * left to `failExhausted`.
   */
  async lease(limit: number, leaseMs: number, maxAttempts: number, now = Date.now()): Promise<WebhookOutboxRow[]> {
    if (limit <= 0) return [];
    const owner = `${this.nodeId.slice(0, 100)}/${newId('', 12)}`;
    return this.db
      .with('due', (db) => db.selectFrom('webhook_outbox').select('id')
        .where('state', 'in', ['pending', 'delivering']).where('due_at', '<=', now).where('attempts', '<', maxAttempts)
        .orderBy('due_at').limit(limit)
        .$if(this.d.shared, (q) => q.forUpdate().skipLocked()))
      .updateTable('webhook_outbox')
      .set({ state: 'delivering', due_at: now + leaseMs, lease_owner: owner, attempts: sql<number>`attempts + 1`, updated_at: now })
      .where('id', 'in', (eb) => eb.selectFrom('due').select('id'))
      .returningAll()
      .execute();
  }

  /** Delivered: the row goes. False (nothing changed) when the lease was lost. */
  async delivered(l: DeliveryLease): Promise<boolean> {
    if (l.lease_owner === null) return false;
    const r = await this.db.deleteFrom('webhook_outbox')
      .where('id', '=', l.id).where('state', '=', 'delivering').where('lease_owner', '=', l.lease_owner).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** A failed attempt: pending again at `dueAt`, or `failed` when `dueAt` is null. False when the lease was lost. */
  async failed(l: DeliveryLease, error: string, dueAt: number | null): Promise<boolean> {
    if (l.lease_owner === null) return false;
    const now = Date.now();
    const r = await this.db.updateTable('webhook_outbox')
      .set({ state: dueAt === null ? 'failed' : 'pending', due_at: dueAt ?? now, lease_owner: null, last_error: diagnosticText(this.d, error.slice(0, 2000)), updated_at: now })
      .where('id', '=', l.id).where('state', '=', 'delivering').where('lease_owner', '=', l.lease_owner).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Give leased deliveries back, due now, without counting the attempt (shutdown). */
  async release(leases: readonly DeliveryLease[]): Promise<void> {
    const now = Date.now();
    for (const l of leases) {
      if (l.lease_owner === null) continue;
      await this.db.updateTable('webhook_outbox')
        .set({ state: 'pending', due_at: now, lease_owner: null, attempts: sql<number>`case when attempts > 0 then attempts - 1 else 0 end`, updated_at: now })
        .where('id', '=', l.id).where('state', '=', 'delivering').where('lease_owner', '=', l.lease_owner).execute();
    }
  }

  /** Due deliveries with no attempt left (a lease that expired on the last attempt) become `failed`; returns how many. */
  async failExhausted(maxAttempts: number, now = Date.now()): Promise<number> {
    const r = await this.db.updateTable('webhook_outbox')
      .set({ state: 'failed', lease_owner: null, last_error: 'no attempt left: the last one did not finish before its lease expired', updated_at: now })
      .where('state', 'in', ['pending', 'delivering']).where('due_at', '<=', now).where('attempts', '>=', maxAttempts).executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /**
   * Expire at once the leases a killed process left behind; returns how many. Only on single-node
   * SQLite, where no other process can hold a live lease; on a shared PostgreSQL only lease expiry
   * hands a dead node's deliveries to the others, so this does nothing and returns 0.
   */
  async recoverOrphans(now = Date.now()): Promise<number> {
    if (this.d.shared) return 0;
    const r = await this.db.updateTable('webhook_outbox').set({ due_at: now, updated_at: now })
      .where('state', '=', 'delivering').where('due_at', '>', now).executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /**
   * Retention: delete failed deliveries last touched before `before`, and undelivered ones created
   * before it (expired: the caller counts them). Returns how many undelivered ones expired.
   */
  async prune(before: number): Promise<number> {
    await this.db.deleteFrom('webhook_outbox').where('state', '=', 'failed').where('updated_at', '<', before).execute();
    const r = await this.db.deleteFrom('webhook_outbox').where('state', '=', 'pending').where('created_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Deliveries by state, for metrics. */
  async countByState(): Promise<Record<OutboxState, number>> {
    const rows = await this.db.selectFrom('webhook_outbox').select(['state', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('state').execute();
    const out: Record<OutboxState, number> = { pending: 0, delivering: 0, failed: 0 };
    for (const r of rows) out[r.state] = Number(r.n);
    return out;
  }

  /** Deliveries not yet delivered nor given up (pending or delivering). */
  async undelivered(): Promise<number> {
    const row = await this.db.selectFrom('webhook_outbox').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('state', 'in', ['pending', 'delivering']).executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** Every row, oldest first (tests and tools). */
  async list(): Promise<WebhookOutboxRow[]> {
    return this.db.selectFrom('webhook_outbox').selectAll().orderBy('created_at').orderBy('id').execute();
  }
}
