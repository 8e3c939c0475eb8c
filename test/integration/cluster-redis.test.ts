/**
 * Cluster mode's Redis connection, against a real private redis-server: the node reports Redis
 * in /readyz, names it when Redis dies (503), and is ready again by itself when Redis comes back
 * empty on the same address. The settings refuse a cluster without a shared secret.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config.js';
import { startApi } from '../helpers/api-server.js';
import { startRedis } from '../helpers/redis.js';

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
