/**
 * Cluster mode's Redis connection, against a real private redis-server: the node reports Redis
 * in /readyz, names it when Redis dies (503), and is ready again by itself when Redis comes back
 * empty on the same address, while a published VOD asset and a running live stream keep playing
 * through the outage. The settings refuse a cluster without a shared secret.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config.js';
import { startApi } from '../helpers/api-server.js';
import { startRedis } from '../helpers/redis.js';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { flvViewer, sendFrames, syntheticPublisher } from '../helpers/live-fixtures.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const SECRET = 'test-cluster-secret-0123456789';

interface Ready {
  status: string;
  failing?: string[];
  checks: Record<string, string>;
}

async function waitUntil(cond: () => Promise<boolean>, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out: ${what}`);
}

async function readyz(url: string): Promise<{ status: number; body: Ready }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Ready };
}

test('cluster settings: a redis:// URL, a secret of 16+ characters, and API tokens every node accepts', () => {
  const jwt = { 'auth.jwtSecret': 'api-secret-shared-by-every-node' };
  assert.throws(() => resolveConfig({ 'cluster.redisUrl': 'redis://127.0.0.1:6379', ...jwt }), /cluster\.secret/);
  assert.throws(() => resolveConfig({ 'cluster.redisUrl': 'redis://127.0.0.1:6379', 'cluster.secret': 'short', ...jwt }), /cluster\.secret.*16/);
  assert.throws(() => resolveConfig({ 'cluster.redisUrl': 'http://127.0.0.1:6379', 'cluster.secret': SECRET, ...jwt }), /cluster\.redisUrl/);
  assert.throws(() => resolveConfig({ 'cluster.redisUrl': 'redis://127.0.0.1:6379', 'cluster.secret': SECRET }), /auth\.jwtSecret/);
  assert.equal(resolveConfig({ 'cluster.redisUrl': 'redis://127.0.0.1:6379', 'cluster.secret': SECRET, ...jwt }).cluster.redisUrl, 'redis://127.0.0.1:6379');
  assert.equal(resolveConfig({ 'cluster.redisUrl': 'redis://127.0.0.1:6379', 'cluster.secret': SECRET, 'auth.jwksUrl': 'https://idp.example/jwks' }).cluster.secret, SECRET);
  // A single node may have the secret alone (edges pull its live streams); the length rule still holds.
  assert.equal(resolveConfig({ 'cluster.secret': SECRET }).cluster.secret, SECRET);
  assert.throws(() => resolveConfig({ 'cluster.secret': 'short' }), /cluster\.secret.*16/);
});

test('/readyz follows Redis: ok, 503 naming redis while it is down, ok again once it is back', async (t) => {
  const redis = await startRedis();
  const api = await startApi(t, { 'cluster.redisUrl': redis.url, 'cluster.secret': SECRET, 'cluster.nodeId': 'node-a', 'auth.jwtSecret': 'api-secret-shared-by-every-node' });
  await waitUntil(async () => (await readyz(api.url)).status === 200, 'ready with Redis up', 10_000);
  const up = await readyz(api.url);
  assert.equal(up.body.checks.redis, 'ok');
  assert.equal(api.strom.cluster?.nodeId, 'node-a');

  await redis.stop();
  await waitUntil(async () => (await readyz(api.url)).status === 503, 'not ready with Redis down', 10_000);
  const down = await readyz(api.url);
  assert.deepEqual(down.body.failing, ['redis']);
  assert.match(down.body.checks.redis!, /Redis.*unreachable/);
  // The rest of the node still answers: health and the API do not need Redis.
  assert.equal((await fetch(`${api.url}/healthz`)).status, 200);

  await redis.start();
  await waitUntil(async () => (await readyz(api.url)).status === 200, 'ready again after Redis restarted', 15_000);
});

test('a single node has no cluster and no redis check', async (t) => {
  const api = await startApi(t);
  assert.equal(api.strom.cluster, null);
  const r = await readyz(api.url);
  assert.equal(r.body.checks.redis, undefined);
});

test('Redis down: a published VOD asset and a running live stream keep playing; both keep going after it returns', async (t) => {
  const redis = await startRedis();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-cluster-outage-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  await makeFixtureAsset({ dataDir, id: 'vodasset', seconds: 2 });
  const segment = readFileSync(path.join(dataDir, 'assets', 'vodasset', 'v360', 'seg_00000.m4s'));
  const api = await startApi(t, {
    'cluster.redisUrl': redis.url, 'cluster.secret': SECRET, 'cluster.nodeId': 'node-a', 'auth.jwtSecret': 'api-secret-shared-by-every-node',
    'rtmp.enabled': true, 'live.staticKeys': 'cam1:secret',
  }, dataDir);
  await waitUntil(async () => (await readyz(api.url)).status === 200, 'ready with Redis up', 10_000);
  const pub = await syntheticPublisher(api.strom.live.rtmp.port()!);
  t.after(() => pub.destroy());
  let frame = 0;
  const frames = setInterval(() => sendFrames(pub, frame, frame++), 40);
  t.after(() => clearInterval(frames));
  const viewer = flvViewer(`${api.url}/live/cam1.flv`);
  t.after(() => viewer.req.destroy());
  await viewer.waitTags(10);

  await redis.stop();
  await waitUntil(async () => (await readyz(api.url)).status === 503, 'not ready with Redis down', 10_000);
  const during = viewer.tags.length;
  await viewer.waitTags(during + 20, 10_000); // the live stream flows on
  const vod = await fetch(`${api.url}/v/vodasset/v360/seg_00000.m4s`);
  assert.equal(vod.status, 200, 'VOD media is served without Redis');
  assert.ok(Buffer.from(await vod.arrayBuffer()).equals(segment), 'the right bytes');
  assert.equal((await fetch(`${api.url}/live/cam1.flv`, { signal: AbortSignal.timeout(5000) }).then((r) => { void r.body?.cancel(); return r.status; })), 200, 'a new live viewer joins during the outage');

  await redis.start();
  await waitUntil(async () => (await readyz(api.url)).status === 200, 'ready again after Redis restarted', 15_000);
  await viewer.waitTags(viewer.tags.length + 20, 10_000);
  assert.equal((await fetch(`${api.url}/v/vodasset/v360/index.m3u8`)).status, 200);
});
