/**
 * Live on an edge, with real servers and real clients. Once per file: a real origin (buildStrom,
 * `cluster.secret` set, no Redis) with ffmpeg publishing an H.264 + AAC test pattern over RTMP,
 * and an edge (createEdgeLive over a real OriginPool, mounted on a Fastify app and node:http
 * server as the edge composition does) in front of it.
 * - ffprobe reads HTTP-FLV and RTMP play from the edge;
 * - 5 HTTP-FLV viewers, a WS-FLV viewer and an RTMP player on the edge → ONE relay connection at
 *   the origin (its status and strom_live_relay_served);
 * - Chromium plays the stream from the edge over WHEP (the AAC bridged to Opus on the edge);
 * - a publish to the edge (ffmpeg over RTMP) is refused with a logged reason; the edge has no
 *   WHIP and no LL-HLS/LL-DASH routes (its HTTP cache serves those); the playback guard applies;
 * - an edge pointed at the wrong node of a cluster follows that node's 307 to the publisher;
 * - failover: origin A (a child process) is SIGKILLed while edge viewers watch, the encoder
 *   re-publishes to origin B, and the edge's relay continues from B on the same viewer connections.
 */
import http from 'node:http';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import type { LivePlaybackGuard } from '../../src/auth/playback-guard.js';
import { requestToken } from '../../src/auth/playback-guard.js';
import { testConfig, type RawSettings } from '../../src/config.js';
import { fail } from '../../src/errors.js';
import { createEdgeLive, EDGE_INGEST_REFUSAL, type EdgeLive } from '../../src/edge/edge-live.js';
import { OriginPool } from '../../src/edge/origin-pool.js';
import { createFastifyApp } from '../../src/http/fastify-app.js';
import type { FlvTag } from '../../src/live/formats/flv/flv-demuxer.js';
import { signRelayRequest } from '../../src/live/relay/relay-auth.js';
import { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { ffmpegPublish, flvViewer, run, type FlvViewer, sendFrames, startLive, syntheticPublisher, waitUntil, type LiveHarness } from '../helpers/live-fixtures.js';
import { CLUSTER_SECRET, spawnStrom, startNode } from '../helpers/cluster-nodes.js';
import { startRedis } from '../helpers/redis.js';
import { launchWebRtcBrowser, waitPlay, webrtcPage } from '../helpers/webrtc.js';

const SECRET = 'edge-test-secret-0123456789';

/** An edge's live playback on its own HTTP server, with captured logs and its metrics registry. */
interface EdgeHarness {
  edge: EdgeLive;
  pool: OriginPool;
  url: string;
  rtmpPort: number;
  logs: Array<Record<string, unknown>>;
  metric(name: string): Promise<number>;
  close(): Promise<void>;
}

/** Start an edge in front of `origins` (in failover order). */
async function startEdge(origins: string[], nodeId: string, o: { secret?: string; settings?: RawSettings; guard?: LivePlaybackGuard } = {}): Promise<EdgeHarness> {
  const config = testConfig({ 'edge.origins': origins.join(','), 'edge.healthIntervalMs': 500, 'cluster.relayIdleMs': 1000, ...o.settings });
  const logs: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  }));
  const pool = new OriginPool(config.edge.origins, { connections: config.edge.upstreamConnections, healthIntervalMs: config.edge.healthIntervalMs, timeoutMs: config.edge.upstreamTimeoutMs }, log);
  pool.start();
  const edge = createEdgeLive({ config, origins: pool, secret: o.secret ?? SECRET, nodeId, log, guard: o.guard });
  const app = createFastifyApp(config, log, (handler) => http.createServer(handler));
  await app.register(edge.routes);
  await app.ready();
  edge.attach(app.server);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const rtmpPort = (await edge.listen())!;
  const registry = new Registry();
  edge.register(registry);
  const { port } = app.server.address() as { port: number };
  return {
    edge, pool, logs, rtmpPort, url: `http://127.0.0.1:${port}`,
    metric: async (name) => metricOf(await registry.metrics(), name),
    async close() {
      await edge.close();
      await app.close();
      await pool.close();
    },
  };
}

/** The first sample of `name` in a Prometheus exposition (NaN when absent). */
function metricOf(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? NaN : Number(line.split(' ').at(-1));
}

/** Codec names and sizes ffprobe sees at `url`. */
async function probe(url: string): Promise<Array<{ codec_name: string; width?: number; sample_rate?: string }>> {
  const { stdout, code, stderr } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,sample_rate', '-of', 'json', url], 20_000).done;
  assert.equal(code, 0, stderr);
  return (JSON.parse(stdout) as { streams: Array<{ codec_name: string }> }).streams;
}

