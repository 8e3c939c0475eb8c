/**
 * LL-DASH with real clients: ffmpeg publishes H.264 + AAC over RTMP (1 s GOP = segment target);
 * dash.js in Chromium plays /live/cam1/manifest.mpd in low-latency mode (liveDelay 2 s, catch-up
 * on), syncing its clock on Strom's UTCTiming endpoint, with no errors and currentTime advancing.
 * Latency is printed, not asserted (no wall-clock assertions).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { playInBrowser } from '../helpers/browser.js';
import { startPublishedLive } from '../helpers/live-fixtures.js';

test('dash.js plays the LL-DASH stream', async (t) => {
  const { h, browser } = await startPublishedLive(t, { 'llhls.segmentTargetMs': 1000, 'llhls.partTargetMs': 500 });
  const src = `${h.httpUrl}/live/cam1/manifest.mpd`;
  const dashSettings = { streaming: { delay: { liveDelay: 2 }, liveCatchup: { enabled: true } } };
  const res = await playInBrowser(browser, { player: 'dash', src, dashSettings, untilTime: 4, timeoutMs: 60_000 });
  assert.deepEqual(res.errors, [], `player errors: ${res.errors.join(', ')}`);
  assert.ok(res.currentTime >= 4, `currentTime advanced to ${res.currentTime}`);
  // The MPD's first UTCTiming (urn:mpeg:dash:utc:direct:2014) carries the time: no extra request before the first segment.
  assert.ok(!res.requests.some((u) => u.endsWith('/live/time')), 'clock synced from the MPD itself, not the http-iso endpoint');
  assert.ok(res.requests.some((u) => /seg_[0-9a-z]{8}_\d+\.m4s$/.test(u)), 'segments fetched');
  console.log(`dash.js LL-DASH: currentTime ${res.currentTime}; info ${JSON.stringify(res.info)}`);
});
