/**
 * Invalidations across real nodes on a private Redis and one private PostgreSQL (the shared
 * metadata store); each node has its own data directory, with `assets/` linked to one shared
 * directory as a shared filesystem would be. Node c runs a delivery worker, so every check on c
 * sends requests on fresh connections that the main and the worker share. A signing key revoked,
 * a visibility changed and an asset deleted on node a take effect on the other nodes within 1 s
 * (asserted at 1.5 s). A node cut off from Redis while a key is revoked resyncs from the store
 * when it reconnects and refuses the key then.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ApiServer } from '../helpers/api-server.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { startRedis } from '../helpers/redis.js';
import { freshGet, startNode } from '../helpers/cluster.js';
import { until } from '../helpers/until.js';

/** The propagation bound under test (1 s) plus slack for a loaded test machine. */
const WITHIN_MS = 1_500;

let pg: PgServer;
before(async () => {
  pg = await startPostgres();
});
after(() => pg?.stop());

/** A small HLS asset in the shared assets directory. */
function publish(assets: string, id: string): void {
  const dir = path.join(assets, id);
  mkdirSync(path.join(dir, 'v1'), { recursive: true });
  writeFileSync(path.join(dir, 'master.m3u8'), '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000\nv1/index.m3u8\n');
  writeFileSync(path.join(dir, 'v1', 'index.m3u8'), '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:1,\nseg_00001.m4s\n#EXT-X-ENDLIST\n');
  writeFileSync(path.join(dir, 'v1', 'init.mp4'), Buffer.alloc(64, 1));
}

