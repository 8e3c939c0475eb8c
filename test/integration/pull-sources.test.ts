/**
 * Pulled sources through a real Strom and its API: the source is another real Strom serving an
 * HTTP-FLV stream of a synthetic RTMP publisher (exact frames, the frame number in each payload),
 * pulled with the FLV connector. The protocols' own behaviour (RTSP, RTMP, SRT, HLS) has its own
 * tests; this file covers the lifecycle every protocol shares:
 * - nothing connects before a viewer; the first viewer waits for media, later ones share the pull;
 *   LL-HLS plays it too; viewers gone → the source is released after the linger time;
 * - the source's publisher leaves and comes back within the grace time: the viewer keeps its
 *   response and gets the new frames from a keyframe;
 * - API: masked URL, state, reason; validation (400/422); pushers refused (LIVE_SOURCE_PULLED);
 *   always-on via PATCH, removal; live.source.state events; metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FlvTag } from '../../src/live/formats/flv/flv-demuxer.js';
import { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { startApi, type ApiServer } from '../helpers/api-server.js';
import { flvViewer, sendFrames, syntheticPublisher, waitUntil } from '../helpers/live-fixtures.js';

const isVideoFrame = (tag: FlvTag) => tag.type === 9 && tag.body[1] === 1;
const isKeyframe = (tag: FlvTag) => isVideoFrame(tag) && tag.body[0] === 0x17;
const frameNo = (tag: FlvTag) => tag.body.readUInt32BE(5);

/** A synthetic 20 fps publisher of `key` on `port` from frame `from`, until stopped. */
async function publish(t: { after(fn: () => unknown): void }, port: number, from = 0): Promise<{ client: RtmpClient; stop(): void }> {
  const client = await syntheticPublisher(port);
  let i = from;
  const timer = setInterval(() => sendFrames(client, i, i++), 50);
  const stop = () => {
    clearInterval(timer);
    client.destroy();
  };
  t.after(stop);
  return { client, stop };
}

interface SourceJson { url: string; onDemand: boolean; state: string; reason: string | null; protocol: string | null }

async function sourceOf(node: ApiServer, token: string, id: string): Promise<SourceJson | null> {
  const r = await node.call('GET', `/api/v1/live-streams/${id}`, { token });
  return ((await r.json()) as { source: SourceJson | null }).source;
}

async function metricLines(url: string, prefix: string): Promise<string[]> {
  return (await (await fetch(`${url}/metrics`)).text()).split('\n').filter((l) => l.startsWith(prefix));
}

