/**
 * End to end: an asset made by `processVideo` is served by `buildStrom` and played to the end by
 * hls.js (master.m3u8) and dash.js (manifest.mpd) in headless Chromium — the same CMAF segments
 * through both manifests. A second run plays the HLS playlists while they are still EVENT
 * playlists (published early), then lets them turn VOD, as a player that started early would see.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { launchBrowser, playInBrowser } from '../helpers/browser.js';
import { startStrom, type Running } from '../helpers/http-client.js';
import { makeClip, scratch, vodTestConfig } from '../helpers/vod-fixtures.js';
import { processVideo } from '../../src/vod/process-video.js';

let browser: Browser;
let strom: Running;
const SECONDS = 5;

before(async () => {
  // Playlists of an asset still encoding change; VOD's long max-age would pin the EVENT version in
  // the browser cache (docs/VOD.md "Time to playable": delivery must not cache playlists without ENDLIST).
  strom = await startStrom({ 'delivery.playlistMaxAgeS': 0, 'delivery.metaTtlMs': 0 });
  const dir = scratch('e2e');
  const source = await makeClip(path.join(dir, 'src.mp4'), { width: 480, height: 270, seconds: SECONDS });
  const config = vodTestConfig({ 'vod.ladder': '240:300,144:150' });
  await processVideo({ source, assetsDir: path.join(strom.dataDir, 'assets'), tmpDir: path.join(strom.dataDir, 'tmp'), assetId: 'e2e1', config });
  await rm(dir, { recursive: true, force: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await strom?.stop();
});

test('hls.js plays the master playlist to the end', async () => {
  const r = await playInBrowser(browser, { player: 'hls', src: `${strom.url}/v/e2e1/master.m3u8`, untilEnded: true, timeoutMs: 60_000 });
  assert.deepEqual(r.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), []);
  assert.equal(r.ended, true, `ended (currentTime ${r.currentTime} of ${r.duration})`);
  assert.ok(Math.abs(r.duration - SECONDS) < 0.5, `duration ${r.duration}`);
  assert.ok(r.requests.some((u) => u.includes('/a128/seg_')), 'audio rendition requested');
});

test('dash.js plays the MPD to the end from the same segments', async () => {
  const r = await playInBrowser(browser, { player: 'dash', src: `${strom.url}/v/e2e1/manifest.mpd`, untilEnded: true, timeoutMs: 60_000 });
  assert.deepEqual(r.errors, []);
  assert.equal(r.ended, true, `ended (currentTime ${r.currentTime} of ${r.duration})`);
  assert.ok(r.requests.some((u) => /\/v\d+\/seg_\d{5}\.m4s$/.test(u)), 'video CMAF segments requested');
  assert.ok(r.requests.some((u) => u.includes('/a128/init.mp4')), 'audio init requested');
});

test('hls.js starts on EVENT playlists at the beginning and ends once they become VOD', async () => {
  // Rewrite the published playlists to the state an early viewer sees: two segments, no ENDLIST.
  const dir = path.join(strom.dataDir, 'assets', 'e2e1');
  const rungs = ['v240', 'v144', 'a128'];
  const finals = new Map<string, string>();
  for (const r of rungs) {
    const text = await readFile(path.join(dir, r, 'index.m3u8'), 'utf8');
    finals.set(r, text);
    const lines = text.split('\n');
    const firstSeg = lines.findIndex((l) => l.startsWith('#EXTINF'));
    const early = [...lines.slice(0, firstSeg), ...lines.slice(firstSeg, firstSeg + 4)].join('\n')
      .replace('PLAYLIST-TYPE:VOD', 'PLAYLIST-TYPE:EVENT').replace('#EXT-X-MAP', '#EXT-X-START:TIME-OFFSET=0,PRECISE=YES\n#EXT-X-MAP');
    await writeFile(path.join(dir, r, 'index.m3u8'), `${early}\n`);
  }
  // The "encode" finishes 1.5 s later: the same URLs now carry the complete VOD playlists.
  const finish = setTimeout(() => {
    for (const r of rungs) void writeFile(path.join(dir, r, 'index.m3u8'), finals.get(r)!);
  }, 1500);
  try {
    const r = await playInBrowser(browser, { player: 'hls', src: `${strom.url}/v/e2e1/master.m3u8?early`, untilEnded: true, timeoutMs: 60_000 });
    assert.deepEqual(r.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), []);
    assert.equal(r.ended, true, `ended (currentTime ${r.currentTime})`);
    assert.ok(r.currentTime > SECONDS - 0.5, `played from the start to the end: ${r.currentTime}`);
  } finally {
    clearTimeout(finish);
  }
});
