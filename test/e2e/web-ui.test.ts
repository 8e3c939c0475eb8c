/**
 * End to end through the web UI in headless Debian Chromium: sign in with a pasted
 * token, upload a generated clip through the page's file input and watch the library go
 * processing → ready, play it to the end, switch quality in the menu, play it signed, see the
 * dashboard move after traffic, create a live stream on the live page and watch what ffmpeg
 * publishes to the ingest URL the page shows, and check every page at phone width.
 * Screenshots of each page go to test-results/screenshots/ (gitignored).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildStrom, type Strom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import { launchBrowser } from '../helpers/browser.js';
import { makeClip } from '../helpers/vod-fixtures.js';
import { run } from '../helpers/live-fixtures.js';

const SHOTS = path.resolve('test-results/screenshots');
let strom: Strom;
let url: string;
let token: string;
let dir: string;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let clip: string;
let videoId = '';

type PlayerHook = { __stromPlayer?: { video: HTMLVideoElement; hls: { currentLevel: number; levels: { height: number }[] } | null } };

let loads = 0;
/** Load the app afresh on `route` (a query change forces a real navigation, not just a hash change). */
const open = (route: string) => page.goto(`${url}/?n=${++loads}#/${route}`);
const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
const api = (method: string, p: string, json?: unknown) => fetch(url + p, {
  method, headers: { authorization: `Bearer ${token}`, ...(json ? { 'content-type': 'application/json' } : {}) }, body: json ? JSON.stringify(json) : undefined,
});

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(path.join(tmpdir(), 'strom-web-'));
  strom = await buildStrom(testConfig({ dataDir: dir, 'rtmp.port': 0, 'srt.enabled': true, 'vod.ladder': '360:600,240:300', 'vod.preset': 'ultrafast' }));
  ({ url } = await strom.listen());
  // Stream keys created through the API resolve through the store, as wireLive does in the app
  // (without its static-key fallback), so ffmpeg can publish with the key the live page shows.
  strom.live.setResolver(async (key) => {
    const row = await strom.control.store.liveStreams.findLiveStreamByKey(key);
    return row ? { streamId: row.id } : null;
  });
  token = await signApiToken(strom.config, loadApiSecret(strom.config), { scopes: ['admin'], ttlS: 3600, sub: 'web-e2e' });
  clip = await makeClip(path.join(dir, 'clip.mp4'), { width: 640, height: 360, seconds: 4 });
  browser = await launchBrowser();
  ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await ctx.newPage();
});

