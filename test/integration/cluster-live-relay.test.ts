/**
 * Live from any node, with a real private Redis and real nodes in this process (one in a child
 * process where a test kills it): a synthetic RTMP publisher on node 1 (exact frames, keyframe
 * every 10th, the frame number in each video payload) and viewers on the other nodes.
 * - the internal relay endpoint: 404 without cluster.secret, 401/403 for missing/bad/expired
 *   signatures, 307 to the publishing node for a stream the node only relays;
 * - many viewers of all kinds on node 2 → one upstream connection to node 1; origin map entry;
 *   API status on every node; no publish events on the relaying node; idle release; release of
 *   the entry when the publisher stops; 404 once live nowhere;
 * - the publisher moves to node 3: a viewer on node 2 keeps its response and gets node 3's frames;
 *   a stale publisher on node 1 is closed when node 3 takes the stream over;
 * - Redis restarted empty: lookups fail with 503 meanwhile, the map is refilled within one TTL;
 * - an unreachable origin → 503 naming the node; the origin node killed → viewers on node 2 end
 *   and a new request gets 503 at once rather than a hang.
 */
import http from 'node:http';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import type { FlvTag } from '../../src/live/formats/flv/flv-demuxer.js';
import { FlvDemuxer } from '../../src/live/formats/flv/flv-demuxer.js';
import { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { signRelayRequest } from '../../src/live/relay/relay-auth.js';
import { flvViewer, sendFrames, syntheticPublisher, waitUntil } from '../helpers/live-fixtures.js';
import { startApi } from '../helpers/api-server.js';
import { startRedis } from '../helpers/redis.js';
import { CLUSTER_SECRET, spawnNode, startNode, startNodes, type TestNode } from '../helpers/cluster-nodes.js';

const FAST = { 'cluster.relayIdleMs': 1000, 'cluster.relayConnectTimeoutMs': 1500, 'cluster.originTtlMs': 1500 };

/** Poll an async condition every 25 ms for up to `ms`. */
async function waitFor(cond: () => Promise<boolean> | boolean, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(25);
  }
  assert.fail(`timed out after ${ms} ms: ${what}`);
}

/** Publish synthetic 20 fps frames from `from` on, until stopped. */
function streamFrames(c: RtmpClient, from: number): { stop(): void } {
  let i = from;
  const t = setInterval(() => {
    sendFrames(c, i, i);
    i++;
  }, 50);
  return { stop: () => clearInterval(t) };
}

/** A synthetic publisher on `node` streaming from frame `from`; destroyed after the test. */
async function publish(t: { after(fn: () => unknown): void }, rtmpPort: number, from = 0): Promise<{ client: RtmpClient; stop(): void }> {
  const client = await syntheticPublisher(rtmpPort);
  const frames = streamFrames(client, from);
  const stop = () => {
    frames.stop();
    client.destroy();
  };
  t.after(stop);
  return { client, stop };
}

const frameNo = (tag: FlvTag) => tag.body.readUInt32BE(5);
const isVideoFrame = (tag: FlvTag) => tag.type === 9 && tag.body[1] === 1;
const isKeyframe = (tag: FlvTag) => isVideoFrame(tag) && tag.body[0] === 0x17;

async function originOf(node: TestNode, streamId: string): Promise<{ nodeId: string; url: string } | null> {
  const v = await node.strom.cluster!.redis.cmd.get(`strom:live:origin:${streamId}`);
  return v === null ? null : (JSON.parse(v) as { nodeId: string; url: string });
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? NaN : Number(line.split(' ').at(-1));
}

