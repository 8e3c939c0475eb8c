/**
 * An SRT publisher (ffmpeg through libsrt, MPEG-TS without onMetaData) plays in hls.js in Chromium
 * as LL-HLS: the picture size comes from the SPS, so the init segment's sample entry is usable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, playInBrowser } from '../helpers/browser.js';
import { run, startLive, waitUntil } from '../helpers/live-fixtures.js';

test('ffmpeg publishes over SRT; hls.js plays the stream in low-latency mode', async (t) => {
  const h = await startLive({ 'srt.enabled': 'true', 'llhls.segmentTargetMs': '1000', 'llhls.partTargetMs': '500' });
  const srtPort = h.strom.live.srt!.port()!;
  const enc = run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-c:a', 'aac', '-t', '40', '-f', 'mpegts', `srt://127.0.0.1:${srtPort}?streamid=#!::r=secret,m=publish`], 60_000);
  const browser = await launchBrowser();
  t.after(async () => {
    enc.child.kill('SIGKILL');
    await browser.close();
    await h.close();
  });
  const reg = h.strom.live.registry;
  await waitUntil(() => reg.status('cam1').video !== null, 'the SRT stream is live with video', 15_000);
  assert.deepEqual([reg.status('cam1').video?.width, reg.status('cam1').video?.height], [320, 240], 'size from the SPS');
  const res = await playInBrowser(browser, { player: 'hls', src: `${h.httpUrl}/live/cam1/master.m3u8`, hlsConfig: { lowLatencyMode: true }, untilTime: 4, timeoutMs: 60_000 });
  assert.deepEqual(res.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), [], `hls.js errors: ${res.errors.join(', ')}; ${JSON.stringify(res.info)}`);
  assert.ok(res.currentTime >= 4, `played to ${res.currentTime}`);
});
