/**
 * The event bus across three real nodes on a private Redis (the stream strom:events): an event
 * published on one node reaches SSE clients of every node once, with the same cluster-wide id; a
 * client that reconnects to another node with Last-Event-ID gets exactly what it missed, and
 * garbage ids replay nothing; webhooks fire once, on the publishing node. With Redis down, events
 * still reach the publishing node's clients at once with provisional ids that order after what
 * they saw, and reach the other nodes once Redis is back (empty).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { compareEventIds, type BusEvent } from '../../src/events/event-bus.js';
import type { ApiServer } from '../helpers/api-server.js';
import { startRedis } from '../helpers/redis.js';
import { openSse, startNode } from '../helpers/cluster.js';
import { until } from '../helpers/until.js';

const STREAM_ID = /^\d+-\d+$/;

/** Nodes a, b, c on one Redis, each reading the stream. */
async function threeNodes(t: TestContext, redisUrl: string): Promise<ApiServer[]> {
  const nodes = [await startNode(t, redisUrl, 'node-a'), await startNode(t, redisUrl, 'node-b'), await startNode(t, redisUrl, 'node-c')];
  await Promise.all(nodes.map((n) => n.strom.clusterLink!.events.started));
  return nodes;
}

async function sseHeaders(n: ApiServer, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await n.token(['videos:read'])}`, ...extra };
}

const progress = (n: ApiServer, videoId: string, percent: number) => n.strom.bus.publish('video.progress', { videoId, phase: 'transcode', percent });

test('an event published on one node reaches every node once with one id; Last-Event-ID resumes on another node', async (t) => {
  const redis = await startRedis();
  const [a, b, c] = await threeNodes(t, redis.url);
  const onA = await openSse(t, `${a!.url}/api/v1/events?videoId=v1`, await sseHeaders(a!));
  const onB = await openSse(t, `${b!.url}/api/v1/events?videoId=v1`, await sseHeaders(b!));
  const seenOnB: BusEvent[] = [];
  b!.strom.bus.subscribe((e) => seenOnB.push(e));

  progress(a!, 'other', 1);
  for (const pct of [10, 20, 30]) progress(a!, 'v1', pct);
  const got = await onB.next(3);
  assert.deepEqual(got.map((e) => e.data.percent), [10, 20, 30], 'in publication order');
  for (const e of got) assert.match(e.id, STREAM_ID, 'ids are the stream ids');
  const mine = await onA.next(3);
  assert.deepEqual(mine.map((e) => e.id), got.map((e) => e.id), 'the same id on every node');
  assert.ok(compareEventIds(got[0]!.id, got[1]!.id) < 0 && compareEventIds(got[1]!.id, got[2]!.id) < 0);
  assert.ok(seenOnB.every((e) => !e.local), 'on b these are other nodes\' events');

  // A client that saw only the first event resumes on node c: exactly the two it missed, in order.
  const resumed = await openSse(t, `${c!.url}/api/v1/events?videoId=v1`, await sseHeaders(c!, { 'Last-Event-ID': got[0]!.id }));
  assert.deepEqual((await resumed.next(2)).map((e) => [e.id, e.data.percent]), [[got[1]!.id, 20], [got[2]!.id, 30]]);

  // Garbage (or empty-looking) ids replay nothing; the first event seen is the next one published.
  const garbage = await openSse(t, `${c!.url}/api/v1/events?videoId=v1`, await sseHeaders(c!, { 'Last-Event-ID': 'not-an-id' }));
  await new Promise((r) => setTimeout(r, 100));
  progress(b!, 'v1', 40);
  const [first] = await garbage.next(1);
  assert.equal(first!.data.percent, 40);
  await onA.next(4); // a gets b's event too
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(onA.events.length, 4, 'no node delivers an event twice');
  assert.equal(onB.events.length, 4);
  for (const s of [onA, onB, resumed, garbage]) s.close(); // before the nodes drain their responses
});

test('webhooks fire once for the cluster: on the node that published the event', async (t) => {
  const redis = await startRedis();
  const [a, b] = await threeNodes(t, redis.url);
  const got: string[] = [];
  const rx = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
  t.after(() => {
    rx.closeAllConnections();
    rx.close();
  });
  const url = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`;
  // Each node has its own store here, so the webhook is registered on both, as a shared store would show it.
  for (const n of [a!, b!]) {
    const res = await n.call('POST', '/api/v1/webhooks', { token: await n.token(['admin']), json: { url, events: ['video.*'] } });
    assert.equal(res.status, 201);
  }
  const reachedB = new Promise<void>((resolve) => b!.strom.bus.subscribe((e) => e.type === 'video.ready' && resolve()));
  a!.strom.bus.publish('video.ready', { videoId: 'v_hook', durationS: 1 });
  await reachedB;
  await until(() => got.length >= 1, 'the webhook delivery', 5_000);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(got.length, 1, 'one delivery, from the publishing node');
  assert.equal((JSON.parse(got[0]!) as { data: { videoId: string } }).data.videoId, 'v_hook');
});