const isVideoFrame = (tag: FlvTag) => tag.type === 9 && (tag.body[0]! & 0x0f) === 7 && tag.body[1] === 1;
const isKeyframe = (tag: FlvTag) => isVideoFrame(tag) && tag.body[0]! >> 4 === 1;

/** A guard that refuses the token "forged" (the edge's synced guard would check signatures). */
const guard: LivePlaybackGuard = (req, streamId) => {
  if (requestToken(req) === 'forged') throw fail('PLAYBACK_DENIED', streamId, 'token signature does not verify');
};

let origin: LiveHarness;
let edge: EdgeHarness;
let stopPublish: () => void = () => undefined;

before(async () => {
  origin = await startLive({ 'cluster.secret': SECRET, 'cluster.nodeId': 'origin-b' });
  const pub = ffmpegPublish(origin.rtmpPort, 'secret', 300);
  stopPublish = () => pub.child.kill('SIGKILL');
  await waitUntil(() => origin.strom.live.status('cam1').video !== null && origin.strom.live.status('cam1').audio !== null, 'ffmpeg publishes cam1 to the origin', 15_000);
  await sleep(1000); // a GOP in the origin's cache
  edge = await startEdge([origin.httpUrl], 'edge-1', { guard });
});

after(async () => {
  stopPublish();
  await edge?.close();
  await origin?.close();
});

test('ffprobe reads HTTP-FLV and RTMP play of the origin\'s stream from the edge', { timeout: 60_000 }, async () => {
  const flv = await probe(`${edge.url}/live/cam1.flv`);
  assert.deepEqual(flv.map((s) => s.codec_name).sort(), ['aac', 'h264']);
  assert.equal(flv.find((s) => s.codec_name === 'h264')!.width, 320);
  assert.equal(flv.find((s) => s.codec_name === 'aac')!.sample_rate, '44100');
  const rtmp = await probe(`rtmp://127.0.0.1:${edge.rtmpPort}/live/cam1`);
  assert.deepEqual(rtmp.map((s) => s.codec_name).sort(), ['aac', 'h264']);
  assert.equal(edge.edge.live.status('cam1').originNode, 'origin-b', 'the edge names the node it relays from');
});

test('5 HTTP-FLV viewers, a WS-FLV viewer and an RTMP player on the edge cost the origin ONE relay connection', { timeout: 60_000 }, async () => {
  const viewers = Array.from({ length: 5 }, () => flvViewer(`${edge.url}/live/cam1.flv`));
  const ws = new WebSocket(`${edge.url.replace('http', 'ws')}/live/cam1.flv`);
  const wsMessages: Buffer[] = [];
  ws.on('message', (d: Buffer) => wsMessages.push(d));
  const player = await RtmpClient.connect('127.0.0.1', edge.rtmpPort, 'live');
  let rtmpVideo = 0;
  player.onMedia = (m) => void (m.typeId === 9 && rtmpVideo++);
  assert.equal(await player.play('cam1'), 'NetStream.Play.Reset');
  try {
    await Promise.all(viewers.map((v) => v.waitTags(40)));
    for (const v of viewers) {
      const res = await v.res;
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'video/x-flv');
      assert.ok(isKeyframe(v.tags.find(isVideoFrame)!), 'an edge viewer starts on a keyframe');
    }
    await waitUntil(() => wsMessages.length > 20 && rtmpVideo > 10, `WS-FLV (${wsMessages.length} messages) and RTMP (${rtmpVideo} video messages) play from the edge`, 10_000);
    assert.equal(wsMessages[0]!.subarray(0, 3).toString(), 'FLV', 'WS-FLV starts with the FLV header');

    const atEdge = edge.edge.live.status('cam1');
    assert.deepEqual([atEdge.viewers['http-flv'], atEdge.viewers['ws-flv'], atEdge.viewers.rtmp], [5, 1, 1]);
    const atOrigin = origin.strom.live.status('cam1');
    assert.equal(atOrigin.viewers.relay, 1, 'one relay reader at the origin for every edge viewer');
    assert.deepEqual([atOrigin.viewers['http-flv'], atOrigin.viewers['ws-flv'], atOrigin.viewers.rtmp], [0, 0, 0]);
    assert.equal(metricOf(await (await fetch(`${origin.httpUrl}/metrics`)).text(), 'strom_live_relay_served'), 1);
    assert.equal(await edge.metric('strom_live_relay_pulls'), 1);
    assert.ok((await edge.metric('strom_live_relay_bytes_total')) > 0);
  } finally {
    for (const v of viewers) v.req.destroy();
    ws.terminate();
    player.destroy();
  }
  // Without viewers the edge releases its relay after cluster.relayIdleMs, and the origin's reader goes.
  await waitUntil(() => origin.strom.live.status('cam1').viewers.relay === 0 && edge.edge.relay.size === 0, 'the idle relay is released', 10_000);
});

