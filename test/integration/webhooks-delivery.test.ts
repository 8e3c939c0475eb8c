/**
 * Webhooks end to end: a local receiver gets signed events that verify, failures are retried with
 * every attempt logged, a receiver that never answers is aborted at `webhooks.timeoutMs`, and the
 * admin API creates (secret once), lists and deletes webhooks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi, type ApiServer } from '../helpers/api-server.js';
import { webhookReceiver as receiver } from '../helpers/webhook-receiver.js';
import { verifyWebhookSignature } from '../../src/events/webhook-signature.js';

/** Create a webhook through the API; returns its id and secret. */
async function createHook(s: ApiServer, url: string, events: string[]): Promise<{ id: string; secret: string }> {
  const res = await s.call('POST', '/api/v1/webhooks', { token: await s.token(['admin']), json: { url, events } });
  assert.equal(res.status, 201);
  return (await res.json()) as { id: string; secret: string };
}

/** Poll the delivery log until it has `n` rows. */
async function deliveries(s: ApiServer, id: string, n: number): Promise<Array<Record<string, unknown>>> {
  const token = await s.token(['admin']);
  for (let i = 0; i < 200; i++) {
    const body = (await (await s.call('GET', `/api/v1/webhooks/${id}/deliveries`, { token })).json()) as { items: Array<Record<string, unknown>> };
    if (body.items.length >= n) return body.items;
    await new Promise((r) => setTimeout(r, 10));
  }
  return assert.fail(`fewer than ${n} delivery rows`);
}

test('a signed event reaches the receiver and verifies; progress only when subscribed', async (t) => {
  const s = await startApi(t, { 'webhooks.concurrency': 1 });
  const rx = await receiver(t, () => 204);
  const hook = await createHook(s, rx.url, ['video.*']);
  assert.match(hook.secret, /^whsec_/);
  s.strom.bus.publish('video.progress', { videoId: 'v_1', phase: 'transcode', percent: 10 });
  s.strom.bus.publish('video.ready', { videoId: 'v_1', durationS: 3 });
  await rx.next(1);
  const [got] = rx.got;
  const body = JSON.parse(got!.body) as { id: string; type: string; at: string; data: unknown };
  assert.equal(body.type, 'video.ready', 'video.progress was not sent to a video.* webhook');
  assert.deepEqual(body.data, { videoId: 'v_1', durationS: 3 });
  assert.equal(got!.headers['strom-event-id'], body.id);
  assert.match(String(got!.headers['strom-delivery-id']), /^dlv_/);
  assert.equal(got!.headers['content-type'], 'application/json');
  assert.ok(verifyWebhookSignature(hook.secret, String(got!.headers['strom-signature']), got!.body, 300));
  assert.ok(!verifyWebhookSignature('whsec_wrong', String(got!.headers['strom-signature']), got!.body, 300));
  const log = await deliveries(s, hook.id, 1);
  assert.equal(log[0]!.statusCode, 204);
  assert.equal(log[0]!.eventId, body.id);
  assert.equal(log[0]!.deliveryId, got!.headers['strom-delivery-id']);
  // list hides the secret; delete removes the hook
  const admin = await s.token(['admin']);
  const list = (await (await s.call('GET', '/api/v1/webhooks', { token: admin })).json()) as { items: Array<Record<string, unknown>> };
  assert.deepEqual(list.items.map((w) => [w.id, w.secret]), [[hook.id, undefined]]);
  assert.equal((await s.call('GET', '/api/v1/webhooks', { token: await s.token(['videos:write']) })).status, 403);
  assert.equal((await s.call('DELETE', `/api/v1/webhooks/${hook.id}`, { token: admin })).status, 204);
  assert.equal((await s.call('DELETE', `/api/v1/webhooks/${hook.id}`, { token: admin })).status, 404);
});

test('a receiver failing twice then succeeding gets 3 attempts, all logged', async (t) => {
  const s = await startApi(t, { 'webhooks.retryBaseMs': 10, 'webhooks.maxAttempts': 5 });
  const rx = await receiver(t, (n) => (n <= 2 ? 500 : 200));
  const hook = await createHook(s, rx.url, ['video.errored']);
  s.strom.bus.publish('video.errored', { videoId: 'v_2', code: 'MEDIA_CORRUPT', message: 'x' });
  await rx.next(3);
  const log = await deliveries(s, hook.id, 3);
  assert.deepEqual(log.map((r) => [r.attempt, r.statusCode, r.error]), [[3, 200, null], [2, 500, 'HTTP 500'], [1, 500, 'HTTP 500']]);
  assert.equal(new Set(log.map((r) => r.eventId)).size, 1, 'retries carry the same event id');
  assert.equal(new Set(rx.got.map((g) => g.headers['strom-event-id'])).size, 1);
  assert.equal(rx.deliveries().size, 1, 'retries carry the same delivery id');
  assert.equal(rx.got.length, 3);
});

test('a receiver that never answers is aborted at webhooks.timeoutMs', async (t) => {
  const s = await startApi(t, { 'webhooks.timeoutMs': 150, 'webhooks.maxAttempts': 1 });
  const rx = await receiver(t, () => null);
  const hook = await createHook(s, rx.url, ['video.deleted']);
  s.strom.bus.publish('video.deleted', { videoId: 'v_3' });
  const [row] = await deliveries(s, hook.id, 1);
  assert.equal(row!.statusCode, null);
  assert.match(String(row!.error), /timed out after 150 ms/);
  assert.equal(rx.got.length, 1);
  for (let i = 0; i < 100 && rx.closed === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(rx.closed, 1, 'the request was aborted, not left open');
  assert.equal(s.strom.webhooks.pending, 0);
});