test('Redis down: local clients get events at once with orderable ids; other nodes get them once Redis is back', async (t) => {
  const redis = await startRedis();
  const [a, b, c] = await threeNodes(t, redis.url);
  const onA = await openSse(t, `${a!.url}/api/v1/events?videoId=v2`, await sseHeaders(a!));
  const onB = await openSse(t, `${b!.url}/api/v1/events?videoId=v2`, await sseHeaders(b!));
  progress(a!, 'v2', 1);
  const [before] = await onB.next(1);
  await onA.next(1);

  await redis.stop();
  await until(() => !a!.strom.cluster!.redis.ready() && !b!.strom.cluster!.redis.ready(), 'nodes notice Redis is gone', 5_000);
  progress(a!, 'v2', 2);
  progress(a!, 'v2', 3);
  const local = (await onA.next(3, 1_000)).slice(1);
  assert.deepEqual(local.map((e) => e.data.percent), [2, 3], 'delivered on the publishing node without Redis');
  assert.deepEqual(local.map((e) => e.id), [`${before!.id}.1`, `${before!.id}.2`], 'provisional ids order right after the last id seen');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(onB.events.length, 1, 'other nodes cannot have them yet');

  await redis.start(); // empty, as a restarted Redis is
  const atB = await onB.next(3, 15_000);
  assert.deepEqual(atB.map((e) => e.data.percent), [1, 2, 3], 'the backlog reaches the other nodes, in order');
  for (const e of atB) assert.match(e.id, STREAM_ID);
  progress(b!, 'v2', 4);
  const atA = await onA.next(4);
  assert.equal(atA[3]!.data.percent, 4);
  assert.ok(compareEventIds(atA[2]!.id, atA[3]!.id) < 0, 'a later stream id orders after the provisional ones');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(onA.events.length, 4, 'the publishing node never delivers its backlog twice');

  // Resuming on the node that issued a provisional id: exactly what came after it.
  const sameNode = await openSse(t, `${a!.url}/api/v1/events?videoId=v2`, await sseHeaders(a!, { 'Last-Event-ID': local[0]!.id }));
  assert.deepEqual((await sameNode.next(2)).map((e) => e.data.percent), [3, 4]);
  // Elsewhere a provisional id resumes after the stream id it extends: nothing lost, the outage's events may repeat.
  const otherNode = await openSse(t, `${c!.url}/api/v1/events?videoId=v2`, await sseHeaders(c!, { 'Last-Event-ID': local[0]!.id }));
  const replay = await otherNode.next(3);
  assert.deepEqual(replay.map((e) => e.data.percent), [2, 3, 4]);
  const metrics = await (await fetch(`${a!.url}/metrics`)).text();
  assert.match(metrics, /strom_cluster_events_local_only_total 2\b/);
  for (const s of [onA, onB, sameNode, otherNode]) s.close(); // before the nodes drain their responses
});