test('the internal relay endpoint: 404 without cluster.secret, 401/403 without a valid node signature, only local publishers (307 to them)', async (t) => {
  const single = await startApi(t, { 'rtmp.enabled': true, 'live.staticKeys': 'cam1:secret' });
  const none = await fetch(`${single.url}/internal/live/cam1.flv`, { headers: { authorization: signRelayRequest(CLUSTER_SECRET, 'node-x', 'cam1') } });
  assert.equal(none.status, 404);
  assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');

  const redis = await startRedis();
  const [n1, n2] = (await startNodes(t, redis.url, 2, FAST)) as [TestNode, TestNode];
  await publish(t, n1.rtmpPort);
  await waitFor(async () => (await originOf(n2, 'cam1'))?.nodeId === 'node-1', 'origin map names node 1');
  const url = `${n1.url}/internal/live/cam1.flv`;
  const code = async (headers: Record<string, string>) => {
    const r = await fetch(url, { headers });
    const body = (await r.json()) as { error: { code: string; message: string } };
    return `${r.status} ${body.error.code}`;
  };
  assert.equal(await code({}), '401 CLUSTER_AUTH_REQUIRED');
  assert.equal(await code({ authorization: 'Bearer secret' }), '401 CLUSTER_AUTH_REQUIRED');
  assert.equal(await code({ authorization: signRelayRequest('not-the-cluster-secret-0000', 'node-2', 'cam1') }), '403 CLUSTER_AUTH_FAILED');
  assert.equal(await code({ authorization: signRelayRequest(CLUSTER_SECRET, 'node-2', 'cam1', Date.now() - 60_000) }), '403 CLUSTER_AUTH_FAILED');
  assert.equal(await code({ authorization: signRelayRequest(CLUSTER_SECRET, 'node-2', 'cam2') }), '403 CLUSTER_AUTH_FAILED', 'a signature is bound to its stream');
  const notLive = await fetch(`${n1.url}/internal/live/cam2.flv`, { headers: { authorization: signRelayRequest(CLUSTER_SECRET, 'node-2', 'cam2') } });
  assert.equal(notLive.status, 404);

  const ok = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get(url, { headers: { authorization: signRelayRequest(CLUSTER_SECRET, 'node-2', 'cam1') } }, resolve).on('error', reject);
  });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.headers['x-strom-node'], 'node-1');
  const head = await new Promise<Buffer>((resolve) => ok.once('data', resolve));
  assert.equal(head.subarray(0, 3).toString(), 'FLV');
  const st = n1.strom.live.status('cam1');
  assert.deepEqual([st.viewers.relay, st.viewers.total], [1, 0], 'a relay is counted apart from viewers');
  ok.destroy();
  await waitUntil(() => n1.strom.live.status('cam1').viewers.relay === 0, 'relay reader released');

  // Node 2 relays cam1 for a viewer; its own relay endpoint never serves that relay (no chains,
  // no loops): it sends the caller on to the publishing node, and answers 404 to that node itself.
  const v = flvViewer(`${n2.url}/live/cam1.flv`);
  await v.waitTags(5);
  const chained = await fetch(`${n2.url}/internal/live/cam1.flv`, { redirect: 'manual', headers: { authorization: signRelayRequest(CLUSTER_SECRET, 'edge-1', 'cam1') } });
  assert.equal(chained.status, 307);
  assert.equal(chained.headers.get('location'), `${n1.url}/internal/live/cam1.flv`);
  const back = await fetch(`${n2.url}/internal/live/cam1.flv`, { redirect: 'manual', headers: { authorization: signRelayRequest(CLUSTER_SECRET, 'node-1', 'cam1') } });
  assert.equal(back.status, 404);
  v.req.destroy();
});