after(async () => {
  await browser?.close();
  await strom?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('serves the UI: no-cache index naming hashed, immutable assets with their MIME types', async () => {
  const index = await fetch(`${url}/`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  const html = await index.text();
  const js = /src="(\/assets\/app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
  const css = /href="(\/assets\/style-[A-Z0-9]+\.css)"/.exec(html)?.[1];
  assert.ok(js && css, 'index.html names hashed app.js and style.css');
  const a = await fetch(url + js);
  assert.equal(a.status, 200);
  assert.match(a.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.match(a.headers.get('cache-control') ?? '', /immutable/);
  assert.match((await fetch(url + css)).headers.get('content-type') ?? '', /^text\/css/);
  assert.equal((await fetch(`${url}/assets/nope-123.js`)).status, 404);
});

test('sign-in refuses a bad token, accepts a good one and shows the library', async () => {
  await open('library');
  await page.locator('#token').fill('not-a-jwt');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText(/Not accepted/).waitFor();
  await shot('signin');
  await page.locator('#token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Library' }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('strom.token')), token);
});

test('uploads a file through the page; the library shows it processing, then ready', async () => {
  await open('upload');
  const created = page.waitForResponse((r) => r.url().endsWith('/api/v1/uploads') && r.request().method() === 'POST');
  await page.locator('#title').fill('Web upload');
  await page.setInputFiles('#file', clip);
  videoId = (await (await created).headerValue('strom-video-id')) ?? '';
  assert.match(videoId, /^[A-Za-z0-9_-]+$/);
  await page.locator('#upload-label', { hasText: 'Uploaded' }).waitFor({ timeout: 30_000 });
  assert.equal(await page.locator('#upload-progress').evaluate((e) => (e as HTMLProgressElement).value), 100);
  await page.locator('#process-label', { hasText: /Processing|Playable|Ready/ }).waitFor({ timeout: 60_000 });
  await shot('upload');

  await open('library');
  const card = page.locator(`li[data-video-id="${videoId}"]`);
  await card.waitFor();
  const seen = new Set<string>();
  for (;;) {
    const s = (await card.getAttribute('data-status')) ?? '';
    seen.add(s);
    if (s === 'ready' || s === 'errored') break;
    await page.waitForTimeout(100);
  }
  assert.equal(await card.getAttribute('data-status'), 'ready', 'the card turned ready');
  assert.ok(seen.has('processing') || seen.has('queued'), `the library showed it processing first (saw ${[...seen].join(', ')})`);
  await card.locator('img').waitFor(); // the poster
  assert.match(await card.locator('.duration').innerText(), /^0:0[34]$/);
  await shot('library');
});

test('the player plays the VOD to the end with CMCD on and a stats overlay', async () => {
  const media: string[] = [];
  const onReq = (r: { url(): string }) => void (r.url().includes(`/v/${videoId}/`) && media.push(r.url()));
  page.on('request', onReq);
  await open(`watch/${videoId}`);
  await page.waitForFunction(() => (window as unknown as PlayerHook).__stromPlayer?.video.ended === true, undefined, { timeout: 60_000, polling: 200 });
  page.off('request', onReq);
  const t = await page.evaluate(() => (window as unknown as PlayerHook).__stromPlayer!.video.currentTime);
  assert.ok(t > 3.5, `played to the end (currentTime ${t})`);
  assert.equal(await page.locator('.player + .error').isVisible(), false, 'no player error shown');
  assert.ok(media.some((u) => /\.m4s\?.*CMCD=/.test(u)), 'segment requests carry CMCD');
  assert.match(await page.locator('[data-stat="Rendition"]').innerText(), /\d+×\d+/);
  // Storyboard preview: hovering the seek bar shows a sprite tile from storyboard.vtt.
  await page.locator('#seek').hover({ position: { x: 40, y: 8 } });
  const tile = page.locator('.preview:not([hidden]) .tile');
  await tile.waitFor();
  assert.match((await tile.getAttribute('style')) ?? '', /storyboard\.jpg/);
  await shot('watch');
});

test('the quality menu switches hls.js to the chosen rendition and back to auto', async () => {
  await open(`watch/${videoId}`);
  const quality = page.getByLabel('Quality');
  await page.waitForFunction(() => (document.querySelector('#quality') as HTMLSelectElement | null)?.options.length === 3);
  // From the start and paused, so every switch has fragments left to load at the new level.
  const levels = await page.evaluate(() => {
    const p = (window as unknown as PlayerHook).__stromPlayer!;
    p.video.pause();
    p.video.currentTime = 0;
    return p.hls!.levels.map((l) => l.height);
  });
  assert.deepEqual([...levels].sort((a, b) => a - b), [240, 360]);
  for (const height of [240, 360]) {
    const idx = levels.indexOf(height);
    await quality.selectOption(String(idx));
    await page.waitForFunction((i) => (window as unknown as PlayerHook).__stromPlayer!.hls!.currentLevel === i && document.querySelector('.player')?.getAttribute('data-level') === String(i), idx, { timeout: 20_000 });
  }
  await quality.selectOption('-1');
  assert.equal(await page.evaluate(() => (window as unknown as { __stromPlayer: { hls: { autoLevelEnabled: boolean } } }).__stromPlayer.hls.autoLevelEnabled), true);
});

test('the watch page starts the player before the video API answers', async () => {
  // Hold the page's GET /api/v1/videos/<id> until the video is playing: the player must not wait for it.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let apiAnswered = false;
  await page.route(`**/api/v1/videos/${videoId}`, async (route) => {
    await held;
    apiAnswered = true;
    await route.continue();
  });
  try {
    await open(`watch/${videoId}`);
    await page.waitForFunction(() => ((window as unknown as PlayerHook).__stromPlayer?.video.currentTime ?? 0) > 0.5, undefined, { timeout: 30_000 });
    assert.equal(apiAnswered, false, 'playing while the API request is still held');
    release();
    await page.locator('h1').waitFor();
    await page.locator('.links a', { hasText: 'HLS' }).waitFor();
    assert.equal(await page.locator('.player').count(), 1, 'the speculative player is kept, not doubled');
    assert.equal(await page.locator('.player + .error').isVisible(), false);
  } finally {
    release();
    await page.unroute(`**/api/v1/videos/${videoId}`);
  }
});

test('a signed video plays through a playback token (/s/<token>/…)', async () => {
  assert.equal((await api('PATCH', `/api/v1/videos/${videoId}`, { visibility: 'signed' })).status, 200);
  assert.equal((await fetch(`${url}/v/${videoId}/master.m3u8`)).status, 403);
  const signed: string[] = [];
  const onReq = (r: { url(): string }) => void (r.url().includes('/s/') && signed.push(r.url()));
  page.on('request', onReq);
  await open(`watch/${videoId}`);
  await page.waitForFunction(() => ((window as unknown as PlayerHook).__stromPlayer?.video.currentTime ?? 0) > 1, undefined, { timeout: 30_000 });
  page.off('request', onReq);
  assert.ok(signed.some((u) => u.endsWith('/master.m3u8')), 'the master playlist came from /s/');
  // The public URL tried first (403) was dropped without a word.
  assert.equal(await page.locator('.player').count(), 1);
  assert.equal(await page.locator('.player + .error').isVisible(), false, 'no error from the speculative player');
  // The embed code of a signed video carries the page's playback token.
  await page.waitForFunction(() => (document.querySelector('#embed-code') as HTMLTextAreaElement | null)?.value.includes('?token=') === true);
  assert.equal((await api('PATCH', `/api/v1/videos/${videoId}`, { visibility: 'public' })).status, 200);
});

test('the watch page shows the embed code; autoplay, loop and start-at-current-time change it', async () => {
  await open(`watch/${videoId}`);
  const code = page.locator('#embed-code');
  await code.waitFor();
  const value = () => code.inputValue();
  assert.match(await value(), new RegExp(`^<iframe src="${url}/embed/${videoId}" width="640" height="360" frameborder="0" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen`));
  await page.getByLabel('Autoplay (muted)').check();
  await page.getByLabel('Loop').check();
  assert.match(await value(), /\?autoplay=1&amp;muted=1&amp;loop=1"/);
  await page.waitForFunction(() => ((window as unknown as PlayerHook).__stromPlayer?.video.currentTime ?? 0) > 0.2, undefined, { timeout: 30_000 });
  await page.evaluate(() => {
    const v = (window as unknown as PlayerHook).__stromPlayer!.video;
    v.pause();
    v.currentTime = 2.2;
  });
  await page.getByLabel('Start at the current time').check();
  assert.match(await value(), /&amp;start=2"/);
  await page.getByRole('button', { name: 'Copy embed code' }).click();
  await page.locator('.embed-card [aria-live]').filter({ hasText: /Copied|Ctrl\+C/ }).waitFor();
});

test('an upload pauses and resumes from where it stopped (tus)', async () => {
  // Slow uploads down so there is time to pause (Chrome DevTools network emulation, ~40 KB/s up).
  const cdp = await ctx.newCDPSession(page);
  await open('upload');
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 40 * 1024 });
  const patches: string[] = [];
  const onReq = (r: { method(): string; url(): string; headers(): Record<string, string> }) => void (r.method() === 'PATCH' && r.url().includes('/api/v1/uploads/') && patches.push(r.headers()['upload-offset'] ?? ''));
  page.on('request', onReq);
  try {
    const created = page.waitForResponse((r) => r.url().endsWith('/api/v1/uploads') && r.request().method() === 'POST');
    await page.setInputFiles('#file', clip);
    const id = (await (await created).headerValue('strom-video-id')) ?? '';
    await page.waitForFunction(() => (document.querySelector('#upload-progress') as HTMLProgressElement).value >= 5, undefined, { timeout: 30_000 });
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.locator('#upload-label', { hasText: 'Paused at' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Resume' }).getAttribute('aria-pressed'), 'true');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('#upload-label', { hasText: 'Uploaded' }).waitFor({ timeout: 30_000 });
    assert.equal(patches[0], '0');
    assert.ok(patches.length >= 2 && Number(patches.at(-1)) > 0, `the resumed PATCH starts past 0 (offsets ${patches.join(', ')})`);
    assert.equal((await api('DELETE', `/api/v1/videos/${id}`)).status, 204); // keep the library to one video
  } finally {
    page.off('request', onReq);
    await cdp.detach();
  }
});

test('dashboard numbers change after traffic', async () => {
  await open('dashboard');
  const requests = page.locator('#m-requests');
  await page.waitForFunction(() => /^\d+$/.test(document.querySelector('#m-requests')?.textContent ?? ''), undefined, { timeout: 10_000 });
  const before = Number(await requests.innerText());
  for (let i = 0; i < 30; i++) await (await fetch(`${url}/v/${videoId}/master.m3u8`)).arrayBuffer();
  await page.waitForFunction((b) => Number(document.querySelector('#m-requests')?.textContent) >= b + 30, before, { timeout: 10_000 });
  assert.match(await page.locator('#m-qps').innerText(), /^\d+(\.\d)?$/);
  assert.match(await page.locator('#m-p95').innerText(), /\d+(\.\d+)? m?s$/);
  assert.match(await page.locator('#m-videos').innerText(), /^1 \/ 1$/);
  await shot('dashboard');
});

test('the live page creates a stream, shows ingest settings, and plays what ffmpeg publishes', async () => {
  await open('live');
  await page.getByLabel('Stream title').fill('Web live');
  await page.getByRole('button', { name: 'Create live stream' }).click();
  const ingest = page.locator('#ingest-url');
  await ingest.waitFor();
  const rtmpUrl = await ingest.inputValue();
  assert.match(rtmpUrl, /^rtmp:\/\/127\.0\.0\.1:\d+\/live\/\S+$/);
  const srtPort = strom.live.srt!.port();
  assert.equal(await page.locator('#ingest-srt').inputValue(), `srt://127.0.0.1:${srtPort}?streamid=#!::r=${rtmpUrl.split('/').pop()},m=publish`);
  assert.match(await page.locator('#playback-srt').inputValue(), new RegExp(`^srt://127\\.0\\.0\\.1:${srtPort}\\?streamid=#!::r=ls_\\w+,m=request$`));
  assert.equal(await page.locator('#ingest-key').getAttribute('type'), 'password', 'the key is hidden until shown');
  await page.getByRole('button', { name: 'Show Stream key' }).click();
  assert.equal(await page.locator('#ingest-key').getAttribute('type'), 'text');
  const pub = run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-c:a', 'aac', '-t', '40', '-f', 'flv', rtmpUrl], 60_000);
  try {
    await page.locator('#live-state', { hasText: 'LIVE' }).waitFor({ timeout: 20_000 });
    await page.waitForFunction(() => ((window as unknown as PlayerHook).__stromPlayer?.video.currentTime ?? 0) > 1.5, undefined, { timeout: 30_000 });
    await page.locator('[data-stat="Latency to live edge"]', { hasText: /\d\.\d\d s/ }).waitFor();
    // Viewers and ingest bitrate from the per-stream gauges in /metrics (the page is one viewer).
    await page.locator('#live-bitrate', { hasText: /[kM]b\/s/ }).waitFor({ timeout: 10_000 });
    await page.waitForFunction(() => Number(document.querySelector('#live-viewers')?.textContent) >= 1, undefined, { timeout: 10_000 });
    // The latest keyframe from GET /live/<id>/thumbnail.jpg (320x240 source, under the width cap).
    await page.waitForFunction(() => document.querySelector<HTMLImageElement>('#live-thumb img:not([hidden])')?.naturalWidth === 320, undefined, { timeout: 10_000 });
    await shot('live');
    const streamId = new URL(page.url()).hash.split('/')[2] ?? '';
    await open('library');
    await page.locator(`li[data-stream-id="${streamId}"][data-status="live"] .badge.live`).waitFor({ timeout: 10_000 });
    await page.waitForFunction((id) => (document.querySelector<HTMLImageElement>(`li[data-stream-id="${id}"] .thumb img:not([hidden])`)?.naturalWidth ?? 0) > 0, streamId, { timeout: 10_000 });
    await shot('library-live');
  } finally {
    pub.child.kill('SIGINT');
    await pub.done;
  }
});

test('keyboard: the drop zone opens the file picker and the quality menu is reachable by Tab', async () => {
  await open('upload');
  await page.locator('#title').focus();
  await page.keyboard.press('Tab'); // → playback select
  await page.keyboard.press('Tab'); // → drop zone
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'dropzone');
  // Enter must open the picker: observe the click on the real file input (and keep the dialog shut).
  await page.evaluate(() => document.getElementById('file')!.addEventListener('click', (e) => {
    e.preventDefault();
    (window as unknown as { __picked: number }).__picked = ((window as unknown as { __picked?: number }).__picked ?? 0) + 1;
  }));
  await page.keyboard.press('Enter');
  await page.keyboard.press(' ');
  assert.equal(await page.evaluate(() => (window as unknown as { __picked?: number }).__picked), 2);

  await open(`watch/${videoId}`);
  await page.waitForFunction(() => !(document.querySelector('#quality') as HTMLSelectElement | null)?.disabled);
  const seen: string[] = [];
  for (let i = 0; i < 25 && !seen.includes('quality'); i++) {
    await page.keyboard.press('Tab');
    seen.push(await page.evaluate(() => document.activeElement?.id ?? ''));
  }
  assert.ok(seen.includes('seek') && seen.includes('quality'), `tab order reaches seek and quality: ${seen.join(',')}`);
});

test('every page fits a 375 px phone screen and labels its form controls', async () => {
  await page.setViewportSize({ width: 375, height: 740 });
  for (const route of ['library', 'upload', `watch/${videoId}`, 'live', 'dashboard']) {
    await open(route);
    await page.locator('main h1').waitFor();
    await page.waitForTimeout(300);
    const r = await page.evaluate(() => ({
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      widest: [...document.querySelectorAll('main *')].filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1).slice(-3).map((el) => el.outerHTML.slice(0, 100)),
      unlabelled: [...document.querySelectorAll('input, select, textarea, button')]
        .filter((el) => !(el as HTMLElement).hidden && !(el as HTMLInputElement).labels?.length && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby') && !(el.textContent ?? '').trim())
        .map((el) => el.outerHTML.slice(0, 80)),
    }));
    assert.ok(r.overflow <= 0, `#/${route} scrolls sideways by ${r.overflow}px at 375 px: ${r.widest.join(' | ')}`);
    assert.deepEqual(r.unlabelled, [], `#/${route} has unlabelled controls`);
    await shot(`phone-${route.split('/')[0]}`);
  }
});
