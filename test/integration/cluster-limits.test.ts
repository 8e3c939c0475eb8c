/**
 * Limits counted for the whole cluster, against a private Redis. The shared-limits sync itself
 * with two simulated nodes (synced by hand, so exact): the media bucket of an IP drained on one
 * node is drained on the other after one exchange each, and the per-token stream cap counts the
 * responses open on every node. Then real nodes: the API rate limit holds across two nodes and,
 * with Redis down, falls back to counting per node; the media limiter holds across a node and a
 * node with a delivery worker within its stated accuracy.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/logger.js';
import { connectRedis } from '../../src/cluster/redis-connection.js';
import { SharedLimits } from '../../src/cluster/shared-limits.js';
import { limitParticipant, MediaRateLimiter, StreamCap } from '../../src/auth/rate-limits.js';
import type { ApiServer } from '../helpers/api-server.js';
import { startRedis } from '../helpers/redis.js';
import { freshGet, startNode } from '../helpers/cluster.js';
import { until } from '../helpers/until.js';

const silent = createLogger('silent');

/** One simulated node: a limiter, a stream cap and their sync, on its own Redis connections. */
async function simulatedNode(t: TestContext, redisUrl: string, nodeId: string, perMinute: number, maxStreams: number) {
  const redis = connectRedis(redisUrl, nodeId, silent);
  t.after(() => redis.close());
  await until(() => redis.ready(), 'redis connection', 5_000);
  const limiter = new MediaRateLimiter(perMinute, 1000);
  const cap = new StreamCap(maxStreams);
  const me = limitParticipant(limiter, cap);
  const sync = new SharedLimits({ redis, nodeId, log: silent, registry: new Registry(), syncMs: 60_000, mediaPerMinute: perMinute, maxStreams, participants: () => [me] });
  t.after(() => sync.close());
  return { redis, limiter, cap, sync };
}

/** A stand-in for a response: `close()` ends it. */
function response(): { once(event: 'close', fn: () => void): unknown; close(): void } {
  const e = new EventEmitter();
  return { once: (ev, fn) => e.once(ev, fn), close: () => void e.emit('close') };
}

/** How many of `n` takes the limiter admits. */
function admitted(limiter: MediaRateLimiter, ip: string, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) {
    try {
      limiter.take(ip);
      ok++;
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'RATE_LIMITED');
    }
  }
  return ok;
}

test('shared limits: a media bucket drained on one node is drained on the other; streams count on every node', async (t) => {
  const redis = await startRedis();
  const one = await simulatedNode(t, redis.url, 'sim-1', 30, 3);
  const two = await simulatedNode(t, redis.url, 'sim-2', 30, 3);
  const ip = '198.51.100.7';

  assert.equal(admitted(one.limiter, ip, 20), 20);
  assert.equal(admitted(two.limiter, ip, 1), 1, 'node two has not heard of it yet: its own bucket is full');
  await one.sync.sync();
  await two.sync.sync(); // tells Redis of its one request, learns of the 20
  const hash = await one.redis.cmd.hgetall(`strom:lim:media:${ip}`);
  assert.ok(Number(hash.t) < 10 && Number(hash.t) >= 8.9, `shared bucket after 21 of 30: ${hash.t}`);
  assert.equal(admitted(two.limiter, ip, 15), 9, 'node two admits only what is left for the cluster (30 − 21)');
  await two.sync.sync();
  await one.sync.sync(); // one reported nothing for the IP, so it learns nothing of it yet
  assert.equal(admitted(one.limiter, ip, 1), 1, 'the stated accuracy: a node decides on its own bucket until it syncs the IP');
  await one.sync.sync();
  assert.equal(admitted(one.limiter, ip, 5), 0, 'one sync later node one knows node two drained the rest');

  const token = 'playback-token-under-test';
  const open = [response(), response()];
  for (const r of open) one.cap.acquire(token, r);
  await one.sync.sync();
  await two.sync.sync();
  const field = await one.redis.cmd.keys('strom:lim:streams:*');
  assert.equal(field.length, 1, 'one key per token, named by its hash');
  assert.ok(!field[0]!.includes(token), 'the token itself never goes to Redis');
  two.cap.acquire(token, response()); // decided alone: node two has not synced this token yet
  await two.sync.sync();
  assert.throws(() => two.cap.acquire(token, response()), (err: { code?: string }) => err.code === 'TOO_MANY_STREAMS', 'two on node one + one here = the cap of 3');
  open[0]!.close();
  await one.sync.sync();
  await two.sync.sync();
  assert.doesNotThrow(() => two.cap.acquire(token, response()), 'a response closed on node one frees a slot here');
});

