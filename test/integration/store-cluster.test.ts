/**
 * Cluster mode on a private PostgreSQL (test/helpers/postgres.ts), with one pool per simulated
 * node: concurrent lease loops on two nodes never lease a job twice; a row another node has locked
 * is skipped, not waited for (FOR UPDATE SKIP LOCKED); a lease taken over after expiry makes the
 * first node's heartbeat and complete fail; the webhook outbox's batch leases never hand one
 * delivery to two nodes; three nodes migrating at once apply each migration exactly once (the
 * advisory lock).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/db/database.js';
import { migrate, migrations } from '../../src/store/db/migrations.js';
import type { Database } from '../../src/store/db/schema.js';
import { POSTGRES } from '../../src/store/db/sql-dialect.js';
import { onPostgres } from '../helpers/postgres.js';

/** Two stores (two pools) on one fresh database: two nodes of a cluster. */
async function twoNodes(t: import('node:test').TestContext, url: string): Promise<[Store, Store]> {
  const a = await openStore(':memory:', { url, nodeId: 'node-a', poolMax: 4 });
  t.after(() => a.close());
  const b = await openStore(':memory:', { url, nodeId: 'node-b', poolMax: 4 });
  t.after(() => b.close());
  return [a, b];
}

onPostgres((d) => {
  test('two nodes × four lease loops: each of 50 jobs is leased exactly once', async (t) => {
    const url = (await d.settings())['store.url'] as string;
    const [a, b] = await twoNodes(t, url);
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) ids.add((await a.jobs.enqueue({ kind: 'work' })).id);
    const leases: Array<{ id: string; node: string }> = [];
    const loop = async (node: Store, name: string) => {
      for (;;) {
        const job = await node.jobs.lease(['work'], 60_000);
        if (!job) return;
        leases.push({ id: job.id, node: name });
        await new Promise((r) => setImmediate(r)); // hold the lease a moment, as real work would
        assert.equal(await node.jobs.complete(job), true);
      }
    };
    await Promise.all([0, 1, 2, 3].flatMap(() => [loop(a, 'a'), loop(b, 'b')]));
    assert.equal(leases.length, 50, 'no job leased twice');
    assert.deepEqual(new Set(leases.map((l) => l.id)), ids, 'every job leased');
    assert.ok(leases.some((l) => l.node === 'a') && leases.some((l) => l.node === 'b'), 'both nodes got work');
    assert.deepEqual(await a.jobs.countByState(), { done: 50 });
  });

  test('two nodes × four lease loops over the webhook outbox: each of 60 deliveries is leased exactly once', async (t) => {
    const url = (await d.settings())['store.url'] as string;
    const [a, b] = await twoNodes(t, url);
    const hook = await a.webhooks.create({ url: 'http://127.0.0.1:9/hook', events: ['*'] });
    const items = Array.from({ length: 60 }, (_, i) => ({ webhookId: hook.id, event: 'video.ready', eventId: `evt_${i}`, payload: '{}' }));
    assert.equal(await a.webhookOutbox.enqueue(items, 1000), 60);
    const leased: Array<{ id: string; node: string }> = [];
    const loop = async (node: Store, name: string) => {
      for (;;) {
        const rows = await node.webhookOutbox.lease(3, 60_000, 5);
        if (rows.length === 0) return;
        for (const r of rows) leased.push({ id: r.id, node: name });
        await new Promise((r) => setImmediate(r)); // hold the leases a moment, as a POST would
        for (const r of rows) assert.equal(await node.webhookOutbox.delivered(r), true);
      }
    };
    await Promise.all([0, 1, 2, 3].flatMap(() => [loop(a, 'a'), loop(b, 'b')]));
    assert.equal(leased.length, 60, 'no delivery leased twice');
    assert.equal(new Set(leased.map((l) => l.id)).size, 60);
    assert.ok(leased.some((l) => l.node === 'a') && leased.some((l) => l.node === 'b'), 'both nodes got work');
    assert.equal(await a.webhookOutbox.undelivered(), 0);
  });

  test('a job locked by another node is skipped, not waited for', async (t) => {
    const url = (await d.settings())['store.url'] as string;
    const [a, b] = await twoNodes(t, url);
    const first = await a.jobs.enqueue({ kind: 'work', runAfter: Date.now() - 1000 });
    const second = await a.jobs.enqueue({ kind: 'work' });
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    t.after(() => blocker.end());
    await blocker.query('begin');
    await blocker.query('select id from jobs where id = $1 for update', [first.id]);
    const lease = b.jobs.lease(['work'], 60_000);
    const leased = await Promise.race([lease, new Promise<'blocked'>((r) => setTimeout(() => r('blocked'), 3000).unref())]);
    await blocker.query('rollback'); // before asserting, so a waiting lease cannot hang the test
    await lease;
    assert.notEqual(leased, 'blocked', 'the lease did not wait for the locked row');
    assert.equal(leased && leased !== 'blocked' ? leased.id : null, second.id);
    assert.equal((await b.jobs.lease(['work'], 60_000))?.id, first.id, 'once unlocked, the first job is leased');
  });

  test('a lease taken over after expiry: the first node\'s heartbeat and complete fail', async (t) => {
    const url = (await d.settings())['store.url'] as string;
    const [a, b] = await twoNodes(t, url);
    const job = await a.jobs.enqueue({ kind: 'work' });
    const now = Date.now();
    const mine = (await a.jobs.lease(['work'], 1000, now))!;
    assert.equal(await b.jobs.lease(['work'], 60_000, now + 500), undefined, 'a live lease is not taken');
    const theirs = (await b.jobs.lease(['work'], 60_000, now + 1500))!;
    assert.equal(theirs.id, job.id);
    assert.equal(await a.jobs.heartbeat(mine, 1000), false);
    assert.equal(await a.jobs.complete(mine), false);
    assert.equal((await b.jobs.get(job.id))?.lease_owner, theirs.lease_owner);
    assert.equal(await b.jobs.complete(theirs), true);
  });

  test('three nodes migrating at once apply each migration exactly once', async (t) => {
    const url = (await d.settings())['store.url'] as string;
    const dbs = [0, 1, 2].map(() => new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }) }));
    t.after(() => Promise.all(dbs.map((db) => db.destroy())));
    const applied = await Promise.all(dbs.map((db) => migrate(db, POSTGRES)));
    assert.deepEqual(applied.flat().sort((x, y) => x - y), migrations.map((m) => m.version), 'each version applied by one node');
    assert.equal(applied.filter((v) => v.length > 0).length, 1, 'one node did all the work');
    const rows = await dbs[0]!.selectFrom('schema_migrations').select('version').orderBy('version').execute();
    assert.deepEqual(rows.map((r) => r.version), migrations.map((m) => m.version));
    assert.deepEqual(await Promise.all(dbs.map((db) => migrate(db, POSTGRES))), [[], [], []], 'a later start applies nothing');
  });
});
