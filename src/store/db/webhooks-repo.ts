/**
 * The `webhooks` and `webhook_deliveries` tables. A webhook is a URL, its signing secret and an
 * event filter; the delivery log keeps one row per *attempt* (`attempts` = the attempt number,
 * `created_at`/`updated_at` = start/end, so the duration is their difference, `delivery_id` = the
 * outbox delivery), which is what an operator needs to see why a receiver missed an event. The
 * log is pruned after `webhooks.retentionMs`; deliveries waiting to be sent are in the outbox
 * (webhook-outbox-repo.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, WebhookDeliveryRow, WebhookRow } from './schema.js';
import { newId } from './ids.js';
import { clientText, diagnosticText, type SqlDialect } from './sql-dialect.js';

/** One finished delivery attempt to log. */
export interface AttemptLog {
  webhookId: string;
  /** The outbox delivery (`Strom-Delivery-Id`). */
  deliveryId: string;
  event: string;
  payload: string;
  attempt: number;
  statusCode: number | null;
  error: string | null;
  startedAt: number;
  endedAt: number;
}

/** Repository of webhooks and their delivery log. */
export class WebhooksRepo {
  constructor(private readonly db: Kysely<Database>, private readonly d: SqlDialect) {}

  /** Insert a webhook with a fresh secret (`whsec_` + 32 random bytes, base64url). */
  async create(o: { url: string; events: string[] }): Promise<WebhookRow> {
    const row: WebhookRow = {
      id: newId('wh_'),
      url: clientText(this.d, 'url', o.url),
      secret: `whsec_${randomBytes(32).toString('base64url')}`,
      events: JSON.stringify(o.events),
      created_at: Date.now(),
    };
    await this.db.insertInto('webhooks').values(row).execute();
    return row;
  }

  /** Every webhook, oldest first. */
  async list(): Promise<WebhookRow[]> {
    return this.db.selectFrom('webhooks').selectAll().orderBy('created_at').orderBy('id').execute();
  }

  /** The row, or undefined. */
  async get(id: string): Promise<WebhookRow | undefined> {
    return this.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Delete a webhook, its delivery log and its undelivered deliveries; true when it existed. */
  async delete(id: string): Promise<boolean> {
    await this.db.deleteFrom('webhook_outbox').where('webhook_id', '=', id).execute();
    await this.db.deleteFrom('webhook_deliveries').where('webhook_id', '=', id).execute();
    const r = await this.db.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Log one attempt. */
  async logAttempt(a: AttemptLog): Promise<void> {
    await this.db.insertInto('webhook_deliveries').values({
      id: newId('whd_'),
      webhook_id: a.webhookId,
      delivery_id: a.deliveryId,
      event: a.event,
      payload: a.payload,
      status_code: a.statusCode,
      attempts: a.attempt,
      last_error: a.error === null ? null : diagnosticText(this.d, a.error),
      created_at: a.startedAt,
      updated_at: a.endedAt,
    }).execute();
  }

  /** Delete attempt log rows started before `before` (retention); returns how many. */
  async pruneAttempts(before: number): Promise<number> {
    const r = await this.db.deleteFrom('webhook_deliveries').where('created_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** The newest `limit` attempts of a webhook, newest first. */
  async deliveries(webhookId: string, limit: number): Promise<WebhookDeliveryRow[]> {
    return this.db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId)
      .orderBy('created_at', 'desc').orderBy('attempts', 'desc').limit(limit).execute();
  }
}
