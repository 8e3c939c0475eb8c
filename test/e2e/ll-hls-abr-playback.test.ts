/**
 * Live ABR in a real player: ffmpeg publishes 320x240; Strom adds a 180p rendition with
 * one ffmpeg child; hls.js in Chromium loads the ABR master in low-latency mode, sees both levels,
 * starts on the 180p rendition (startLevel 0) and plays through its parts and blocking reloads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { playInBrowser } from '../helpers/browser.js';
import { startPublishedLive } from '../helpers/live-fixtures.js';

test('hls.js plays the live ABR master (source + 180p) in low-latency mode', { timeout: 150_000 }, async (t) => {
  const { h, browser } = await startPublishedLive(t, { 'live.abrAll': true, 'live.abrLadder': '180p', 'live.abrPreset': 'ultrafast', 'llhls.segmentTargetMs': 1000, 'llhls.partTargetMs': 500 }, 120);
  const base = `${h.httpUrl}/live/cam1`;
  // Start the muxers and wait until the master lists the rendition (the player reads the master once).
  for (let i = 0; i < 150; i++) {
    const r = await fetch(`${base}/master.m3u8`);
    if (r.status === 200 && (await r.text()).includes('180p/index.m3u8')) break;
    await sleep(200);
  }
  const res = await playInBrowser(browser, { player: 'hls', src: `${base}/master.m3u8`, hlsConfig: { lowLatencyMode: true, startLevel: 0 }, untilTime: 5, timeoutMs: 45_000 });
  assert.deepEqual(res.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), [], `player errors: ${res.errors.join(', ')}`);
  assert.ok(res.currentTime >= 5, `played to ${res.currentTime}`);
  assert.deepEqual([...(res.info.levels as number[])].sort((a, b) => a - b), [180, 240], 'two levels in the master');
  assert.equal(res.info.partList, true, 'hls.js saw EXT-X-PART');
  assert.ok(res.requests.some((u) => /\/180p\/index\.m3u8\?.*_HLS_msn=\d+/.test(u)), 'blocking reloads of the 180p rendition');
  assert.ok(res.requests.some((u) => /\/180p\/part_[0-9a-z]{8}_\d+\.m4s/.test(u)), '180p parts fetched');
  console.log(`hls.js ABR latency: ${String(res.info.latency)} s; levels requested: ${[...new Set(res.requests.filter((u) => u.includes('.m3u8')).map((u) => new URL(u).pathname))].join(' ')}`);
});
