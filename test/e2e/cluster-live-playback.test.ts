/**
 * Real players on another node: ffmpeg publishes H.264 + AAC over RTMP to node 1 of a two-node
 * cluster; on node 2, hls.js in headless Chromium plays LL-HLS in low-latency mode (parts and
 * blocking reloads, cut by node 2's own muxer) and a WHEP page decodes video and receives audio
 * (node 2's audio bridge turns the relayed AAC into Opus). Node 1 serves node 2 with one relay
 * connection throughout. Latency is printed, not asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { playInBrowser } from '../helpers/browser.js';
import { ffmpegPublish, waitUntil } from '../helpers/live-fixtures.js';
import { startRedis } from '../helpers/redis.js';
import { startNode } from '../helpers/cluster-nodes.js';
import { launchWebRtcBrowser, waitPlay, webrtcPage } from '../helpers/webrtc.js';

test('hls.js (LL-HLS) and WHEP play on node 2 a stream published to node 1', { timeout: 150_000 }, async (t) => {
  const redis = await startRedis();
  const settings = { 'llhls.segmentTargetMs': 1000, 'llhls.partTargetMs': 500 };
  const n1 = await startNode(t, redis.url, 'node-1', settings);
  const n2 = await startNode(t, redis.url, 'node-2', settings);
  const pub = ffmpegPublish(n1.rtmpPort, 'secret', 80);
  let browser: Browser | null = null;
  t.after(async () => {
    pub.child.kill('SIGKILL');
    await browser?.close();
  });
  await waitUntil(() => n1.strom.live.status('cam1').video !== null, 'ffmpeg publishes to node 1', 15_000);
  browser = await launchWebRtcBrowser();

  const res = await playInBrowser(browser, { player: 'hls', src: `${n2.url}/live/cam1/master.m3u8`, hlsConfig: { lowLatencyMode: true }, untilTime: 6, timeoutMs: 60_000 });
  assert.deepEqual(res.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), [], `player errors: ${res.errors.join(', ')}`);
  assert.ok(res.currentTime >= 6, `played to ${res.currentTime}`);
  assert.equal(res.info.partList, true, 'hls.js saw EXT-X-PART');
  assert.ok(res.requests.some((u) => /index\.m3u8\?.*_HLS_msn=\d+/.test(u)), 'blocking playlist requests');
  assert.ok(res.requests.some((u) => /part_[0-9a-z]{8}_\d+\.m4s/.test(u)), 'parts fetched');
  assert.equal(n2.strom.live.status('cam1').originNode, 'node-1');
  assert.equal(n1.strom.live.status('cam1').viewers.relay, 1, 'one relay connection from node 2');
  console.log(`hls.js LL latency on node 2 (relayed from node 1): ${String(res.info.latency)} s`);

  const viewer = await webrtcPage(browser);
  t.after(() => viewer.close());
  await viewer.page.evaluate((u) => (window as unknown as { whepPlay: (u: string) => Promise<unknown> }).whepPlay(u), `${n2.url}/live/cam1/whep`);
  const s = await waitPlay(viewer.page, (x) => x.frames >= 30 && (x.stats.audio?.packetsReceived ?? 0) > 20, 'WHEP on node 2 decodes video and receives the bridged audio');
  assert.deepEqual(s.size, [320, 240]);
  assert.equal(n2.strom.live.status('cam1').viewers.whep, 1);
  assert.equal(n1.strom.live.status('cam1').viewers.relay, 1, 'still one relay connection');
});
