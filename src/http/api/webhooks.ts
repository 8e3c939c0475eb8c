/**
 * `/api/v1/webhooks` (scope admin): create (the signing secret is returned this once), list,
 * delete, and the per-attempt delivery log of one webhook (each attempt names its `deliveryId`, the
 * `Strom-Delivery-Id` the receiver saw). Only http(s) URLs are accepted; the
 * admin scope is the guard against pointing Strom at internal addresses. Sender:
 * src/events/webhook-dispatcher.ts; receivers verify with `verifyWebhookSignature`.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { fail } from '../../errors.js';
import type { WebhookDeliveryRow, WebhookRow } from '../../store/db/schema.js';
import { iso, type ApiContext } from './context.js';
import { errors, IdParams } from './schemas.js';

const EventName = Type.String({ pattern: '^(\\*|[a-z]+(\\.[a-z]+)*(\\.\\*)?)$', maxLength: 64, description: 'event type (video.ready), a prefix (video.*) or * (everything except video.progress)' });
const WebhookCreate = Type.Object({
  url: Type.String({ maxLength: 2000, pattern: '^https?://', description: 'http(s) URL that receives POSTed events' }),
  events: Type.Array(EventName, { minItems: 1, maxItems: 50, uniqueItems: true }),
}, { additionalProperties: false });
type WebhookCreate = Static<typeof WebhookCreate>;
const Webhook = Type.Object({ id: Type.String(), url: Type.String(), events: Type.Array(Type.String()), createdAt: Type.String(), secret: Type.Optional(Type.String()) });
const Attempt = Type.Object({
  id: Type.String(), deliveryId: Type.Union([Type.String(), Type.Null()]), eventId: Type.Union([Type.String(), Type.Null()]), event: Type.String(), attempt: Type.Integer(),
  statusCode: Type.Union([Type.Integer(), Type.Null()]), error: Type.Union([Type.String(), Type.Null()]), durationMs: Type.Integer(), at: Type.String(),
});
const DeliveriesQuery = Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }) });

/** JSON of a webhook; the secret only right after creation. */
function webhookJson(r: WebhookRow, withSecret = false) {
  return { id: r.id, url: r.url, events: JSON.parse(r.events) as string[], createdAt: iso(r.created_at), ...(withSecret ? { secret: r.secret } : {}) };
}

/** JSON of one logged attempt. */
function attemptJson(r: WebhookDeliveryRow) {
  let eventId: string | null = null;
  try {
    eventId = (JSON.parse(r.payload) as { id?: string }).id ?? null;
  } catch {
    /* a payload is always ours; tolerate a hand-edited row */
  }
  return { id: r.id, deliveryId: r.delivery_id, eventId, event: r.event, attempt: r.attempts, statusCode: r.status_code, error: r.last_error, durationMs: r.updated_at - r.created_at, at: iso(r.created_at) };
}

const security = [{ bearer: [] }];
const tags = ['webhooks'];

/** Register the webhook routes. */
export function webhooksRoutes(ctx: ApiContext) {
  const { store } = ctx;
  return async function routes(app: FastifyInstance): Promise<void> {
    app.post<{ Body: WebhookCreate }>('/api/v1/webhooks', {
      config: { scope: 'admin' },
      schema: { tags, summary: 'Create a webhook (its signing secret is shown once)', security, body: WebhookCreate, response: { 201: Webhook, ...errors(400, 401, 403) } },
    }, async (req, reply) => {
      try {
        new URL(req.body.url);
      } catch {
        throw fail('VALIDATION_FAILED', 'body/url', 'not a URL');
      }
      const row = await store.webhooks.create(req.body);
      return reply.code(201).send(webhookJson(row, true));
    });

    app.get('/api/v1/webhooks', {
      config: { scope: 'admin' },
      schema: { tags, summary: 'List webhooks (without secrets)', security, response: { 200: Type.Object({ items: Type.Array(Webhook) }), ...errors(401, 403) } },
    }, async () => ({ items: (await store.webhooks.list()).map((r) => webhookJson(r)) }));

    app.delete<{ Params: IdParams }>('/api/v1/webhooks/:id', {
      config: { scope: 'admin' },
      schema: { tags, summary: 'Delete a webhook and its delivery log', security, params: IdParams, response: { 204: { type: 'null' }, ...errors(401, 403, 404) } },
    }, async (req, reply) => {
      if (!(await store.webhooks.delete(req.params.id))) throw fail('WEBHOOK_NOT_FOUND', req.params.id);
      return reply.code(204).send();
    });

    app.get<{ Params: IdParams; Querystring: Static<typeof DeliveriesQuery> }>('/api/v1/webhooks/:id/deliveries', {
      config: { scope: 'admin' },
      schema: { tags, summary: 'Delivery attempts of a webhook, newest first', security, params: IdParams, querystring: DeliveriesQuery, response: { 200: Type.Object({ items: Type.Array(Attempt) }), ...errors(401, 403, 404) } },
    }, async (req) => {
      if (!(await store.webhooks.get(req.params.id))) throw fail('WEBHOOK_NOT_FOUND', req.params.id);
      return { items: (await store.webhooks.deliveries(req.params.id, req.query.limit)).map(attemptJson) };
    });
  };
}
