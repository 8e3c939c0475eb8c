/**
 * The slate with real players: ffmpeg publishes 4 s and stops; with a reconnect window the stream
 * stays live on the slate, and hls.js (LL-HLS, a discontinuity with a new init segment) and dash.js
 * (LL-DASH, a new Period) in Chromium keep playing past the end of the encoder's media without a
 * fatal error; a WHEP viewer keeps decoding frames (the new SPS/PPS go in-band before the
 * slate's keyframe).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { playInBrowser } from '../helpers/browser.js';
import { ffmpegPublish, startLive, startPublishedLive, waitUntil } from '../helpers/live-fixtures.js';
import { within } from '../helpers/until.js';
import { launchWebRtcBrowser, waitPlay, webrtcPage } from '../helpers/webrtc.js';

const settings = { 'live.reconnectWindowS': '30', 'llhls.segmentTargetMs': '1000', 'llhls.partTargetMs': '500' };

test('hls.js and dash.js play on through the slate after the encoder stops', async (t) => {
  const { h, browser } = await startPublishedLive(t, settings, 4);
  const base = `${h.httpUrl}/live/cam1`;
  const reg = h.strom.live.registry;
  const hls = await playInBrowser(browser, { player: 'hls', src: `${base}/master.m3u8`, hlsConfig: { lowLatencyMode: true }, untilTime: 9, timeoutMs: 60_000 });
  assert.ok(reg.status('cam1').slate !== null, 'the encoder stopped: the slate is on');
  assert.deepEqual(hls.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), [], `hls.js errors: ${hls.errors.slice(0, 6).join(', ')}; ${JSON.stringify(hls.info)}`);
  assert.ok(hls.currentTime >= 9, `hls.js played to ${hls.currentTime} s (the encoder sent 4 s)`);
  const dash = await playInBrowser(browser, { player: 'dash', src: `${base}/manifest.mpd`, untilTime: 12, timeoutMs: 60_000 });
  assert.deepEqual(dash.errors, [], `dash.js errors: ${dash.errors.join(', ')}`);
  assert.ok(dash.currentTime >= 12, `dash.js played to ${dash.currentTime} s`);
  assert.equal(reg.status('cam1').state, 'active');
});

test('a WHEP viewer in Chromium keeps decoding frames through the slate', { timeout: 90_000 }, async (t) => {
  const h = await startLive(settings);
  let browser: Browser | null = null;
  const pub = ffmpegPublish(h.rtmpPort, 'secret', 40);
  t.after(async () => {
    pub.child.kill('SIGKILL');
    await browser?.close();
    await h.close();
  });
  const reg = h.strom.live.registry;
  await waitUntil(() => reg.status('cam1').video !== null, 'RTMP video in the hub', 15_000);
  browser = await launchWebRtcBrowser();
  const viewer = await webrtcPage(browser);
  await viewer.page.evaluate((u) => (window as unknown as { whepPlay: (u: string) => Promise<unknown> }).whepPlay(u), `${h.httpUrl}/live/cam1/whep`);
  const before = await waitPlay(viewer.page, (x) => x.frames >= 30, 'WHEP viewer decodes the encoder\'s video');
  const interrupted = reg.events.next('publish.interrupted');
  pub.child.kill('SIGKILL');
  await within(interrupted, 'publish.interrupted', 5_000);
  const during = await waitPlay(viewer.page, (x) => x.frames >= before.frames + 40, 'WHEP viewer decodes slate frames');
  assert.deepEqual(during.size, [320, 240], 'the slate has the stream\'s size');
  await viewer.close();
});