/** Nodes on one Redis and one database, each with its own data directory whose `assets/` is shared. */
async function cluster(t: TestContext, redisUrl: string, names: Array<[string, number]>): Promise<{ nodes: ApiServer[]; assets: string }> {
  const root = mkdtempSync(path.join(tmpdir(), 'strom-cluster-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const assets = path.join(root, 'shared-assets');
  mkdirSync(assets);
  const storeUrl = await pg.createDatabase();
  const nodes: ApiServer[] = [];
  for (const [name, workers] of names) {
    const dataDir = path.join(root, name);
    mkdirSync(dataDir);
    symlinkSync(assets, path.join(dataDir, 'assets'));
    // File metadata trusted for a minute: only an invalidation can make a node notice a deletion sooner.
    nodes.push(await startNode(t, redisUrl, name, { 'store.url': storeUrl, 'delivery.workers': workers, 'delivery.metaTtlMs': 60_000 }, dataDir));
  }
  for (const n of nodes) if (n.strom.deliveryWorkers) await until(() => n.strom.deliveryWorkers!.readyCount() === n.strom.config.delivery.workers, 'delivery workers ready', 20_000);
  await Promise.all(nodes.map((n) => n.strom.clusterLink!.events.started));
  return { nodes, assets };
}

/** Statuses of `count` GETs, each on a new connection (a node with a worker alternates main and worker). */
async function statuses(url: string, count = 4): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(await freshGet(url));
  return out;
}

async function playbackToken(s: ApiServer, id: string): Promise<{ token: string; kid: string }> {
  const r = await s.call('POST', `/api/v1/videos/${id}/playback-token`, { token: await s.token(['videos:read']), json: {} });
  assert.equal(r.status, 200);
  return (await r.json()) as { token: string; kid: string };
}

test('a revoked key, a visibility change and a deleted asset reach the other nodes and their workers within 1 s', async (t) => {
  const redis = await startRedis();
  const { nodes, assets } = await cluster(t, redis.url, [['node-a', 0], ['node-b', 0], ['node-c', 1]]);
  const [a, b, c] = nodes as [ApiServer, ApiServer, ApiServer];
  const write = await a.token(['videos:write']);
  const admin = await a.token(['admin']);

  // A signed video created on a is refused without a token on c; a token a signs (with a key a creates) plays on c.
  const sv = await a.strom.control.store.videos.create({ visibility: 'signed' });
  publish(assets, sv.id);
  await until(async () => (await freshGet(`${c.url}/v/${sv.id}/master.m3u8`)) === 403, 'c learns the new signed video', WITHIN_MS);
  const { token, kid } = await playbackToken(a, sv.id);
  const signedUrl = `${c.url}/s/${token}/${sv.id}/master.m3u8`;
  await until(async () => (await freshGet(signedUrl)) === 200, 'c loads the key a created', WITHIN_MS);
  assert.deepEqual(await statuses(signedUrl), [200, 200, 200, 200], 'main and worker of c accept the token');

  // Revoke on a: refused on c (main and worker) within 1 s.
  assert.equal((await a.call('DELETE', `/api/v1/signing-keys/${kid}`, { token: admin })).status, 200);
  await until(async () => (await freshGet(signedUrl)) === 403, 'c refuses the revoked key', WITHIN_MS, 10);
  assert.deepEqual(await statuses(signedUrl), [403, 403, 403, 403]);

  // Visibility: a public video made signed on a is refused on c within 1 s.
  const pub = await a.strom.control.store.videos.create();
  publish(assets, pub.id);
  const pubUrl = `${c.url}/v/${pub.id}/master.m3u8`;
  assert.deepEqual(await statuses(pubUrl), [200, 200, 200, 200]);
  assert.equal((await a.call('PATCH', `/api/v1/videos/${pub.id}`, { token: write, json: { visibility: 'signed' } })).status, 200);
  await until(async () => (await freshGet(pubUrl)) === 403, 'c applies the visibility change', WITHIN_MS, 10);
  assert.deepEqual(await statuses(pubUrl), [403, 403, 403, 403]);

  // Deletion: b and c had the files cached (trusted for a minute); after a deletes the video, 404 within 1 s.
  const gone = await a.strom.control.store.videos.create();
  publish(assets, gone.id);
  for (const n of [b, c]) assert.deepEqual(await statuses(`${n.url}/v/${gone.id}/v1/init.mp4`), [200, 200, 200, 200]);
  assert.equal((await a.call('DELETE', `/api/v1/videos/${gone.id}`, { token: write })).status, 204);
  await until(async () => (await freshGet(`${b.url}/v/${gone.id}/v1/init.mp4`)) === 404, 'b drops the deleted asset', WITHIN_MS, 10);
  await until(async () => (await freshGet(`${c.url}/v/${gone.id}/v1/init.mp4`)) === 404, 'c drops the deleted asset', WITHIN_MS, 10);
  assert.deepEqual(await statuses(`${c.url}/v/${gone.id}/v1/init.mp4`), [404, 404, 404, 404]);

  const served = (await c.strom.deliveryWorkers!.stats()).reduce((n, w) => n + w.requests, 0);
  assert.ok(served > 0, 'c\'s worker took part');
});

test('a node cut off from Redis resyncs when it reconnects: a key revoked meanwhile is refused', async (t) => {
  const redis = await startRedis();
  const { nodes, assets } = await cluster(t, redis.url, [['node-a', 0], ['node-c', 1]]);
  const [a, c] = nodes as [ApiServer, ApiServer];
  const sv = await a.strom.control.store.videos.create({ visibility: 'signed' });
  publish(assets, sv.id);
  const { token, kid } = await playbackToken(a, sv.id);
  const signedUrl = `${c.url}/s/${token}/${sv.id}/master.m3u8`;
  await until(async () => (await freshGet(signedUrl)) === 200, 'c accepts the token', WITHIN_MS);
  const resyncs = async () => Number(/^strom_cluster_resyncs_total (\d+)/m.exec(await (await fetch(`${c.url}/metrics`)).text())?.[1] ?? 0);
  const before = await resyncs();

  await redis.stop();
  await until(() => !a.strom.cluster!.redis.ready() && !c.strom.cluster!.redis.ready(), 'nodes notice Redis is gone', 5_000);
  // The API still works without Redis (the store is PostgreSQL); nothing can tell c about the revocation.
  assert.equal((await a.call('DELETE', `/api/v1/signing-keys/${kid}`, { token: await a.token(['admin']) })).status, 200);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(await statuses(signedUrl), [200, 200, 200, 200], 'c cannot know yet');

  await redis.start(); // empty: no message survives, only a resync can tell c
  await until(async () => (await freshGet(signedUrl)) === 403, 'c refuses the key after its resync', 15_000, 50);
  assert.deepEqual(await statuses(signedUrl), [403, 403, 403, 403], 'main and worker');
  assert.ok((await resyncs()) > before, 'c resynced after reconnecting');
});