test('many viewers on node 2 share one upstream connection; status, events, idle release, end of stream', { timeout: 60_000 }, async (t) => {
  const redis = await startRedis();
  const [n1, n2, n3] = (await startNodes(t, redis.url, 3, FAST)) as [TestNode, TestNode, TestNode];
  const events: string[] = [];
  t.after(n2.strom.bus.subscribe((e) => e.local && events.push(e.type))); // node 2's own events (the bus also carries node 1's)
  const pub = await publish(t, n1.rtmpPort);
  await waitFor(async () => (await originOf(n2, 'cam1'))?.nodeId === 'node-1', 'origin map names node 1');
  assert.equal((await originOf(n2, 'cam1'))!.url, n1.url);

  // 12 HTTP-FLV viewers at once (one pending pull), a WS-FLV viewer and an RTMP player.
  const viewers = Array.from({ length: 12 }, () => flvViewer(`${n2.url}/live/cam1.flv`));
  await Promise.all(viewers.map((v) => v.waitTags(10)));
  for (const v of viewers) assert.equal((await v.res).statusCode, 200);
  const first = viewers[0]!.tags.find(isVideoFrame)!;
  assert.ok(isKeyframe(first), 'a relayed viewer starts on a keyframe');
  const ws = new WebSocket(`${n2.url.replace('http', 'ws')}/live/cam1.flv`);
  let wsMessages = 0;
  ws.on('message', () => wsMessages++);
  const player = await RtmpClient.connect('127.0.0.1', n2.rtmpPort, 'live');
  let rtmpVideo = 0;
  player.onMedia = (m) => void (m.typeId === 9 && rtmpVideo++);
  assert.equal(await player.play('cam1'), 'NetStream.Play.Reset');
  await waitUntil(() => wsMessages > 10 && rtmpVideo > 5, 'WS-FLV and RTMP play through node 2');

  assert.equal(n1.strom.live.status('cam1').viewers.relay, 1, 'one upstream connection to node 1 for all of node 2');
  assert.equal(n1.strom.live.status('cam1').viewers.total, 0);
  const s2 = n2.strom.live.status('cam1');
  assert.deepEqual([s2.viewers['http-flv'], s2.viewers['ws-flv'], s2.viewers.rtmp, s2.originNode], [12, 1, 1, 'node-1']);
  assert.equal(await metric(n2.url, 'strom_live_relay_pulls'), 1);
  assert.equal(await metric(n1.url, 'strom_live_relay_served'), 1);
  assert.equal(await metric(n1.url, 'strom_cluster_origin_entries'), 1);
  assert.equal(await metric(n2.url, 'strom_cluster_origin_entries'), 0);

  // The API: the stream row exists on every node (separate databases here; one shared database in production).
  for (const n of [n1, n2, n3]) await n.strom.control.store.liveStreams.create({ id: 'cam1', title: 'Cam 1' });
  const api = async (n: TestNode) => (await (await n.call('GET', '/api/v1/live-streams/cam1', { token: await n.token(['live:write']) })).json()) as { status: string; live: { node: string | null; figures: string; video: unknown } | null };
  const [a1, a2, a3] = [await api(n1), await api(n2), await api(n3)];
  assert.deepEqual([a1.status, a1.live?.node, a1.live?.figures], ['active', null, 'local']);
  assert.deepEqual([a2.status, a2.live?.node, a2.live?.figures], ['active', 'node-1', 'relay']);
  assert.deepEqual([a3.status, a3.live?.node, a3.live?.figures, a3.live?.video], ['active', 'node-1', 'unknown', null]);
  assert.equal((await n2.strom.control.store.liveStreams.get('cam1'))!.status, 'idle', 'a relay writes no status');
  assert.ok(!events.includes('live.publish.start'), `no publish event from the relaying node: ${events.join(',')}`);

  // Everyone leaves node 2: the relay is released after cluster.relayIdleMs.
  for (const v of viewers) v.req.destroy();
  ws.close();
  player.destroy();
  await waitUntil(() => n1.strom.live.status('cam1').viewers.relay === 0, 'idle relay released', 6000);
  assert.equal(n2.strom.live.registry.active('cam1'), null);
  assert.ok(!events.includes('live.publish.stop'), `no publish.stop event from the relaying node: ${events.join(',')}`);

  // The publisher stops: node 1 deletes its entry; a viewer anywhere gets 404 at once.
  const again = flvViewer(`${n2.url}/live/cam1.flv`);
  await again.waitTags(5);
  pub.stop();
  await again.ended;
  await waitFor(async () => (await originOf(n2, 'cam1')) === null, 'origin entry released');
  const t0 = Date.now();
  const gone = await fetch(`${n2.url}/live/cam1.flv`);
  assert.equal(gone.status, 404);
  assert.equal(((await gone.json()) as { error: { code: string } }).error.code, 'LIVE_STREAM_NOT_FOUND');
  assert.ok(Date.now() - t0 < 1000, 'not live anywhere: 404 without waiting');
  assert.equal((await fetch(`${n3.url}/live/cam1/index.m3u8`)).status, 404);
});

