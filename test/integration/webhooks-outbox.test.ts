/**
 * The durable webhook outbox with real Strom nodes and a real HTTP receiver, on SQLite and on a
 * private PostgreSQL: deliveries still pending when a node stops are sent once by the next node on
 * the same store; a node killed (SIGKILL) in the middle of a delivery leaves it to the next node,
 * which sends it again with the same `Strom-Delivery-Id` (at once on SQLite, after the lease
 * expires on PostgreSQL); two nodes on one PostgreSQL send each delivery exactly once; the outbox
 * bound and the retention drop and count deliveries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';
import { buildStrom, type Strom } from '../../src/app.js';
import { testConfig, type RawSettings } from '../../src/config.js';
import { verifyWebhookSignature } from '../../src/events/webhook-signature.js';
import { openStore } from '../../src/store/db/database.js';
import { forEachDialect, onPostgres } from '../helpers/postgres.js';
import { cleanEnv } from '../helpers/strom-process.js';
import { until } from '../helpers/until.js';
import { webhookReceiver } from '../helpers/webhook-receiver.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Quick polls and retries; attempts enough to outlast every test. */
const FAST: RawSettings = { 'webhooks.pollMs': 50, 'webhooks.retryBaseMs': 100, 'webhooks.maxAttempts': 20, 'webhooks.timeoutMs': 1000 };

/** An in-process node; `close()` may be called early (it is called again after the test). */
interface Node {
  strom: Strom;
  close(): Promise<void>;
}

async function startNode(t: TestContext, dataDir: string, settings: RawSettings): Promise<Node> {
  const strom = await buildStrom(testConfig({ dataDir, 'rtmp.enabled': false, ...FAST, ...settings }));
  await strom.listen();
  let closing: Promise<void> | null = null;
  const close = () => (closing ??= strom.close());
  t.after(close);
  return { strom, close };
}

/** `strom serve` in a child process (tsx over src/), to be killed with SIGKILL. */
async function spawnServe(t: TestContext, dataDir: string, settings: RawSettings): Promise<{ kill(): Promise<void> }> {
  const sets = Object.entries({ 'rtmp.enabled': false, logLevel: 'info', ...FAST, ...settings }).flatMap(([k, v]) => ['--set', `${k}=${String(v)}`]);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts'), 'serve', '--host', '127.0.0.1', '--port', '0', '--data', dataDir, ...sets],
    { cwd: ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  t.after(kill);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/"url":"http:\/\//.test(out)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`strom serve exited with ${code} before listening:\n${out.slice(-2000)}`)));
  });
  return { kill };
}

