/**
 * Live through the whole `strom edge` (buildEdge), with real clients on loopback. One origin
 * (buildStrom with `cluster.secret`) with ffmpeg publishing H.264 + AAC over RTMP, and one edge in
 * front of it for the file; a counting proxy between the two records every request that reaches
 * the origin.
 * - hls.js in Chromium plays the LL-HLS stream through the edge in low-latency mode (parts,
 *   blocking playlist reloads), each request reaching the origin at most as often as asked;
 * - 50 concurrent identical blocking playlist requests for a part not yet published → ONE request
 *   at the origin, 50 identical 200 answers;
 * - dash.js plays the origin's LL-DASH MPD through the edge;
 * - ffprobe reads HTTP-FLV from the edge's /live/<id>.flv (the edge's own hub, fed by one relay pull).
 * Latencies and timings are printed, never asserted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchBrowser, playInBrowser } from '../helpers/browser.js';
import { blockingBurst, burstTimes } from '../helpers/blocking-burst.js';
import { startCountingProxy, type CountingProxy } from '../helpers/counting-proxy.js';
import { EDGE_ORIGIN_SETTINGS, metricSample, startEdgeNode, type EdgeNode } from '../helpers/edge-node.js';
import { request, startStrom, type Running } from '../helpers/http-client.js';
import { ffmpegPublish, run, waitUntil } from '../helpers/live-fixtures.js';

const LIVE = 'cam1';

let origin: Running;
let proxy: CountingProxy;
let edge: EdgeNode;
let browser: Browser;
let stopPublish: () => void = () => undefined;

before(async () => {
  origin = await startStrom({ ...EDGE_ORIGIN_SETTINGS, 'live.staticKeys': `${LIVE}:secret`, 'llhls.segmentTargetMs': 1000, 'llhls.partTargetMs': 500 });
  const pub = ffmpegPublish(origin.strom.live.rtmp.port()!, 'secret', 150);
  stopPublish = () => pub.child.kill('SIGKILL');
  await waitUntil(() => origin.strom.live.registry.get(LIVE)?.active === true, 'ffmpeg publishes to the origin', 15_000);
  proxy = await startCountingProxy(origin.port);
  edge = await startEdgeNode([`http://127.0.0.1:${proxy.port}`]);
  browser = await launchBrowser();
});

after(async () => {
  stopPublish();
  // The origin is stopped even if the browser or the edge fails to stop.
  const stopped = await Promise.allSettled([browser?.close(), edge?.close()]);
  await proxy?.close();
  await origin?.stop();
  for (const s of stopped) if (s.status === 'rejected') throw s.reason;
});

test('hls.js plays the live stream through the edge in low-latency mode', async () => {
  const res = await playInBrowser(browser, { player: 'hls', src: `${edge.url}/live/${LIVE}/master.m3u8`, hlsConfig: { lowLatencyMode: true }, untilTime: 6, timeoutMs: 60_000 });
  assert.deepEqual(res.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), [], `player errors: ${res.errors.join(', ')}`);
  assert.ok(res.currentTime >= 6, `played to ${res.currentTime}`);
  assert.equal(res.info.live, true);
  assert.equal(res.info.partList, true, 'hls.js saw EXT-X-PART through the edge');
  assert.deepEqual(res.requests.filter((u) => !u.startsWith(edge.url) && !u.startsWith('blob:')), [], 'every media request went to the edge');
  const asked = new Map<string, number>();
  for (const u of res.requests.filter((x) => x.startsWith(edge.url))) {
    const target = u.slice(edge.url.length);
    asked.set(target, (asked.get(target) ?? 0) + 1);
  }
  const blocking = [...asked.keys()].filter((u) => /index\.m3u8\?.*_HLS_msn=\d+/.test(u));
  assert.ok(blocking.length > 0, 'blocking playlist requests');
  assert.ok([...asked.keys()].some((u) => /\/part_[^/]+\.m4s$/.test(u)), 'parts fetched');
  for (const [target, n] of asked) {
    const seen = proxy.count(target);
    // A live object is asked of the origin by the viewer's request (or answered by the edge's copy).
    if (/_HLS_msn=|\/part_[^/]+\.m4s$/.test(target)) assert.ok(seen >= 1, `${target} reached the origin`);
    assert.ok(seen <= n, `${target}: ${seen} origin requests for ${n} asked`);
  }
  assert.ok(metricSample(await edge.metrics(), 'strom_edge_viewers{surface="ll-hls"}') >= 1, 'an LL-HLS viewer counted');
  console.log(`edge: hls.js LL latency ${String(res.info.latency)} s, ${blocking.length} blocking reloads`);
});

test('50 concurrent identical blocking requests for an unpublished part reach the origin once', async () => {
  const answers = await blockingBurst(edge.url, origin.url, proxy);
  const statuses = answers.map((a) => String(a.headers['cache-status']));
  assert.equal(statuses.filter((s) => /^strom-edge; fwd=miss; fwd-status=200(; stored)?$/.test(s)).length, 1, `one miss: ${statuses.join(', ')}`);
  assert.ok(statuses.every((s) => /^strom-edge; (fwd=miss; fwd-status=200(; stored|; collapsed)?|hit; ttl=\d+)$/.test(s)), `the others joined it: ${statuses.join(', ')}`);
  console.log(`edge: coalesced blocking request: ${burstTimes(answers)}; ${statuses.filter((s) => s.includes('collapsed')).length} collapsed`);
});

test('dash.js plays the LL-DASH stream through the edge', async () => {
  const dashSettings = { streaming: { delay: { liveDelay: 2 }, liveCatchup: { enabled: true } } };
  const res = await playInBrowser(browser, { player: 'dash', src: `${edge.url}/live/${LIVE}/manifest.mpd`, dashSettings, untilTime: 4, timeoutMs: 60_000 });
  assert.deepEqual(res.errors, [], `player errors: ${res.errors.join(', ')}`);
  assert.ok(res.currentTime >= 4, `currentTime advanced to ${res.currentTime}`);
  assert.deepEqual(res.requests.filter((u) => !u.startsWith(edge.url) && !u.startsWith('blob:')), [], 'every media request went to the edge');
  assert.ok(!res.requests.some((u) => u.endsWith('/live/time')), 'clock synced from the MPD\'s direct UTCTiming, no time request');
  assert.ok(res.requests.some((u) => /\/seg_[^/]+\.m4s$/.test(u)), 'segments fetched');
  assert.ok(proxy.count(`/live/${LIVE}/manifest.mpd`) >= 1, 'the MPD came from the origin');
  // The origin writes the fallback UTCTiming URL from Host: the edge asks with the viewer's, so players without the direct scheme sync through the edge.
  const mpd = await request(`${edge.url}/live/${LIVE}/manifest.mpd`);
  assert.equal(mpd.status, 200);
  assert.match(mpd.body.toString(), new RegExp(`<UTCTiming [^>]*value="${edge.url}/live/time"`));
  assert.ok(metricSample(await edge.metrics(), 'strom_edge_viewers{surface="ll-dash"}') >= 1, 'an LL-DASH viewer counted');
  console.log(`edge: dash.js LL-DASH currentTime ${res.currentTime}`);
});

test('ffprobe reads HTTP-FLV of the live stream from the edge', async () => {
  const { stdout, code, stderr } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width', '-of', 'json', `${edge.url}/live/${LIVE}.flv`], 20_000).done;
  assert.equal(code, 0, stderr);
  const streams = (JSON.parse(stdout) as { streams: Array<{ codec_name: string; width?: number }> }).streams;
  assert.deepEqual(streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
  assert.equal(streams.find((s) => s.codec_name === 'h264')!.width, 320);
  assert.ok(proxy.count(`/internal/live/${LIVE}.flv`) >= 1, 'the edge pulled the stream over the internal relay');
  assert.equal(proxy.count(`/live/${LIVE}.flv`), 0, 'the viewer\'s HTTP-FLV request was served by the edge\'s hub');
});
