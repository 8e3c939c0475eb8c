/**
 * Pulled sources in cluster mode, with a real private Redis and two real nodes in this process:
 * the source is a third Strom (single node) playing a synthetic RTMP publisher's streams over RTMP.
 * - viewers of an on-demand source on both nodes at once → ONE connection to the source (the pull
 *   lease), the other node relays it; both viewers start on a keyframe;
 * - a source removed through one node's API stops the pull on the node pulling it (the bus);
 * - an always-on source is pulled by exactly one node; when that node shuts down, the other takes
 *   the source over within the lease time.
 * Each node has its own database here, so the stream rows are created on both (one shared
 * PostgreSQL in production).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FlvTag } from '../../src/live/formats/flv/flv-demuxer.js';
import { startApi } from '../helpers/api-server.js';
import { startRedis } from '../helpers/redis.js';
import { startNodes, type TestNode } from '../helpers/cluster-nodes.js';
import { flvViewer, sendFrames, syntheticPublisher, waitUntil } from '../helpers/live-fixtures.js';

const FAST = { 'cluster.relayIdleMs': 1000, 'cluster.relayConnectTimeoutMs': 3000, 'cluster.originTtlMs': 1500, 'live.sourceLingerMs': 1000 };
const isVideoFrame = (tag: FlvTag) => tag.type === 9 && tag.body[1] === 1;
const isKeyframe = (tag: FlvTag) => isVideoFrame(tag) && tag.body[0] === 0x17;

test('one node pulls each source: on-demand viewers on two nodes share one connection; an always-on source moves when its node leaves', { timeout: 90_000 }, async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const origin = await startApi(t, { 'rtmp.enabled': true, 'rtmp.port': 0, 'live.staticKeys': 'cam1:secret,cam2:secret2' });
  const port = origin.strom.live.rtmp.port()!;
  for (const key of ['secret', 'secret2']) {
    const c = await syntheticPublisher(port, key);
    let i = 0;
    const timer = setInterval(() => sendFrames(c, i, i++), 50);
    t.after(() => {
      clearInterval(timer);
      c.destroy();
    });
  }
  const [n1, n2] = (await startNodes(t, redis.url, 2, FAST)) as [TestNode, TestNode];
  for (const n of [n1, n2]) {
    await n.strom.control.store.liveStreams.create({ id: 'ondemand', source: `rtmp://127.0.0.1:${port}/live/cam1` });
    await n.strom.control.store.liveStreams.create({ id: 'always', source: `rtmp://127.0.0.1:${port}/live/cam2`, sourceOnDemand: false });
  }

  const a = flvViewer(`${n1.url}/live/ondemand.flv`);
  const b = flvViewer(`${n2.url}/live/ondemand.flv`);
  await Promise.all([a.waitTags(15), b.waitTags(15)]);
  for (const v of [a, b]) assert.ok(isKeyframe(v.tags.find(isVideoFrame)!), 'each viewer starts on a keyframe');
  assert.equal(origin.strom.live.status('cam1').viewers.total, 1, 'one connection from the cluster to the source');
  const relayed = [n1, n2].filter((n) => n.strom.live.registry.active('ondemand')?.publisher?.relayFrom !== undefined);
  assert.equal(relayed.length, 1, 'the other node relays it from the puller');
  a.req.destroy();
  b.req.destroy();
  await waitUntil(() => origin.strom.live.status('cam1').viewers.total === 0, 'released after the linger', 15_000);

  // A source removed through one node's API stops the pull on the node pulling it (live.source.changed).
  for (const n of [n1, n2]) await n.strom.control.store.liveStreams.create({ id: 'gone', source: `rtmp://127.0.0.1:${port}/live/cam1`, sourceOnDemand: false });
  await Promise.all([n1.strom.pull.changed('gone'), n2.strom.pull.changed('gone')]);
  await waitUntil(() => origin.strom.live.status('cam1').viewers.total === 1, 'the always-on source is pulled', 8000);
  // The origin counts the connection as soon as it plays; the puller's stream is live at its first keyframe.
  const pulling = () => [n1, n2].find((n) => n.strom.live.registry.active('gone')?.publisher?.relayFrom === undefined && n.strom.live.registry.active('gone') !== null);
  await waitUntil(() => pulling() !== undefined, 'a node has the always-on source live', 8000);
  const puller = pulling()!;
  const bystander = puller === n1 ? n2 : n1;
  for (const n of [n1, n2]) await n.strom.control.store.liveStreams.update('gone', { source: null }); // one shared database in production
  await bystander.strom.pull.changed('gone'); // what the bystander's API does on PATCH
  await waitUntil(() => origin.strom.live.status('cam1').viewers.total === 0, 'the puller stopped: the change reached it over the bus', 8000);
  assert.equal(puller.strom.live.registry.active('gone'), null);

  // Always on: start both nodes' always-on sources (a node does at its start; the rows came later here).
  await Promise.all([n1.strom.pull.changed('always'), n2.strom.pull.changed('always')]);
  await waitUntil(() => origin.strom.live.status('cam2').viewers.total === 1, 'the always-on source is pulled', 8000);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(origin.strom.live.status('cam2').viewers.total, 1, 'by one node only');
  const holder = n1.strom.live.registry.active('always') !== null ? n1 : n2;
  const other = holder === n1 ? n2 : n1;
  await holder.strom.close();
  holder.strom.close = async () => undefined; // closed here; the test's cleanup must not close it again
  await waitUntil(() => other.strom.live.registry.active('always')?.publisher?.relayFrom === undefined && other.strom.live.registry.active('always') !== null, 'the other node takes the source over', 10_000);
  assert.equal((await other.strom.pull.status('always'))?.state, 'live');
});
