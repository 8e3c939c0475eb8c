/**
 * The slate with real players: ffmpeg publishes 4 s and stops; with a reconnect window the stream
 * stays live on the slate, and hls.js (LL-HLS, a discontinuity with a new init segment) and dash.js
 * (LL-DASH, a new Period) in Chromium keep playing past the end of the encoder's media without a
 * fatal error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { playInBrowser } from '../helpers/browser.js';
import { startPublishedLive } from '../helpers/live-fixtures.js';

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