test('Chromium plays the stream from the edge over WHEP', { timeout: 90_000 }, async (t) => {
  const browser = await launchWebRtcBrowser();
  t.after(() => browser.close());
  const viewer = await webrtcPage(browser);
  t.after(() => viewer.close());
  await viewer.page.evaluate((u) => (window as unknown as { whepPlay: (u: string) => Promise<unknown> }).whepPlay(u), `${edge.url}/live/cam1/whep`);
  const s = await waitPlay(viewer.page, (x) => x.frames >= 30 && (x.stats.audio?.packetsReceived ?? 0) > 20, 'WHEP viewer on the edge decodes video and gets the AAC as Opus');
  assert.deepEqual(s.size, [320, 240]);
  assert.equal(edge.edge.live.webrtc.table.counts().whep, 1);
  assert.equal(edge.edge.live.status('cam1').viewers.whep, 1);
  assert.equal(origin.strom.live.status('cam1').viewers.relay, 1, 'WHEP on the edge is fed by the one relay');
  assert.equal(origin.strom.live.status('cam1').viewers.whep, 0);
});

test('the edge takes no ingest (RTMP publish refused, logged) and serves neither WHIP nor LL-HLS/LL-DASH; the playback guard applies', { timeout: 60_000 }, async () => {
  const pub = ffmpegPublish(edge.rtmpPort, 'secret', 5);
  const { code } = await pub.done;
  assert.notEqual(code, 0, 'ffmpeg cannot publish to the edge');
  const closed = edge.logs.find((l) => l.msg === 'rtmp session closed' && String(l.reason).startsWith('publish refused'));
  assert.ok(closed, 'the refusal is logged');
  assert.match(String(closed.reason), new RegExp(EDGE_INGEST_REFUSAL.replace(/[()]/g, '\\$&')));
  const publisher = edge.edge.live.registry.get('cam1')?.publisher;
  assert.ok(publisher == null || publisher.relayFrom !== undefined, 'nothing but the relay publishes on the edge');

  const whip = await fetch(`${edge.url}/whip`, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: 'Bearer secret' }, body: 'v=0\r\n' });
  assert.equal(whip.status, 404);
  for (const p of ['/live/cam1/index.m3u8', '/live/cam1/manifest.mpd']) {
    const r = await fetch(`${edge.url}${p}`);
    assert.equal(r.status, 404, `${p} is the edge cache's, not the edge live's`);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  }

  const denied = await fetch(`${edge.url}/live/cam1.flv?token=forged`);
  assert.equal(denied.status, 403);
  assert.equal(((await denied.json()) as { error: { code: string } }).error.code, 'PLAYBACK_DENIED');
  const whep = await fetch(`${edge.url}/live/cam1/whep?token=forged`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
  assert.equal(whep.status, 403);
  const wsStatus = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`${edge.url.replace('http', 'ws')}/live/cam1.flv?token=forged`);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => resolve(101));
    ws.on('error', () => undefined);
  });
  assert.equal(wsStatus, 403);
  const player = await RtmpClient.connect('127.0.0.1', edge.rtmpPort, 'live');
  assert.equal(await player.play('cam1?token=forged'), 'NetStream.Play.Failed');
  player.destroy();
});

