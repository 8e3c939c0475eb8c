/**
 * End to end: a caption track uploaded through the API for an asset made by `processVideo` shows
 * in headless Chromium at the right time — hls.js through the SUBTITLES group and segmented
 * WebVTT (X-TIMESTAMP-MAP against the CMAF decode times), dash.js through the MPD's sidecar
 * WebVTT. A cue from 2.0 s becomes active when playback reaches 2.0 s, not before and not much after.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { launchBrowser, playInBrowser } from '../helpers/browser.js';
import { startStrom, type Running } from '../helpers/http-client.js';
import { makeClip, scratch, vodTestConfig } from '../helpers/vod-fixtures.js';
import { processVideo } from '../../src/vod/process-video.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';

let browser: Browser;
let strom: Running;
const ID = 'cap-e2e';
const VTT = 'WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nfirst\n\n00:00:02.000 --> 00:00:03.000\nHello Strom\n';

interface TrackInfo { kind: string; label: string; language: string; mode: string; cues: number; active: string[] }

before(async () => {
  strom = await startStrom({});
  const dir = scratch('e2e-cap');
  const source = await makeClip(path.join(dir, 'src.mp4'), { width: 480, height: 270, seconds: 5 });
  const config = vodTestConfig({ 'vod.ladder': '240:300,144:150' });
  await processVideo({ source, assetsDir: path.join(strom.dataDir, 'assets'), tmpDir: path.join(strom.dataDir, 'tmp'), assetId: ID, config });
  await rm(dir, { recursive: true, force: true });
  await strom.strom.control.store.videos.create({ id: ID, status: 'ready' });
  const token = await signApiToken(strom.strom.config, loadApiSecret(strom.strom.config), { scopes: ['videos:write'], ttlS: 600 });
  const r = await fetch(`${strom.url}/api/v1/videos/${ID}/captions?language=en&label=English&default=true`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/vtt' }, body: VTT });
  assert.equal(r.status, 201, await r.text());
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await strom?.stop();
});

test('hls.js: the subtitle track is listed and "Hello Strom" becomes active at 2.0 s', async () => {
  const r = await playInBrowser(browser, { player: 'hls', src: `${strom.url}/v/${ID}/master.m3u8`, untilCue: 'Hello Strom', timeoutMs: 30_000 });
  assert.deepEqual(r.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), []);
  assert.deepEqual(r.info.subtitleTracks, ['en:English']);
  const tracks = r.info.textTracks as TrackInfo[];
  const en = tracks.find((t) => t.language === 'en');
  assert.ok(en, JSON.stringify(tracks));
  assert.equal(en.mode, 'showing');
  assert.deepEqual(en.active, ['Hello Strom'], `active cues at ${r.currentTime} s: ${JSON.stringify(tracks)}`);
  assert.ok(r.currentTime >= 1.95 && r.currentTime < 2.6, `cue became active at ${r.currentTime} s`);
  assert.ok(r.requests.some((u) => /\/captions\/en_[0-9a-f]{8}\/seg_\d{5}\.vtt$/.test(u)), 'WebVTT segments requested');
});

test('dash.js: the MPD text track shows "Hello Strom" at 2.0 s', async () => {
  const r = await playInBrowser(browser, { player: 'dash', src: `${strom.url}/v/${ID}/manifest.mpd`, untilCue: 'Hello Strom', timeoutMs: 30_000 });
  assert.deepEqual(r.errors, []);
  const tracks = r.info.textTracks as TrackInfo[];
  const en = tracks.find((t) => t.language === 'en' && t.active.length > 0);
  assert.ok(en, `no active cue at ${r.currentTime} s: ${JSON.stringify(tracks)}`);
  assert.deepEqual(en.active, ['Hello Strom']);
  assert.ok(r.currentTime >= 1.95 && r.currentTime < 2.6, `cue became active at ${r.currentTime} s`);
  assert.ok(r.requests.some((u) => /\/captions\/en_[0-9a-f]{8}\.vtt$/.test(u)), 'sidecar WebVTT requested');
});

test('web UI: the watch page lists captions, uploads a SubRip file, and the player menu shows its cue; delete removes it', async () => {
  const token = await signApiToken(strom.strom.config, loadApiSecret(strom.strom.config), { scopes: ['admin'], ttlS: 600 });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await ctx.addInitScript((t) => localStorage.setItem('strom.token', t), token);
  const page = await ctx.newPage();
  try {
    await page.goto(`${strom.url}/#/watch/${ID}`);
    await page.getByRole('link', { name: 'English' }).waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => (document.querySelector('#captions') as HTMLSelectElement | null)?.options.length === 2, undefined, { timeout: 15_000 });
    await page.locator('form.caption-upload input[type=file]').setInputFiles({ name: 'pt.srt', mimeType: 'application/x-subrip', buffer: Buffer.from('1\r\n00:00:00,000 --> 00:00:04,500\r\nOlá Strom\r\n') });
    await page.getByLabel('Language (BCP 47)').fill('pt-BR');
    await page.getByRole('button', { name: 'Upload captions' }).click();
    await page.getByRole('link', { name: 'Brazilian Portuguese' }).waitFor({ timeout: 15_000 });
    // The player is reloaded with the new master: the menu offers off, English and Portuguese.
    await page.waitForFunction(() => (document.querySelector('#captions') as HTMLSelectElement | null)?.options.length === 3, undefined, { timeout: 15_000 });
    const labels = await page.locator('#captions option').allTextContents();
    assert.deepEqual(labels, ['Captions off', 'English', 'Brazilian Portuguese']);
    await page.selectOption('#captions', { label: 'Brazilian Portuguese' });
    await page.waitForFunction(() => {
      const v = document.querySelector('.player video') as HTMLVideoElement | null;
      return !!v && Array.from(v.textTracks).some((t) => t.mode === 'showing' && Array.from(t.activeCues ?? []).some((c) => (c as VTTCue).text === 'Olá Strom'));
    }, undefined, { timeout: 15_000 });
    await page.selectOption('#captions', { label: 'Captions off' });
    await page.waitForFunction(() => Array.from((document.querySelector('.player video') as HTMLVideoElement).textTracks).every((t) => t.mode !== 'showing'), undefined, { timeout: 5000 });
    await page.getByRole('button', { name: 'Delete Brazilian Portuguese captions' }).click();
    await page.getByRole('link', { name: 'Brazilian Portuguese' }).waitFor({ state: 'detached', timeout: 15_000 });
  } finally {
    await ctx.close();
  }
});