test('the publisher moves to node 3: a viewer on node 2 keeps its response and gets node 3\'s keyframes', { timeout: 60_000 }, async (t) => {
  const redis = await startRedis();
  const [n1, n2, n3] = (await startNodes(t, redis.url, 3, FAST)) as [TestNode, TestNode, TestNode];
  const a = await publish(t, n1.rtmpPort, 0);
  await waitFor(async () => (await originOf(n2, 'cam1'))?.nodeId === 'node-1', 'origin map names node 1');
  const v = flvViewer(`${n2.url}/live/cam1.flv`);
  await v.waitTags(20);
  const relayStream = n2.strom.live.registry.active('cam1');

  // A stops on node 1, B publishes on node 3 with its own frame numbers (100000 on).
  a.stop();
  const movedAt = Date.now();
  await publish(t, n3.rtmpPort, 100_000);
  await waitFor(() => v.tags.some((x) => isKeyframe(x) && frameNo(x) >= 100_000), 'node 3 keyframes reach the node 2 viewer', 5000);
  const pickupMs = Date.now() - movedAt;
  const firstNew = v.tags.findIndex((x) => isVideoFrame(x) && frameNo(x) >= 100_000);
  assert.ok(isKeyframe(v.tags[firstNew]!), 'the first frame from the new origin is a keyframe');
  const n = v.tags.length;
  await v.waitTags(n + 20);
  assert.equal((await v.res).statusCode, 200);
  assert.equal(n2.strom.live.registry.active('cam1'), relayStream, 'the same LiveStream on node 2');
  const dts = v.tags.filter(isVideoFrame).map((x) => x.timestamp);
  for (let i = 1; i < dts.length; i++) assert.ok(dts[i]! >= dts[i - 1]!, `timestamps continue: ${dts[i - 1]} → ${dts[i]}`);
  assert.equal((await originOf(n2, 'cam1'))!.nodeId, 'node-3');
  assert.equal(n2.strom.live.status('cam1').originNode, 'node-3');
  console.log(`publisher moved node 1 → node 3: node 2 viewer got node 3's first keyframe ${pickupMs} ms after the move (GOP 500 ms)`);
  v.req.destroy();
});

test('a takeover on another node closes the stale publisher here; relays follow the stream', { timeout: 60_000 }, async (t) => {
  const redis = await startRedis();
  const [n1, n2, n3] = (await startNodes(t, redis.url, 3, FAST)) as [TestNode, TestNode, TestNode];
  const stale = await publish(t, n1.rtmpPort, 0);
  await waitFor(async () => (await originOf(n2, 'cam1'))?.nodeId === 'node-1', 'origin map names node 1');
  const v = flvViewer(`${n2.url}/live/cam1.flv`);
  await v.waitTags(10);
  await publish(t, n3.rtmpPort, 100_000); // node 1 still has its publisher: it notices at its next refresh
  await stale.client.closed;
  assert.equal(n1.strom.live.registry.active('cam1'), null, 'node 1 let go of the stream');
  await waitFor(() => v.tags.some((x) => isKeyframe(x) && frameNo(x) >= 100_000), 'the node 2 viewer follows to node 3', 5000);
  assert.equal((await originOf(n2, 'cam1'))!.nodeId, 'node-3');
  assert.ok((await metric(n1.url, 'strom_cluster_origin_lost_total')) >= 1);
  v.req.destroy();
});

