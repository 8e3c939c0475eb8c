/**
 * Live recording → VOD with real clients: ffmpeg publishes 4 s of H.264 + AAC
 * with `live.recordAll` and nobody watching; when it stops, the recording is a ready video whose
 * master.m3u8 ffprobe reads (h264 + aac, duration ≈ what was published) and hls.js in Chromium
 * plays to the end without errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, playInBrowser } from '../helpers/browser.js';
import { ffmpegPublish, run, startLive } from '../helpers/live-fixtures.js';

test('a recorded live stream plays as VOD in hls.js and ffprobe reads it', async (t) => {
  const h = await startLive({ 'live.recordAll': true, 'llhls.segmentTargetMs': 1000, 'llhls.partTargetMs': 500 });
  const ready = new Promise<{ videoId: string; durationS?: number }>((resolve) => {
    const off = h.strom.bus.subscribe((e) => {
      if (e.type !== 'video.ready') return;
      off();
      resolve(e.data as { videoId: string; durationS?: number });
    });
  });
  const pub = ffmpegPublish(h.rtmpPort, 'secret', 4);
  const browser = await launchBrowser();
  t.after(async () => {
    pub.child.kill('SIGKILL');
    await browser.close();
    await h.close();
  });
  assert.equal((await pub.done).code, 0, 'ffmpeg published and exited');
  const { videoId, durationS } = await ready;
  assert.ok(durationS !== undefined && durationS >= 2.5 && durationS <= 4.5, `recorded ${durationS} s`);
  const src = `${h.httpUrl}/v/${videoId}/master.m3u8`;

  const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', src], 30_000).done;
  assert.equal(probe.code, 0, probe.stderr);
  assert.deepEqual([...new Set(probe.stdout.trim().split('\n').map((l) => l.trim()).filter(Boolean))].sort(), ['aac', 'h264']);

  const res = await playInBrowser(browser, { player: 'hls', src, untilEnded: true, timeoutMs: 60_000 });
  assert.deepEqual(res.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), [], `player errors: ${res.errors.join(', ')}`);
  assert.equal(res.ended, true, `played to the end (currentTime ${res.currentTime} of ${res.duration})`);
  assert.ok(Math.abs(res.duration - durationS) < 0.5, `player duration ${res.duration} ≈ ${durationS}`);
});