test('on demand: pulled for the first viewer, shared, played over LL-HLS, released after the linger time; the source returning within the grace keeps viewers', { timeout: 90_000 }, async (t) => {
  const origin = await startApi(t, { 'rtmp.enabled': true, 'rtmp.port': 0, 'live.staticKeys': 'cam1:secret' });
  const node = await startApi(t, { 'rtmp.enabled': true, 'rtmp.port': 0, 'live.sourceLingerMs': 1500, 'live.sourceReconnectGraceMs': 8000 });
  const pub = await publish(t, origin.strom.live.rtmp.port()!);
  const token = await node.token(['live:write']);
  const events: string[] = [];
  t.after(node.strom.bus.subscribe((e) => {
    if (e.type === 'live.source.state') events.push((e.data as { state: string }).state);
  }));
  const sourceUrl = `${origin.url}/live/cam1.flv?token=not-needed-but-secret`;
  const created = await node.call('POST', '/api/v1/live-streams', { token, json: { title: 'Pulled', source: sourceUrl } });
  assert.equal(created.status, 201);
  const s = (await created.json()) as { id: string; source: SourceJson };
  assert.deepEqual([s.source.url, s.source.onDemand, s.source.state], [`${origin.url}/live/cam1.flv?token=••••`, true, 'idle']);
  assert.ok(!JSON.stringify(s).includes('not-needed-but-secret'), 'the secret is never answered');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(origin.strom.live.status('cam1').viewers.total, 0, 'nothing connects before a viewer');

  // Two viewers at once: one pull; both start on a keyframe.
  const a = flvViewer(`${node.url}/live/${s.id}.flv`);
  const b = flvViewer(`${node.url}/live/${s.id}.flv`);
  await Promise.all([a.waitTags(20), b.waitTags(20)]);
  assert.equal((await a.res).statusCode, 200);
  assert.ok(isKeyframe(a.tags.find(isVideoFrame)!), 'the first frame is a keyframe');
  assert.equal(origin.strom.live.status('cam1').viewers.total, 1, 'one connection to the source for both viewers');
  const live = await sourceOf(node, token, s.id);
  assert.deepEqual([live?.state, live?.protocol], ['live', 'flv']);
  const hls = await fetch(`${node.url}/live/${s.id}/index.m3u8`);
  assert.equal(hls.status, 200);
  assert.match(await hls.text(), /#EXTM3U/);

  // The source's publisher leaves and returns within the grace time: viewer a keeps its response.
  b.req.destroy();
  pub.stop();
  await waitUntil(() => events.includes('connecting') && events.lastIndexOf('connecting') > events.indexOf('live'), 'the node reconnects', 8000);
  const before = a.tags.length;
  const again = await publish(t, origin.strom.live.rtmp.port()!, 5000);
  await a.waitTags(before + 20, 15_000);
  const after = a.tags.slice(before).filter(isVideoFrame);
  assert.ok(isKeyframe(after[0]!) && frameNo(after[0]!) >= 5000, `the viewer continues at the new publisher's keyframe (frame ${frameNo(after[0]!)})`);
  const dts = a.tags.filter(isVideoFrame).map((x) => x.timestamp);
  assert.ok(dts.every((d, i) => i === 0 || d >= dts[i - 1]!), 'timestamps never go back');

  // Everyone leaves: the pull is released after the linger time; a new viewer pulls again.
  a.req.destroy();
  await fetch(`${node.url}/live/${s.id}/index.m3u8`).catch(() => undefined); // last HLS request: counts for a few segments
  await waitUntil(() => origin.strom.live.status('cam1').viewers.total === 0, 'source released after the linger time', 20_000);
  assert.equal((await sourceOf(node, token, s.id))?.state, 'idle');
  assert.equal(node.strom.live.registry.active(s.id), null);
  const c = flvViewer(`${node.url}/live/${s.id}.flv`);
  await c.waitTags(10);
  c.req.destroy();
  again.stop();
  const connects = await metricLines(node.url, 'strom_live_source_connects_total');
  assert.ok(connects.some((l) => l.includes('protocol="flv"') && l.includes('result="ok"')), connects.join('\n'));
  assert.ok((await metricLines(node.url, 'strom_live_source_bytes_total'))[0]!.split(' ')[1] !== '0');
});

test('API: validation, masking, pushers refused, failures with their code, always-on by PATCH, removal', { timeout: 60_000 }, async (t) => {
  const origin = await startApi(t, { 'rtmp.enabled': true, 'rtmp.port': 0, 'live.staticKeys': 'cam1:secret' });
  const node = await startApi(t, { 'rtmp.enabled': true, 'rtmp.port': 0, 'live.sourceRetryMaxMs': 1200 });
  const token = await node.token(['live:write']);
  const post = (json: unknown) => node.call('POST', '/api/v1/live-streams', { token, json });
  const code = async (r: Response) => ((await r.json()) as { error: { code: string; message: string } }).error;

  const bad = await post({ source: 'not a url' });
  assert.equal(bad.status, 400);
  assert.equal((await code(bad)).code, 'LIVE_SOURCE_BAD_URL');
  const ftp = await post({ source: 'ftp://host/x' });
  assert.equal(ftp.status, 422);
  assert.equal((await code(ftp)).code, 'LIVE_SOURCE_SCHEME_UNSUPPORTED');
  const html = await post({ source: 'https://host/page.html' });
  assert.equal(html.status, 400, 'http sources name a playlist or an FLV stream');

  // A source nobody answers: the viewer gets the catalog error naming the masked URL.
  const dead = (await (await post({ source: 'http://user:pw-secret@127.0.0.1:9/x.flv' })).json()) as { id: string };
  const r = await fetch(`${node.url}/live/${dead.id}.flv`);
  assert.equal(r.status, 502);
  const err = await code(r);
  assert.equal(err.code, 'LIVE_SOURCE_UNREACHABLE');
  assert.ok(!err.message.includes('pw-secret'), err.message);
  const st = await sourceOf(node, token, dead.id);
  assert.equal(st?.state, 'failed');
  assert.ok(st?.reason && !st.reason.includes('pw-secret'));

  // A publisher pushing to a pulled stream is refused.
  const row = (await node.strom.control.store.liveStreams.get(dead.id))!;
  const pusher = await RtmpClient.connect('127.0.0.1', node.strom.live.rtmp.port()!, 'live');
  t.after(() => pusher.destroy());
  assert.notEqual(await pusher.publish(row.stream_key).catch(() => 'refused'), 'NetStream.Publish.Start');

  // Always on by PATCH: connected with no viewer; removing the source stops the pull.
  const pub = await publish(t, origin.strom.live.rtmp.port()!);
  const patched = await node.call('PATCH', `/api/v1/live-streams/${dead.id}`, { token, json: { source: `${origin.url}/live/cam1.flv`, sourceOnDemand: false } });
  assert.equal(patched.status, 200);
  await waitUntil(() => node.strom.live.registry.active(dead.id) !== null, 'always-on source connected without viewers', 8000);
  assert.equal(origin.strom.live.status('cam1').viewers.total, 1);
  const removed = await node.call('PATCH', `/api/v1/live-streams/${dead.id}`, { token, json: { source: null } });
  assert.equal(((await removed.json()) as { source: unknown }).source, null);
  await waitUntil(() => origin.strom.live.status('cam1').viewers.total === 0, 'the pull stops when the source is removed', 5000);
  assert.equal(node.strom.live.registry.active(dead.id), null);
  pub.stop();
});