test('Redis restarted empty: lookups 503 meanwhile, the origin map is refilled within one TTL', { timeout: 60_000 }, async (t) => {
  const redis = await startRedis();
  const ttl = 6000;
  const n1 = await startNode(t, redis.url, 'node-1', { ...FAST, 'cluster.originTtlMs': ttl });
  const n2 = await startNode(t, redis.url, 'node-2', { ...FAST, 'cluster.originTtlMs': ttl });
  await publish(t, n1.rtmpPort);
  await waitFor(async () => (await originOf(n2, 'cam1')) !== null, 'entry written');

  await redis.stop();
  const down = await fetch(`${n2.url}/live/cam1.flv`);
  assert.equal(down.status, 503);
  const body = (await down.json()) as { error: { code: string } };
  assert.equal(body.error.code, 'LIVE_ORIGIN_LOOKUP_FAILED');
  await sleep(ttl / 3 + 200); // a refresh runs while Redis is away
  await redis.start();
  const restarted = Date.now();
  await waitFor(async () => n2.strom.cluster!.redis.ready() && (await originOf(n2, 'cam1').catch(() => null))?.nodeId === 'node-1', 'entry refilled', ttl + 2000);
  const refillMs = Date.now() - restarted;
  console.log(`origin map refilled ${refillMs} ms after Redis restarted empty (TTL ${ttl} ms, refresh every ${ttl / 3} ms)`);
  assert.ok(refillMs <= ttl, `refilled within one TTL (${refillMs} ms)`);
  assert.ok((await metric(n1.url, 'strom_cluster_origin_refresh_errors_total')) >= 1, 'failed refreshes are counted');
  const v = flvViewer(`${n2.url}/live/cam1.flv`);
  await v.waitTags(5);
  v.req.destroy();
});

test('origin unreachable → 503 naming the node; origin killed → viewers on node 2 end, new requests 503 at once', { timeout: 60_000 }, async (t) => {
  const redis = await startRedis();
  const n2 = await startNode(t, redis.url, 'node-2', FAST);
  // An entry naming a node that is not there (a stale entry, a partition).
  await waitFor(() => n2.strom.cluster!.redis.ready(), 'node 2 connected to Redis');
  await n2.strom.cluster!.redis.cmd.set('strom:live:origin:ghost', JSON.stringify({ nodeId: 'node-x', url: 'http://127.0.0.1:9', since: Date.now() }), 'PX', 5000);
  const t0 = Date.now();
  const r = await fetch(`${n2.url}/live/ghost.flv`);
  const e = (await r.json()) as { error: { code: string; message: string } };
  assert.equal(r.status, 503);
  assert.equal(e.error.code, 'LIVE_ORIGIN_UNREACHABLE');
  assert.match(e.error.message, /node "node-x"/);
  assert.ok(Date.now() - t0 < 1000, 'a refused connection answers at once');

  const n1 = await spawnNode(t, redis.url, 'node-1', { ...FAST, 'cluster.originTtlMs': 10_000 });
  await publish(t, n1.rtmpPort);
  await waitFor(async () => (await originOf(n2, 'cam1'))?.nodeId === 'node-1', 'origin map names node 1');
  const v = flvViewer(`${n2.url}/live/cam1.flv`);
  await v.waitTags(10);
  await n1.kill();
  const killedAt = Date.now();
  await v.ended;
  const endedMs = Date.now() - killedAt;
  assert.ok(endedMs < 1500 + 2500, `the viewer's stream ended ${endedMs} ms after the origin died`);
  const t1 = Date.now();
  const after = await fetch(`${n2.url}/live/cam1.flv`);
  const err = (await after.json()) as { error: { code: string; message: string } };
  assert.equal(after.status, 503, JSON.stringify(err));
  assert.match(err.error.message, /node "node-1"/);
  assert.ok(Date.now() - t1 < 1000, 'no hang: the dead node refuses connections');
  console.log(`origin killed: node 2 viewer ended after ${endedMs} ms; a new request answered 503 in ${Date.now() - t1} ms`);
});

test('without cluster.redisUrl a node has no relay: not-live streams are 404 as before', async (t) => {
  const single = await startApi(t, { 'rtmp.enabled': true, 'live.staticKeys': 'cam1:secret' });
  assert.equal(single.strom.cluster, null);
  assert.equal((await fetch(`${single.url}/live/cam1.flv`)).status, 404);
  const pubc = await syntheticPublisher(single.strom.live.rtmp.port()!);
  t.after(() => pubc.destroy());
  sendFrames(pubc, 0, 10);
  const demux = new FlvDemuxer();
  const res = await fetch(`${single.url}/live/cam1.flv`);
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const tags: FlvTag[] = [];
  while (tags.length < 3) tags.push(...demux.push(Buffer.from((await reader.read()).value!)));
  await reader.cancel();
  assert.equal(single.strom.live.status('cam1').originNode, null);
});