test('the API rate limit holds across nodes; with Redis down each node counts alone', async (t) => {
  const redis = await startRedis();
  const settings = { 'rateLimit.api.perMinute': 10 };
  const a = await startNode(t, redis.url, 'node-a', settings);
  const b = await startNode(t, redis.url, 'node-b', settings);
  const token = await a.token(['videos:read'], 600, 'spread-client');
  const codes: number[] = [];
  for (let i = 0; i < 14; i++) codes.push((await (i % 2 === 0 ? a : b).call('GET', '/api/v1/videos', { token })).status);
  assert.deepEqual(codes, [...Array(10).fill(200), 429, 429, 429, 429], '10 per minute for the client, whichever node it reaches');
  const refused = await b.call('GET', '/api/v1/videos', { token });
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);

  await redis.stop();
  await until(() => !a.strom.cluster!.redis.ready(), 'node a notices Redis is gone', 5_000);
  const other = await a.token(['videos:read'], 600, 'client-during-outage');
  const local: number[] = [];
  for (let i = 0; i < 11; i++) local.push((await a.call('GET', '/api/v1/videos', { token: other })).status);
  assert.deepEqual(local, [...Array(10).fill(200), 429], 'the API keeps answering, limited by this node alone');
  assert.equal((await b.call('GET', '/api/v1/videos', { token: other })).status, 200, 'another node counts its own window meanwhile');
  assert.match(await (await fetch(`${a.url}/metrics`)).text(), /strom_cluster_api_rate_limit_local_total 11\b/);
});

/** A tiny public asset in a node's data directory. */
function publishTiny(dataDir: string, id: string): void {
  mkdirSync(path.join(dataDir, 'assets', id), { recursive: true });
  writeFileSync(path.join(dataDir, 'assets', id, 'poster.jpg'), Buffer.alloc(16, 1));
}

test('the media limiter holds across nodes and delivery workers within its stated accuracy', async (t) => {
  const redis = await startRedis();
  const settings = { 'rateLimit.media.perMinute': 60 };
  const a: ApiServer = await startNode(t, redis.url, 'node-a', settings);
  const b: ApiServer = await startNode(t, redis.url, 'node-b', { ...settings, 'delivery.workers': 1 });
  await until(() => b.strom.deliveryWorkers!.readyCount() === 1, 'b\'s worker ready', 20_000);
  const id = 'tiny';
  publishTiny(a.dataDir, id);
  publishTiny(b.dataDir, id);
  const on = (n: ApiServer) => `${n.url}/v/${id}/poster.jpg`;

  // b's main and worker each serve one request (so both hold a bucket for 127.0.0.1), then a serves 50.
  assert.deepEqual([await freshGet(on(b)), await freshGet(on(b))], [200, 200]);
  for (let i = 0; i < 50; i++) assert.equal(await freshGet(on(a)), 200);
  await new Promise((r) => setTimeout(r, 1_000)); // ≥ 3 sync intervals of 250 ms: every process knows

  // The cluster has ~8 of 60 tokens left (+1 per second of refill). Spread over b's two processes,
  // paced across several sync intervals, b admits about that many: at most what is left, the
  // refill, and what each process admits within one sync interval (the stated accuracy).
  const codes: number[] = [];
  for (let i = 0; i < 40; i++) {
    codes.push(await freshGet(on(b)));
    await new Promise((r) => setTimeout(r, 25));
  }
  const ok = codes.filter((c) => c === 200).length;
  assert.ok(codes.every((c) => c === 200 || c === 429), String(codes));
  assert.ok(ok >= 4 && ok <= 20, `b admitted ${ok} of 40 (the cluster had about 8 left; alone b would admit all 40)`);
});
