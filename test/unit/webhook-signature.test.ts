/** Webhook signatures (sign ↔ verify, tampering, replay window, rotation) and the event filter. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signWebhook, verifyWebhookSignature } from '../../src/events/webhook-signature.js';
import { webhookWants } from '../../src/events/webhook-dispatcher.js';

const secret = 'whsec_test';
const body = '{"id":"evt_1","type":"video.ready","at":"2026-01-01T00:00:00.000Z","data":{"videoId":"v_1"}}';

test('a signature verifies for the same secret, body and a time within tolerance', () => {
  const header = signWebhook(secret, body, 1_800_000_000);
  assert.match(header, /^t=1800000000,v1=[0-9a-f]{64}$/);
  assert.equal(verifyWebhookSignature(secret, header, body, 300, 1_800_000_100), true);
  assert.equal(verifyWebhookSignature(secret, header, Buffer.from(body), 300, 1_800_000_000), true);
});

test('tampered body, wrong secret, stale or future timestamp, malformed header all fail', () => {
  const header = signWebhook(secret, body, 1_800_000_000);
  assert.equal(verifyWebhookSignature(secret, header, body.replace('v_1', 'v_2'), 300, 1_800_000_000), false);
  assert.equal(verifyWebhookSignature('whsec_other', header, body, 300, 1_800_000_000), false);
  assert.equal(verifyWebhookSignature(secret, header, body, 300, 1_800_000_301), false);
  assert.equal(verifyWebhookSignature(secret, header, body, 300, 1_799_999_699), false);
  assert.equal(verifyWebhookSignature(secret, header.replace('t=1800000000', 't=1800000001'), body, 300, 1_800_000_000), false);
  for (const bad of ['', 'v1=abc', 't=1800000000', 'garbage', null, undefined]) assert.equal(verifyWebhookSignature(secret, bad, body, 300, 1_800_000_000), false);
});

test('any one of several v1 signatures is enough (secret rotation)', () => {
  const t = 1_800_000_000;
  const oldSig = signWebhook('whsec_old', body, t).split(',')[1]!;
  const newSig = signWebhook(secret, body, t).split(',')[1]!;
  assert.equal(verifyWebhookSignature(secret, `t=${t},${oldSig},${newSig}`, body, 300, t), true);
  assert.equal(verifyWebhookSignature(secret, `t=${t},${oldSig}`, body, 300, t), false);
});

test('event filter: exact, prefix, *; video.progress only when named', () => {
  assert.equal(webhookWants(['video.ready'], 'video.ready'), true);
  assert.equal(webhookWants(['video.ready'], 'video.errored'), false);
  assert.equal(webhookWants(['video.*'], 'video.errored'), true);
  assert.equal(webhookWants(['video.*'], 'live.publish.start'), false);
  assert.equal(webhookWants(['*'], 'live.publish.start'), true);
  assert.equal(webhookWants(['*', 'video.*'], 'video.progress'), false);
  assert.equal(webhookWants(['video.progress'], 'video.progress'), true);
});
