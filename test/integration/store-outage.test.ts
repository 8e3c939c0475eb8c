/**
 * PostgreSQL goes away and comes back (a private server stopped with `pg_ctl stop -m immediate`,
 * started once for this file): the node is degraded, not dead. While the database is down /readyz
 * is 503 naming it, the API answers 503 STORE_UNAVAILABLE, a published VOD asset is still served
 * byte for byte, a live stream keeps flowing over HTTP-FLV (and a new viewer can join), and the
 * job and webhook pollers log the outage once. When it is back the node is ready again by itself,
 * a webhook enqueued before the outage and one published during it arrive, and a job queued
 * before it runs. A job whose lease cannot be renewed through an outage longer than the lease is
 * stopped before the lease expires and runs again (once) afterwards, never on two nodes at once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { buildStrom } from '../../src/app.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import { testConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { WorkerPool } from '../../src/jobs/worker-pool.js';
import { openStore } from '../../src/store/db/database.js';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { ffmpegPublish, flvViewer } from '../helpers/live-fixtures.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { makeClip } from '../helpers/vod-fixtures.js';
import { until } from '../helpers/until.js';
import { webhookReceiver } from '../helpers/webhook-receiver.js';

let pg: PgServer;
before(async () => {
  pg = await startPostgres();
});
after(() => pg?.destroy());

interface Ready {
  failing?: string[];
  checks: Record<string, string>;
}

test('PostgreSQL down: 503s naming the database, media keeps playing; back up: ready again, nothing lost', { timeout: 180_000 }, async (t) => {
  const url = await pg.createDatabase();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-outage-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const assetDir = await makeFixtureAsset({ dataDir, id: 'a1', seconds: 2, extras: false });
  const segment = path.join('v360', readdirSync(path.join(assetDir, 'v360')).find((f) => f.endsWith('.m4s'))!);
  const source = await makeClip(path.join(dataDir, 'clip.mp4'), { seconds: 1 });

  const logs: Array<{ msg?: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as { msg?: string });
      cb();
    },
  });
  const config = testConfig({
    dataDir, 'store.url': url, 'store.connectTimeoutMs': 1000, 'live.staticKeys': 'cam1:secret',
    'webhooks.pollMs': 100, 'webhooks.retryBaseMs': 50, 'webhooks.maxAttempts': 20, 'webhooks.timeoutMs': 1000, 'jobs.pollMs': 100,
  });
  const strom = await buildStrom(config, pino({ level: 'info' }, sink));
  const { url: base } = await strom.listen();
  t.after(() => strom.close());
  const { store } = strom.control;
  const token = await signApiToken(config, loadApiSecret(config), { scopes: ['admin', 'videos:read', 'videos:write'], ttlS: 600 });
  const api = (method: string, p: string, json?: unknown) => fetch(base + p, {
    method, headers: { authorization: `Bearer ${token}`, ...(json ? { 'content-type': 'application/json' } : {}) }, body: json ? JSON.stringify(json) : undefined,
  });
  const readyz = async () => {
    const res = await fetch(`${base}/readyz`);
    return { status: res.status, body: (await res.json()) as Ready };
  };
  const logged = (text: string) => logs.filter((l) => l.msg?.includes(text)).length;

  // Live: ffmpeg publishes cam1 over RTMP; a viewer watches it over HTTP-FLV.
  const pub = ffmpegPublish(strom.live.rtmp.port()!, 'secret', 120);
  t.after(() => void pub.child.kill('SIGKILL'));
  await until(() => strom.live.registry.get('cam1')?.active === true, 'ffmpeg is publishing');
  const viewer = flvViewer(`${base}/live/cam1.flv`);
  t.after(() => viewer.req.destroy());
  await viewer.waitTags(20);

  // A webhook whose receiver refuses (503) until told otherwise: its delivery waits, retrying.
  let accepting = false;
  const rx = await webhookReceiver(t, () => (accepting ? 200 : 503));
  const created = await api('POST', '/api/v1/webhooks', { url: rx.url, events: ['video.ready'] });
  assert.equal(created.status, 201);
  // A transcode job due once the database is gone.
  const video = await store.videos.create({ title: 'queued before the outage', status: 'queued', sourcePath: source });
  await store.jobs.enqueue({ kind: 'transcode', videoId: video.id, runAfter: Date.now() + 1500 });
  strom.bus.publish('video.ready', { videoId: 'v_before', durationS: 1 });
  await rx.next(1);
  await until(async () => (await store.webhookOutbox.list()).some((r) => r.state === 'pending' && r.attempts >= 1), 'the refused delivery is waiting');
  assert.equal((await readyz()).status, 200);
  assert.equal((await api('GET', '/api/v1/videos')).status, 200);

  await pg.stop();

  const down = await readyz();
  assert.equal(down.status, 503);
  assert.deepEqual(down.body.failing, ['database']);
  assert.match(down.body.checks.database!, new RegExp(`^metadata store PostgreSQL at store\\.url=postgres://strom@127\\.0\\.0\\.1:${pg.port}/\\w+ is unavailable: `));
  for (const [method, p, json] of [['GET', '/api/v1/videos'], ['GET', `/api/v1/videos/${video.id}`], ['POST', '/api/v1/webhooks', { url: rx.url, events: ['*'] }]] as const) {
    const res = await api(method, p, json);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(res.status, 503, `${method} ${p}`);
    assert.equal(body.error.code, 'STORE_UNAVAILABLE');
    assert.match(body.error.message, /store\.url=postgres:\/\//);
    assert.equal(res.headers.get('retry-after'), '5');
  }
  const tus = await fetch(`${base}/api/v1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0', 'upload-length': '10' } });
  assert.equal(tus.status, 503, 'a tus upload is refused like the API');
  assert.equal(((await tus.json()) as { error: { code: string } }).error.code, 'STORE_UNAVAILABLE');
  // Published media and running live streams do not need the database.
  for (const rel of ['master.m3u8', segment]) {
    const res = await fetch(`${base}/v/a1/${rel}`);
    assert.equal(res.status, 200, rel);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), readFileSync(path.join(assetDir, rel)), rel);
  }
  const seen = viewer.tags.length;
  await viewer.waitTags(seen + 50);
  const late = flvViewer(`${base}/live/cam1.flv`);
  t.after(() => late.req.destroy());
  assert.equal((await late.res).statusCode, 200);
  await late.waitTags(20);
  // An event published during the outage is kept in memory until the database returns.
  strom.bus.publish('video.ready', { videoId: 'v_during', durationS: 2 });
  await until(() => strom.webhooks.pending >= 1, 'the event is buffered');
  // The job falls due during the outage; the pollers try, back off, and say so once.
  await sleep(2500);
  assert.equal(logged('job poller: metadata store unavailable'), 1);
  assert.equal(logged('webhook poller: metadata store unavailable'), 1);
  accepting = true;

  await pg.start();

  await until(async () => (await readyz()).status === 200, 'ready again', 60_000);
  assert.equal((await api('GET', '/api/v1/videos')).status, 200);
  // Both webhooks arrive: the one enqueued before the outage and the one published during it.
  await until(() => rx.got.some((g) => g.body.includes('v_during')) && rx.got.filter((g) => g.body.includes('v_before')).length >= 2, 'both webhooks delivered', 60_000);
  const before = rx.got.filter((g) => g.body.includes('v_before'));
  assert.equal(new Set(before.map((g) => g.headers['strom-delivery-id'])).size, 1, 'the delivery from before the outage kept its id');
  await until(async () => (await store.webhookOutbox.undelivered()) === 0, 'the outbox is empty', 60_000);
  // The job queued before the outage ran after it.
  await until(async () => (await store.videos.get(video.id))?.status === 'ready', 'the queued transcode ran', 120_000);
  assert.equal(logged('job poller: metadata store available again'), 1);
  assert.equal(logged('webhook poller: metadata store available again'), 1);
  await viewer.waitTags(viewer.tags.length + 25);
});

test('a job whose lease cannot be renewed through an outage is stopped before it expires and runs again once, never on two nodes at once', { timeout: 120_000 }, async (t) => {
  const url = await pg.createDatabase();
  const nodes = await Promise.all(['node-a', 'node-b'].map((nodeId) => openStore(':memory:', { url, nodeId, connectTimeoutMs: 500 })));
  t.after(() => Promise.all(nodes.map((s) => s.close())));
  const runs: Array<{ node: string; end: 'aborted' | 'published'; reason?: unknown }> = [];
  let running = 0;
  let overlapped = false;
  let firstStarted!: () => void;
  const started = new Promise<void>((resolve) => (firstStarted = resolve));
  const pools = nodes.map((s, i) => new WorkerPool({
    jobs: s.jobs, log: createLogger('silent'), concurrency: 1, timeoutMs: 60_000, leaseMs: 3000, pollMs: 100,
    handlers: {
      publish: async (_job, ctx) => {
        if (++running > 1) overlapped = true;
        try {
          if (runs.length === 0) {
            firstStarted();
            await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
            runs.push({ node: `node-${i}`, end: 'aborted', reason: ctx.signal.reason });
            throw new Error('stopped');
          }
          runs.push({ node: `node-${i}`, end: 'published' }); // the work that must happen once
        } finally {
          running--;
        }
      },
    },
  }));
  t.after(() => Promise.all(pools.map((p) => p.stop())));
  const job = await nodes[0]!.jobs.enqueue({ kind: 'publish' });
  for (const p of pools) p.start();
  await started;

  await pg.stop();
  await until(() => runs.length === 1, 'the run was stopped while the database was away', 10_000);
  assert.deepEqual([runs[0]!.end, runs[0]!.reason], ['aborted', 'cancelled']);
  await sleep(2000); // the lease has expired now: without the stop, another node could take the job
  await pg.start();

  await until(async () => (await nodes[0]!.jobs.get(job.id).catch(() => undefined))?.state === 'done', 'the job ran again and completed', 60_000);
  assert.deepEqual(runs.map((r) => r.end), ['aborted', 'published'], 'published exactly once');
  assert.equal(overlapped, false, 'never two runs at once');
  assert.equal((await nodes[0]!.jobs.get(job.id))?.attempts, 2);
});