test('an edge pointed at a cluster node that does not publish the stream follows its 307 to the publishing node', { timeout: 60_000 }, async (t) => {
  const redis = await startRedis();
  const n1 = await startNode(t, redis.url, 'node-1', { 'cluster.relayIdleMs': 1000 });
  const n2 = await startNode(t, redis.url, 'node-2', { 'cluster.relayIdleMs': 1000 });
  const pub = await syntheticPublisher(n1.rtmpPort);
  let frame = 0;
  const frames = setInterval(() => sendFrames(pub, frame, frame++), 50);
  t.after(() => {
    clearInterval(frames);
    pub.destroy();
  });
  await waitUntil(() => n1.strom.live.status('cam1').state === 'active', 'publishing on node 1');
  await sleep(300); // the origin map entry is written

  const res = await fetch(`${n2.url}/internal/live/cam1.flv`, { redirect: 'manual', headers: { authorization: signRelayRequest(CLUSTER_SECRET, 'edge-x', 'cam1') } });
  assert.equal(res.status, 307);
  assert.equal(res.headers.get('location'), `${n1.url}/internal/live/cam1.flv`);
  assert.equal(res.headers.get('x-strom-node'), 'node-2');

  const e = await startEdge([n2.url], 'edge-c', { secret: CLUSTER_SECRET });
  t.after(() => e.close());
  const v = flvViewer(`${e.url}/live/cam1.flv`);
  t.after(() => v.req.destroy());
  await v.waitTags(20);
  assert.equal((await v.res).statusCode, 200);
  assert.equal(e.edge.live.status('cam1').originNode, 'node-1', 'the edge relays from the publishing node');
  assert.equal(n1.strom.live.status('cam1').viewers.relay, 1);
  assert.equal(n2.strom.live.registry.active('cam1'), null, 'node 2 only redirected: it relays nothing');
});

/** An HTTP-FLV viewer of `url` once it answers 200 (polled while the stream is not live yet). */
async function firstPlay(url: string, ms: number): Promise<FlvViewer> {
  for (const until = Date.now() + ms; ;) {
    const status = await new Promise<number>((resolve) => {
      http.get(url, (res) => {
        resolve(res.statusCode ?? 0);
        res.destroy();
      }).on('error', () => resolve(0));
    });
    if (status === 200) return flvViewer(url);
    if (Date.now() > until) assert.fail(`${url} answered ${status} for ${ms} ms`);
    await sleep(200);
  }
}

test('failover: origin A is killed while edge viewers watch, the encoder moves to origin B, the viewers continue from B', { timeout: 120_000 }, async (t) => {
  // Origin A as its own process (SIGKILL-able): a single node with the edge secret.
  const a = await spawnStrom(t, 'origin-a', { 'rtmp.enabled': true, 'live.staticKeys': 'cam2:other', 'cluster.secret': SECRET, 'cluster.nodeId': 'origin-a' });
  const e = await startEdge([a.url, origin.httpUrl], 'edge-f', { settings: { 'cluster.relayConnectTimeoutMs': 15_000 } });
  t.after(() => e.close());
  const toA = ffmpegPublish(a.rtmpPort, 'other', 120);
  t.after(() => toA.child.kill('SIGKILL'));
  const first = await firstPlay(`${e.url}/live/cam2.flv`, 20_000);
  const viewers = [first, flvViewer(`${e.url}/live/cam2.flv`)];
  t.after(() => viewers.forEach((v) => v.req.destroy()));
  await Promise.all(viewers.map((v) => v.waitTags(50)));
  assert.equal(e.edge.live.status('cam2').originNode, 'origin-a');

  // Origin A dies (and its encoder with it); the encoder comes back on origin B.
  await a.kill();
  const killedAt = Date.now();
  const before = viewers.map((v) => v.tags.length);
  const toB = ffmpegPublish(origin.rtmpPort, 'other', 120);
  t.after(() => toB.child.kill('SIGKILL'));
  await waitUntil(() => e.edge.live.status('cam2').originNode === 'origin-b', 'the edge relays cam2 from origin B', 20_000);
  await Promise.all(viewers.map((v, i) => v.waitTags(before[i]! + 50, 20_000)));
  t.diagnostic(`viewers received origin B's frames ${Date.now() - killedAt} ms after origin A was killed (ffmpeg start included)`);
  for (const [i, v] of viewers.entries()) {
    assert.ok(v.tags.slice(before[i]).some(isKeyframe), 'the viewer got origin B\'s frames on the same response');
    assert.equal(await Promise.race([v.ended.then(() => 'ended'), sleep(0).then(() => 'open')]), 'open', 'the viewer\'s response never ended');
  }
  assert.equal(origin.strom.live.status('cam2').viewers.relay, 1, 'origin B serves the edge with one relay');
  assert.ok(!e.pool.origins[0]!.healthy, 'origin A is marked unhealthy in the pool');
  assert.ok((await e.metric('strom_edge_live_origin_failovers_total')) >= 1);
  assert.ok((await e.metric('strom_live_relay_reconnects_total')) >= 1);

  // A new viewer plays from B at once.
  const late = flvViewer(`${e.url}/live/cam2.flv`);
  t.after(() => late.req.destroy());
  await late.waitTags(20);
  assert.equal((await late.res).statusCode, 200);
});
