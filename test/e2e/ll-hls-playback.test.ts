/**
 * LL-HLS with real clients: ffmpeg publishes H.264 + AAC over RTMP; hls.js in Chromium plays
 * master.m3u8 in low-latency mode (it must see parts and send blocking `_HLS_msn` requests, and
 * reports its latency); ffprobe/ffmpeg read the plain-HLS view of the same segments.
 * Latency is printed, not asserted (no wall-clock assertions).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { playInBrowser } from '../helpers/browser.js';
import { run, startPublishedLive } from '../helpers/live-fixtures.js';

test('hls.js plays the live stream in low-latency mode; ffmpeg reads plain.m3u8', async (t) => {
  const { h, browser } = await startPublishedLive(t, { 'llhls.segmentTargetMs': 1000, 'llhls.partTargetMs': 500 });
  const base = `${h.httpUrl}/live/cam1`;

  const res = await playInBrowser(browser, { player: 'hls', src: `${base}/master.m3u8`, hlsConfig: { lowLatencyMode: true }, untilTime: 6, timeoutMs: 60_000 });
  assert.deepEqual(res.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), [], `player errors: ${res.errors.join(', ')}`);
  assert.ok(res.currentTime >= 6, `played to ${res.currentTime}`);
  assert.equal(res.info.live, true);
  assert.equal(res.info.partList, true, 'hls.js saw EXT-X-PART');
  assert.ok(res.requests.some((u) => /index\.m3u8\?.*_HLS_msn=\d+/.test(u)), 'blocking playlist requests');
  assert.ok(res.requests.some((u) => /part_[0-9a-z]{8}_\d+\.m4s/.test(u)), 'parts fetched');
  console.log(`hls.js LL latency: ${String(res.info.latency)} s; ${res.requests.filter((u) => u.includes('_HLS_msn')).length} blocking reloads`);

  const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `${base}/plain.m3u8`], 30_000).done;
  assert.equal(probe.code, 0, probe.stderr);
  assert.deepEqual([...new Set(probe.stdout.trim().split('\n').map((l) => l.trim()).filter(Boolean))].sort(), ['aac', 'h264']);
  const read = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', `${base}/plain.m3u8`, '-t', '3', '-f', 'null', '-'], 40_000).done;
  assert.equal(read.code, 0, read.stderr);
  assert.equal(read.stderr.trim(), '', 'ffmpeg decodes the plain view without errors');
});
