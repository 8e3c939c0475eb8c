/**
 * The metadata store, once on SQLite and once on a private PostgreSQL (test/helpers/postgres.ts),
 * with the same cases: migrations applied once and recorded, data surviving a reopen (WAL mode
 * on SQLite), BIGINT and float columns read back as exact numbers, video status/progress updates,
 * visibility listeners, the job queue's lease / heartbeat / retry / release / cancel semantics,
 * lease ownership (a lease taken over after expiry turns the first owner's heartbeat, complete,
 * fail and release into no-ops, and the worker pool stops that job), orphan recovery only on
 * SQLite, the webhook outbox (bounded enqueue, batch leases with owners, expiry, retention), and
 * caption tracks (one per language, one default, deleted with their video), and
 * the `store.url` setting (a PostgreSQL unreachable at start is STORE_UNAVAILABLE, password masked).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { isStromError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { openStore } from '../../src/store/db/database.js';
import { migrations } from '../../src/store/db/migrations.js';
import { JobsRepo } from '../../src/store/db/jobs-repo.js';
import { WebhookOutboxRepo } from '../../src/store/db/webhook-outbox-repo.js';
import { parseStoreUrl } from '../../src/store/db/store-url.js';
import { WorkerPool } from '../../src/jobs/worker-pool.js';
import { forEachDialect } from '../helpers/postgres.js';
import { freePort } from '../helpers/free-port.js';

forEachDialect((d) => {
  test('migrations run once, rows survive a reopen, numbers come back as numbers', async (t) => {
    const loc = await d.location(t);
    const a = await openStore(loc.dataDir, { url: loc.url });
    if (d.name === 'sqlite') {
      const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(a.db);
      assert.equal(mode.rows[0]!.journal_mode, 'wal');
    }
    assert.equal(a.dialect.name, d.name);
    const v = await a.videos.create({ title: 'kept', metadata: { x: 1 } });
    await a.videos.update(v.id, { progress: 0.1, durationS: 12.345 });
    await a.close();
    const b = await openStore(loc.dataDir, { url: loc.url });
    t.after(() => b.close());
    const applied = await b.db.selectFrom('schema_migrations').selectAll().execute();
    assert.deepEqual(applied.map((m) => m.version), migrations.map((m) => m.version));
    assert.equal(typeof applied[0]!.applied_at, 'number', 'BIGINT reads back as a number');
    assert.equal(pg.types.getTypeParser(pg.types.builtins.INT8)('1'), '1', "the global pg parser is left alone: only Strom's pool parses BIGINT");
    const back = await b.videos.get(v.id);
    assert.equal(back?.title, 'kept');
    assert.equal(back?.metadata, '{"x":1}');
    assert.equal(back?.created_at, v.created_at);
    assert.deepEqual([back?.progress, back?.duration_s], [0.1, 12.345], 'floats are 8 bytes on both engines');
  });

  test('videos.protection defaults to none and is stored; server secrets: one per name, the same for concurrent callers', async (t) => {
    const s = await d.open(t);
    assert.equal((await s.videos.create({})).protection, 'none');
    const v = await s.videos.create({ protection: 'cenc' });
    assert.equal((await s.videos.get(v.id))?.protection, 'cenc');
    const [a, b] = await Promise.all([s.serverSecrets.getOrCreate('content-keys'), s.serverSecrets.getOrCreate('content-keys')]);
    assert.equal(a.length, 32);
    assert.deepEqual(a, b, 'both nodes end up with the row that won');
    assert.deepEqual(await s.serverSecrets.getOrCreate('content-keys'), a);
    assert.notDeepEqual(await s.serverSecrets.getOrCreate('other'), a);
  });

  test('videos: ids, status and progress updates, error set and cleared, visibility listener', async (t) => {
    const s = await d.open(t);
    const heard: Array<[string, string | null]> = [];
    s.videos.onVisibility = (id, v) => heard.push([id, v]);
    const v = await s.videos.create({ visibility: 'signed' });
    assert.match(v.id, /^v_[A-Za-z0-9]{16}$/);
    await s.videos.setStatus(v.id, 'processing', { progress: 1.7 });
    assert.equal((await s.videos.get(v.id))?.progress, 1, 'progress is clamped to 0..1');
    await s.videos.setStatus(v.id, 'errored', { error: { code: 'FFMPEG_FAILED', message: 'exit 1' } });
    let row = await s.videos.get(v.id);
    assert.deepEqual([row?.status, row?.error_code, row?.error_message], ['errored', 'FFMPEG_FAILED', 'exit 1']);
    await s.videos.update(v.id, { status: 'ready', error: null, playable: true, durationS: 4.5, width: 640, height: 360 });
    row = await s.videos.get(v.id);
    assert.deepEqual([row?.status, row?.error_code, row?.playable, row?.duration_s], ['ready', null, 1, 4.5]);
    await s.videos.update(v.id, { visibility: 'public' });
    await s.videos.delete(v.id);
    assert.deepEqual(heard, [[v.id, 'signed'], [v.id, 'public'], [v.id, null]]);
    assert.equal(await s.videos.update('v_nope', { title: 'x' }), undefined);
  });

  test('jobs: lease the oldest due job, expired leases are re-leased, failures retry then fail, release and cancel', async (t) => {
    const s = await d.open(t);
    const now = Date.now();
    const j1 = await s.jobs.enqueue({ kind: 'transcode', videoId: 'v1', payload: { a: 1 }, maxAttempts: 2, runAfter: now - 10 });
    const later = await s.jobs.enqueue({ kind: 'transcode', runAfter: now + 60_000 });
    await s.jobs.enqueue({ kind: 'other' });
    const got = await s.jobs.lease(['transcode'], 1000, now);
    assert.equal(got?.id, j1.id);
    assert.deepEqual([got?.state, got?.attempts, got?.lease_until], ['running', 1, now + 1000]);
    assert.equal(await s.jobs.lease(['transcode'], 1000, now), undefined, 'leased job and future job are not runnable');
    const stolen = await s.jobs.lease(['transcode'], 1000, now + 2000);
    assert.equal(stolen?.id, j1.id, 'an expired lease is taken over');
    assert.equal(stolen?.attempts, 2);
    assert.notEqual(stolen?.lease_owner, got?.lease_owner, 'every lease has its own owner');
    assert.equal(await s.jobs.fail(got!, 'late', 0), undefined, 'the expired lease can no longer fail the job');
    assert.equal((await s.jobs.fail(stolen!, 'boom', 0))?.state, 'failed', 'no attempts left');

    const j2 = await s.jobs.enqueue({ kind: 'probe', maxAttempts: 3 });
    const l2 = (await s.jobs.lease(['probe'], 1000))!;
    const retried = await s.jobs.fail(l2, 'transient\u0000', 5000);
    assert.deepEqual([retried?.state, retried?.lease_owner], ['queued', null]);
    assert.ok(retried!.run_after >= Date.now() + 4000);
    assert.equal(retried?.last_error, d.name === 'sqlite' ? 'transient\u0000' : 'transient\uFFFD', 'PostgreSQL text cannot hold NUL');
    const l2b = (await s.jobs.lease(['probe'], 1000, Date.now() + 10_000))!;
    assert.equal(l2b.id, j2.id);
    assert.equal((await s.jobs.fail(l2b, 'permanent', 0, false))?.state, 'failed', 'retry=false fails at once');

    const j3 = await s.jobs.enqueue({ kind: 'thumb' });
    const l3 = (await s.jobs.lease(['thumb'], 1000))!;
    assert.equal(await s.jobs.heartbeat(l3, 60_000), true);
    await s.jobs.release(l3);
    const released = await s.jobs.get(j3.id);
    assert.deepEqual([released?.state, released?.attempts, released?.lease_owner], ['queued', 0, null]);
    assert.equal(await s.jobs.heartbeat(l3, 60_000), false, 'a released lease is gone');
    const l3b = (await s.jobs.lease(['thumb'], 1000))!;
    assert.equal(await s.jobs.complete(l3b), true);
    assert.equal((await s.jobs.get(j3.id))?.state, 'done');
    assert.equal(await s.jobs.complete(l3b), false, 'completing twice changes nothing');

    assert.deepEqual(await s.jobs.cancelForVideo('v1'), [], 'j1 already failed');
    const j4 = await s.jobs.enqueue({ kind: 'transcode', videoId: 'v9' });
    assert.deepEqual(await s.jobs.cancelForVideo('v9'), [j4.id]);
    assert.equal((await s.jobs.get(later.id))?.state, 'queued');
    assert.deepEqual(await s.jobs.countByState(), { done: 1, failed: 2, cancelled: 1, queued: 2 });
  });

  test('jobs: a lease taken over after expiry makes the first owner\'s heartbeat, complete, fail and release no-ops', async (t) => {
    const s = await d.open(t, { nodeId: 'node-a' });
    const other = new JobsRepo(s.db, s.dialect, 'node-b');
    const now = Date.now();
    const job = await s.jobs.enqueue({ kind: 'x', maxAttempts: 5 });
    const first = (await s.jobs.lease(['x'], 1000, now))!;
    assert.match(first.lease_owner!, /^node-a\/[A-Za-z0-9]{12}$/);
    const second = (await other.lease(['x'], 60_000, now + 2000))!;
    assert.equal(second.id, job.id);
    assert.match(second.lease_owner!, /^node-b\//);
    assert.equal(await s.jobs.heartbeat(first, 1000), false);
    assert.equal(await s.jobs.complete(first), false);
    assert.equal(await s.jobs.fail(first, 'late', 0), undefined);
    await s.jobs.release(first);
    const row = await s.jobs.get(job.id);
    assert.deepEqual([row?.state, row?.lease_owner, row?.attempts], ['running', second.lease_owner, 2], 'the new owner keeps the job');
    assert.equal(await other.heartbeat(second, 60_000), true);
    assert.equal(await other.complete(second), true);
    assert.equal((await s.jobs.get(job.id))?.state, 'done');
  });

  test('jobs: the worker pool stops a job whose lease was lost instead of finishing it', { timeout: 30_000 }, async (t) => {
    const s = await d.open(t, { nodeId: 'node-a' });
    const other = new JobsRepo(s.db, s.dialect, 'node-b');
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    let aborted!: (reason: unknown) => void;
    const abortReason = new Promise<unknown>((resolve) => (aborted = resolve));
    const pool = new WorkerPool({
      jobs: s.jobs, log: createLogger('silent'), concurrency: 1, timeoutMs: 60_000, leaseMs: 1000, pollMs: 60_000,
      handlers: {
        x: (_job, ctx) => new Promise<void>((_, reject) => {
          started();
          ctx.signal.addEventListener('abort', () => {
            aborted(ctx.signal.reason);
            reject(new Error('aborted'));
          });
        }),
      },
    });
    t.after(() => pool.stop());
    await s.jobs.enqueue({ kind: 'x' });
    pool.start();
    await running;
    const taken = await other.lease(['x'], 60_000, Date.now() + 5000);
    assert.ok(taken, 'the expired lease is taken over by the other node');
    assert.equal(await abortReason, 'cancelled', 'the heartbeat found the lease gone and aborted the job');
    while (pool.active > 0) await new Promise((r) => setTimeout(r, 10));
    const row = await s.jobs.get(taken.id);
    assert.deepEqual([row?.state, row?.lease_owner], ['running', taken.lease_owner], 'the first node recorded nothing');
    assert.deepEqual([pool.counters.completed, pool.counters.failed, pool.counters.retried], [0, 0, 0]);
  });

  test(`jobs: orphans of a killed process are requeued at start ${d.name === 'sqlite' ? 'on SQLite' : 'only by lease expiry on PostgreSQL'}`, async (t) => {
    const s = await d.open(t);
    const job = await s.jobs.enqueue({ kind: 'x' });
    await s.jobs.lease(['x'], 60_000);
    assert.equal(await s.jobs.recoverOrphans(), d.name === 'sqlite' ? 1 : 0);
    assert.equal((await s.jobs.get(job.id))?.state, d.name === 'sqlite' ? 'queued' : 'running', 'another node may hold the lease');
  });

  test('webhook outbox: bounded enqueue, batch leases, owned outcomes, expiry, orphans, retention', async (t) => {
    const s = await d.open(t, { nodeId: 'node-a' });
    const other = new WebhookOutboxRepo(s.db, s.dialect, 'node-b');
    const hook = await s.webhooks.create({ url: 'http://127.0.0.1:9/hook', events: ['*'] });
    const item = (n: number) => ({ webhookId: hook.id, event: 'video.ready', eventId: `evt_${n}`, payload: `{"n":${n}}` });
    const t0 = Date.now();
    assert.equal(await s.webhookOutbox.enqueue([item(1), item(2), item(3)], 2, t0), 2, 'the bound keeps two');
    assert.equal(await s.webhookOutbox.enqueue([item(4)], 3, t0 + 1), 1);
    assert.equal(await s.webhookOutbox.undelivered(), 3);
    const batch = (await s.webhookOutbox.lease(2, 1000, 3, t0 + 10)).sort((x, y) => x.event_id.localeCompare(y.event_id));
    assert.deepEqual(batch.map((r) => [r.event_id, r.state, r.attempts, r.due_at]), [['evt_1', 'delivering', 1, t0 + 1010], ['evt_2', 'delivering', 1, t0 + 1010]]);
    assert.match(batch[0]!.lease_owner!, /^node-a\//);
    const four = await other.lease(5, 1000, 3, t0 + 20);
    assert.deepEqual(four.map((r) => r.event_id), ['evt_4'], 'leased rows are not leased again');
    assert.equal(await other.delivered(four[0]!), true, 'delivered rows go');
    // A lease taken over after expiry: the first owner's outcomes change nothing.
    const [taken] = await other.lease(1, 1000, 3, t0 + 2000);
    const lost = batch.find((r) => r.id === taken?.id)!;
    const kept = batch.find((r) => r.id !== taken?.id)!;
    assert.ok(lost && kept, 'one of the two expired leases was taken over');
    assert.equal(await s.webhookOutbox.delivered(lost), false);
    assert.equal(await s.webhookOutbox.failed(lost, 'late', t0), false);
    assert.equal(await other.failed(taken!, 'HTTP 500', t0 + 3000), true);
    assert.equal(await s.webhookOutbox.delivered(kept), true);
    assert.deepEqual((await s.webhookOutbox.list()).map((r) => [r.event_id, r.state, r.attempts, r.last_error]), [[lost.event_id, 'pending', 2, 'HTTP 500']]);
    // Out of attempts: the third lease is the last; a lease that expires on it fails the delivery.
    const [third] = await other.lease(1, 1000, 3, t0 + 3000);
    assert.deepEqual([third?.id, third?.attempts], [taken!.id, 3]);
    assert.deepEqual(await other.lease(1, 1000, 3, t0 + 5000), [], 'no fourth attempt');
    assert.equal(await s.webhookOutbox.failExhausted(3, t0 + 5000), 1);
    assert.deepEqual(await s.webhookOutbox.countByState(), { pending: 0, delivering: 0, failed: 1 });
    // Orphans of a killed process: due at once on SQLite, only by expiry on PostgreSQL.
    await s.webhookOutbox.enqueue([item(6)], 10);
    await s.webhookOutbox.lease(1, 60_000, 3);
    assert.equal(await s.webhookOutbox.recoverOrphans(), d.name === 'sqlite' ? 1 : 0);
    // Shutdown gives a lease back without counting it.
    const held = (await s.webhookOutbox.list()).find((r) => r.state === 'delivering')!;
    await other.release([held]);
    assert.deepEqual(await s.webhookOutbox.list().then((r) => r.filter((x) => x.id === held.id).map((x) => [x.state, x.attempts, x.lease_owner])), [['pending', held.attempts - 1, null]]);
    // Retention: failed rows and old undelivered rows go, and so does the attempt log.
    await s.webhooks.logAttempt({ webhookId: hook.id, deliveryId: held.id, event: 'video.ready', payload: '{}', attempt: 1, statusCode: 500, error: 'HTTP 500', startedAt: t0, endedAt: t0 + 5 });
    assert.equal(await s.webhookOutbox.prune(Date.now() + 10_000), 1, 'one undelivered delivery expired');
    assert.equal(await s.webhooks.pruneAttempts(Date.now() + 10_000), 1);
    assert.deepEqual(await s.webhookOutbox.list(), []);
    // Deleting a webhook deletes its undelivered deliveries.
    await s.webhookOutbox.enqueue([item(5)], 10);
    assert.equal(await s.webhooks.delete(hook.id), true);
    assert.equal(await s.webhookOutbox.undelivered(), 0);
  });

  test('live streams: unique keys, case-sensitive lookup by key, rotation', async (t) => {
    const s = await d.open(t);
    const a = await s.liveStreams.create({ title: 'a' });
    const b = await s.liveStreams.create({ title: 'b', record: true, abr: true });
    assert.notEqual(a.stream_key, b.stream_key);
    const found = await s.liveStreams.findLiveStreamByKey(b.stream_key);
    assert.deepEqual([found?.id, found?.record, found?.abr], [b.id, 1, 1]);
    assert.equal(await s.liveStreams.findLiveStreamByKey(b.stream_key.toUpperCase()), undefined);
    const r = await s.liveStreams.rotateKey(a.id);
    assert.equal(await s.liveStreams.findLiveStreamByKey(a.stream_key), undefined);
    assert.equal((await s.liveStreams.findLiveStreamByKey(r!.stream_key))?.id, a.id);
    assert.equal(await s.liveStreams.findLiveStreamByKey("' OR '1'='1"), undefined);
    const page = await s.liveStreams.list({ limit: 1 });
    const next = await s.liveStreams.list({ limit: 1, afterId: page.nextCursor });
    assert.deepEqual([...page.items, ...next.items].map((x) => x.id).sort(), [a.id, b.id].sort());
  });

  test('captions: one track per video and language, replace keeps createdAt, one default, deleted with the video', async (t) => {
    const s = await d.open(t);
    const v = await s.videos.create();
    const track = (language: string, isDefault: boolean, vtt = 'WEBVTT\n') => ({ language, label: language, isDefault, format: 'vtt' as const, vtt, cues: 1 });
    const en = await s.captions.put(v.id, track('en', true));
    assert.equal(en.replaced, false);
    await s.captions.put(v.id, track('pt-BR', false));
    const again = await s.captions.put(v.id, track('en', false, 'WEBVTT\n\n00:01.000 --> 00:02.000\nx\n'));
    assert.equal(again.replaced, true);
    assert.equal(again.row.created_at, en.row.created_at);
    await s.captions.put(v.id, track('pt-BR', true));
    assert.deepEqual((await s.captions.list(v.id)).map((r) => [r.language, r.is_default, r.vtt.length > 7]), [['en', 0, true], ['pt-BR', 1, false]]);
    await s.captions.put(v.id, track('en', true));
    assert.deepEqual((await s.captions.list(v.id)).map((r) => r.is_default), [1, 0], 'a new default clears the old one');
    assert.equal(await s.captions.delete(v.id, 'pt-BR'), true);
    assert.equal(await s.captions.delete(v.id, 'pt-BR'), false);
    await s.videos.delete(v.id);
    assert.deepEqual(await s.captions.list(v.id), [], 'tracks go with their video');
  });
});

test('store.url: empty is SQLite in the data directory, sqlite:<path>, postgres URLs; anything else is CONFIG_INVALID with the password masked', async () => {
  assert.deepEqual(parseStoreUrl(null, '/data'), { dialect: 'sqlite', file: '/data/strom.db' });
  assert.deepEqual(parseStoreUrl('', ':memory:'), { dialect: 'sqlite', file: ':memory:' });
  assert.deepEqual(parseStoreUrl('sqlite:/var/lib/strom/meta.db', '/data'), { dialect: 'sqlite', file: '/var/lib/strom/meta.db' });
  assert.deepEqual(parseStoreUrl('sqlite:///abs.db', '/data'), { dialect: 'sqlite', file: '/abs.db' });
  assert.deepEqual(parseStoreUrl('sqlite::memory:', '/data'), { dialect: 'sqlite', file: ':memory:' });
  for (const url of ['postgres://u:p@db:5432/strom', 'postgresql://db/strom']) assert.deepEqual(parseStoreUrl(url, '/data'), { dialect: 'postgres', connectionString: url });
  const config = loadConfig({ env: { STROM_STORE_URL: 'postgres://u:p@db/strom', STROM_STORE_POOL_MAX: '4' } });
  assert.deepEqual(config.store, { url: 'postgres://u:p@db/strom', poolMax: 4, connectTimeoutMs: 5000, queryTimeoutMs: 30_000 });
  // A PostgreSQL that cannot be reached at start: a catalog error naming store.url, password masked.
  const closed = await freePort();
  await assert.rejects(openStore(':memory:', { url: `postgres://strom:s3cret@127.0.0.1:${closed}/strom`, connectTimeoutMs: 1000 }), (err: unknown) => {
    assert.ok(isStromError(err, 'STORE_UNAVAILABLE'), String(err));
    assert.equal(err.statusCode, 503);
    assert.match(err.message, new RegExp(`PostgreSQL at store\\.url=postgres://strom:\\*\\*\\*@127\\.0\\.0\\.1:${closed}/strom is unavailable: .*ECONNREFUSED`));
    assert.doesNotMatch(err.message, /s3cret/);
    return true;
  });
  await assert.rejects(openStore(':memory:', { url: 'mysql://strom:s3cret@db/strom' }), (err: unknown) => {
    assert.ok(isStromError(err));
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.match(err.message, /store\.url="mysql:\/\/strom:\*\*\*@db\/strom"/);
    assert.doesNotMatch(err.message, /s3cret/);
    return true;
  });
  assert.throws(() => parseStoreUrl('sqlite:', '/data'), /CONFIG_INVALID|sqlite: needs a file path/);
});