forEachDialect((d) => {
  test('deliveries pending when a node stops are sent once by the next node on the same store', async (t) => {
    const { dataDir, url } = await d.location(t);
    // A loaded machine must not time out an answered attempt (a stall past timeoutMs aborts it and
    // the retry arrives as a second delivery, as at-least-once delivery allows); refusals fail at once.
    const settings: RawSettings = { ...(url === null ? {} : { 'store.url': url }), 'webhooks.timeoutMs': 10_000 };
    const rx = await webhookReceiver(t, () => 204, { listen: false }); // down: connections are refused
    const a = await startNode(t, dataDir, settings);
    const hook = await a.strom.control.store.webhooks.create({ url: rx.url, events: ['video.*'] });
    for (let i = 0; i < 3; i++) a.strom.bus.publish('video.ready', { videoId: `v_${i}`, durationS: i });
    const outbox = a.strom.control.store.webhookOutbox;
    await until(async () => (await outbox.list()).filter((r) => r.state === 'pending' && r.attempts >= 1).length === 3, 'three deliveries tried and waiting');
    await a.close();

    await rx.listen();
    const b = await startNode(t, dataDir, settings);
    await rx.next(3);
    await until(async () => (await b.strom.control.store.webhookOutbox.undelivered()) === 0, 'the outbox is empty');
    await sleep(300); // several more polls: nothing is sent twice
    assert.deepEqual([...rx.deliveries().values()], [1, 1, 1], 'each delivery arrived once');
    const videos = rx.got.map((g) => {
      assert.ok(verifyWebhookSignature(hook.secret, String(g.headers['strom-signature']), g.body));
      return (JSON.parse(g.body) as { data: { videoId: string } }).data.videoId;
    });
    assert.deepEqual(videos.sort(), ['v_0', 'v_1', 'v_2']);
    const log = await b.strom.control.store.webhooks.deliveries(hook.id, 100);
    for (const id of rx.deliveries().keys()) {
      const attempts = log.filter((r) => r.delivery_id === id).sort((x, y) => x.attempts - y.attempts);
      assert.ok(attempts.length >= 2, 'refused at least once, then delivered');
      assert.deepEqual([attempts.at(-1)!.status_code, attempts.at(-1)!.last_error], [204, null]);
      assert.match(String(attempts[0]!.last_error), /ECONNREFUSED/);
    }
  });

  test(`a node killed mid-delivery: the next node sends it again with the same delivery id${d.name === 'postgres' ? ' once the lease expired' : ''}`, { timeout: 120_000 }, async (t) => {
    const { dataDir, url } = await d.location(t);
    const settings: RawSettings = url === null ? {} : { 'store.url': url };
    const rx = await webhookReceiver(t, (n) => (n === 1 ? null : 200)); // the first request is never answered
    const store = await openStore(dataDir, { url });
    t.after(() => store.close());
    const hook = await store.webhooks.create({ url: rx.url, events: ['video.ready'] });
    // Its attempt must still be waiting for the receiver when it is killed: a generous timeout (the lease is 2 × it + 5 s).
    const killed = await spawnServe(t, dataDir, { ...settings, 'webhooks.timeoutMs': 4000 });
    const payload = JSON.stringify({ id: 'evt_kill', type: 'video.ready', at: new Date().toISOString(), data: { videoId: 'v_k' } });
    assert.equal(await store.webhookOutbox.enqueue([{ webhookId: hook.id, event: 'video.ready', eventId: 'evt_kill', payload }], 100), 1);
    await rx.next(1); // the child leased it and is waiting for the answer
    await killed.kill();
    const [row] = await store.webhookOutbox.list();
    assert.deepEqual([row?.state, row?.attempts], ['delivering', 1], 'the killed node still holds the lease');

    await startNode(t, dataDir, { ...settings, 'webhooks.timeoutMs': 10_000 }); // a loaded machine must not time out the answered attempt
    await rx.next(2);
    assert.equal(rx.got[1]!.headers['strom-delivery-id'], rx.got[0]!.headers['strom-delivery-id']);
    assert.equal(rx.got[1]!.body, payload);
    await until(async () => (await store.webhookOutbox.undelivered()) === 0, 'the outbox is empty');
    const log = await store.webhooks.deliveries(hook.id, 10);
    assert.deepEqual(log.map((r) => [r.attempts, r.status_code, r.delivery_id]), [[2, 200, row!.id]], 'the killed node logged nothing');
    assert.equal(rx.got.length, 2);
  });

  test('the outbox bound drops and counts; the retention expires undelivered deliveries and prunes the log', async (t) => {
    const { dataDir, url } = await d.location(t);
    const rx = await webhookReceiver(t, () => 204, { listen: false });
    const a = await startNode(t, dataDir, { ...(url === null ? {} : { 'store.url': url }), 'webhooks.maxQueued': 2, 'webhooks.retryBaseMs': 60_000 });
    const { store } = a.strom.control;
    await store.webhooks.create({ url: rx.url, events: ['video.deleted'] });
    for (let i = 0; i < 3; i++) a.strom.bus.publish('video.deleted', { videoId: `v_${i}` });
    await until(async () => (await store.webhookOutbox.list()).filter((r) => r.attempts === 1 && r.state === 'pending').length === 2, 'two deliveries tried');
    await until(() => a.strom.webhooks.dropped === 1, 'the third dropped');
    const metrics = async () => a.strom.obs.metrics.registry.metrics();
    assert.match(await metrics(), /^strom_webhook_dropped_total\{reason="queue_full"\} 1$/m);
    assert.match(await metrics(), /^strom_webhook_deliveries\{state="pending"\} 2$/m);
    assert.match(await metrics(), /^strom_webhook_attempts_total\{outcome="retried"\} 2$/m);
    await a.strom.webhooks.maintain(Date.now() + a.strom.config.webhooks.retentionMs + 1000);
    assert.equal(await store.webhookOutbox.undelivered(), 0);
    assert.equal((await store.db.selectFrom('webhook_deliveries').select('id').execute()).length, 0, 'the attempt log was pruned');
    assert.match(await metrics(), /^strom_webhook_dropped_total\{reason="expired"\} 2$/m);
  });
});

onPostgres((d) => {
  test('two nodes on one PostgreSQL send each of 60 deliveries exactly once', async (t) => {
    const url = (await d.settings())['store.url'] as string;
    const rx = await webhookReceiver(t, () => 200);
    const dirs = [0, 1].map(() => mkdtempSync(path.join(tmpdir(), 'strom-wh-')));
    t.after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
    const nodes = await Promise.all(dirs.map((dir, i) => startNode(t, dir, { 'store.url': url, 'cluster.nodeId': `node-${i}`, 'webhooks.concurrency': 2 })));
    const { store } = nodes[0]!.strom.control;
    await store.webhooks.create({ url: rx.url, events: ['video.ready'] });
    await store.webhooks.create({ url: `${rx.url}?second`, events: ['video.*'] });
    for (let i = 0; i < 30; i++) nodes[i % 2]!.strom.bus.publish('video.ready', { videoId: `v_${i}`, durationS: 1 });
    await rx.next(60);
    await until(async () => (await store.webhookOutbox.undelivered()) === 0, 'the outbox is empty');
    await sleep(500); // both nodes poll several more times: nothing is sent twice
    const counts = rx.deliveries();
    assert.equal(counts.size, 60);
    assert.deepEqual(new Set(counts.values()), new Set([1]), 'every delivery arrived exactly once');
    assert.equal(rx.got.length, 60);
    for (const n of nodes) assert.match(await n.strom.obs.metrics.registry.metrics(), /^strom_webhook_attempts_total\{outcome="delivered"\} [1-9]\d*$/m, 'both nodes delivered');
  });
});
