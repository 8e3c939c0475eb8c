/**
 * Restreaming in cluster mode (two nodes on one PostgreSQL and a private Redis): the node with
 * the real publisher pushes; a node that relays the stream for its own viewers never does, and
 * its API shows the output's state from the publishing node's events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { flvViewer, sendFrames, startLive, syntheticPublisher, waitUntil } from '../helpers/live-fixtures.js';
import { sharedPostgres } from '../helpers/postgres.js';
import { startRedis } from '../helpers/redis.js';
import { startNode } from '../helpers/cluster-nodes.js';

const KEY = 'dst_Cl5xLmw0pQr7734';

test('only the publisher\'s node pushes; the relaying node reports the state from events', async (t) => {
  const pg = await sharedPostgres();
  t.after(() => pg.destroy());
  const redis = await startRedis();
  t.after(() => redis.stop());
  const storeUrl = await pg.createDatabase();
  const n1 = await startNode(t, redis.url, 'node-1', { 'store.url': storeUrl });
  const n2 = await startNode(t, redis.url, 'node-2', { 'store.url': storeUrl });
  const dest = await startLive({ 'live.staticKeys': `dest1:${KEY}` });
  t.after(() => dest.close());
  let destPublishes = 0;
  dest.strom.live.events.on('publish.start', () => destPublishes++);

  const token = await n1.token(['live:write']);
  const json = async (r: Promise<Response>) => (await r).json() as Promise<Record<string, unknown>>;
  const stream = await json(n1.call('POST', '/api/v1/live-streams', { token, json: { title: 'cluster' } })) as { id: string; streamKey: string };
  const output = await json(n1.call('POST', `/api/v1/live-streams/${stream.id}/outputs`, { token, json: { url: `rtmp://127.0.0.1:${dest.rtmpPort}/live`, streamKey: KEY } })) as { id: string };
  const outputOn = async (n: typeof n1) => json(n.call('GET', `/api/v1/live-streams/${stream.id}/outputs/${output.id}`, { token }));

  const pub = await syntheticPublisher(n1.rtmpPort, stream.streamKey);
  let i = 0;
  const frames = setInterval(() => sendFrames(pub, i, i++), 50);
  t.after(() => {
    clearInterval(frames);
    pub.destroy();
  });
  await waitUntil(() => dest.strom.live.registry.active('dest1') !== null, 'the destination has the stream', 10_000);

  // A viewer on node 2 makes it relay the stream from node 1: a publisher there, but not a real one.
  const viewer = flvViewer(`${n2.url}/live/${stream.id}.flv`);
  t.after(() => viewer.req.destroy());
  await viewer.waitTags(20, 10_000);
  assert.equal(n2.strom.live.registry.active(stream.id)?.publisher?.relayFrom, 'node-1');
  await sleep(1500);
  assert.equal(destPublishes, 1, 'one push, from node 1 only');
  const m1 = await (await fetch(`${n1.url}/metrics`)).text();
  const m2 = await (await fetch(`${n2.url}/metrics`)).text();
  assert.match(m1, /strom_live_outputs\{state="live"\} 1/);
  assert.match(m2, /strom_live_outputs\{state="live"\} 0/);
  assert.equal((await outputOn(n1)).state, 'live');
  const seen = await outputOn(n2);
  assert.equal(seen.state, 'live', 'node 2 knows the state from node 1\'s events');
  assert.equal(seen.connectedAt, (await outputOn(n1)).connectedAt);
});
