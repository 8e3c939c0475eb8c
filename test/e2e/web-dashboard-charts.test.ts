/**
 * The dashboard's 15-minute charts in headless Chromium: with the server sampling every 200 ms
 * and traffic running (playlist and segment requests, CMCD sessions with a startup and a
 * rebuffer), every chart renders a uPlot canvas of non-zero size with its series drawn, a
 * screenshot of the page is a real PNG, the charts follow the page down to phone width, and a
 * token without the admin scope gets a clear empty state instead of charts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildStrom, type Strom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import { launchBrowser } from '../helpers/browser.js';

const CHARTS = ['rps', 'latency', 'errors', 'viewers', 'ingest', 'startup', 'rebuffer'];
const VIDEO = 'chartVideo1';
let strom: Strom;
let url: string;
let dir: string;
let browser: Browser;
let page: Page;
let traffic: Promise<void> | null = null;
let stopTraffic = false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cmcd = (v: string) => `CMCD=${encodeURIComponent(v)}`;
const get = async (p: string) => void (await (await fetch(url + p)).arrayBuffer());

/** Requests and CMCD playback sessions until stopped: each session starts up in ~150 ms and rebuffers ~200 ms. */
async function runTraffic(): Promise<void> {
  for (let n = 0; !stopTraffic; n++) {
    const sid = `sid="chart-${n}"`;
    await get(`/v/${VIDEO}/master.m3u8?${cmcd(`${sid},su`)}`);
    await sleep(150);
    await get(`/v/${VIDEO}/v1/seg_00001.m4s?${cmcd(`${sid},br=600,ot=v`)}`);
    await get(`/v/${VIDEO}/v1/seg_00001.m4s?${cmcd(`${sid},br=600,ot=v,bs`)}`);
    await sleep(200);
    await get(`/v/${VIDEO}/v1/seg_00001.m4s?${cmcd(`${sid},br=600,ot=v`)}`);
    for (let i = 0; i < 5; i++) await get(`/v/${VIDEO}/master.m3u8`);
  }
}

/** Sign in with `token` through `#token=` and open the dashboard. */
async function openDashboard(token: string): Promise<void> {
  await page.goto(`${url}/?n=${Date.now()}#token=${token}`);
  await page.goto(`${url}/?n=${Date.now()}#/dashboard`);
  await page.locator('#charts figure').first().waitFor();
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'strom-charts-'));
  const rendition = path.join(dir, 'assets', VIDEO, 'v1');
  mkdirSync(rendition, { recursive: true });
  writeFileSync(path.join(dir, 'assets', VIDEO, 'master.m3u8'), '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=600000\nv1/index.m3u8\n');
  writeFileSync(path.join(rendition, 'seg_00001.m4s'), Buffer.alloc(32 * 1024, 7));
  strom = await buildStrom(testConfig({ dataDir: dir, 'rtmp.enabled': false, 'metrics.historyIntervalMs': 200 }));
  ({ url } = await strom.listen());
  browser = await launchBrowser();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  traffic = runTraffic();
});

after(async () => {
  stopTraffic = true;
  await traffic;
  await browser?.close();
  await strom?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the dashboard draws every 15-minute chart from the server history', async () => {
  await openDashboard(await signApiToken(strom.config, loadApiSecret(strom.config), { scopes: ['admin'], ttlS: 600, sub: 'charts-e2e' }));
  await page.waitForFunction((ids) => ids.every((id) => Number(document.querySelector(`#chart-${id}`)?.getAttribute('data-points')) >= (id === 'startup' || id === 'rebuffer' ? 3 : 15)), CHARTS, { timeout: 30_000, polling: 200 });

  const file = path.join(dir, 'dashboard-charts.png');
  await page.locator('#charts').scrollIntoViewIfNeeded();
  await page.screenshot({ path: file, fullPage: true });
  const png = readFileSync(file);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(png.readUInt32BE(16), 1280, 'full page width');
  assert.ok(png.readUInt32BE(20) > 900, `full page height ${png.readUInt32BE(20)}`);
  assert.ok(png.length > 50_000, `a non-trivial image (${png.length} bytes)`);
  mkdirSync('test-results/screenshots', { recursive: true });
  copyFileSync(file, 'test-results/screenshots/dashboard-charts.png'); // kept for people to look at

  for (const id of CHARTS) {
    const fig = page.locator(`#chart-${id}`);
    assert.ok(await fig.isVisible(), `#chart-${id} is visible`);
    assert.ok(await fig.locator('.plot[role="img"]').getAttribute('aria-label'), `#chart-${id} has an aria label`);
    assert.equal(await fig.locator('.chart-empty').isVisible(), false, `#chart-${id} shows no empty state`);
    // uPlot's canvas: a real size, and pixels in one of the series colours (axes and grid use others).
    const drawn = await fig.locator('canvas').evaluate((c: HTMLCanvasElement) => {
      const colours = ['--accent', '--warn', '--ok', '--bad'].map((v) => getComputedStyle(document.documentElement).getPropertyValue(v).trim()).concat('#b48cff')
        .map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
      const px = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let series = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i + 3]! > 200 && colours.some(([r, g, b]) => Math.abs(px[i]! - r!) + Math.abs(px[i + 1]! - g!) + Math.abs(px[i + 2]! - b!) < 40)) series++;
      return { width: c.width, height: c.height, series };
    });
    assert.ok(drawn.width > 200 && drawn.height > 100, `#chart-${id} canvas ${drawn.width}×${drawn.height}`);
    assert.ok(drawn.series > 20, `#chart-${id} has its series drawn (${drawn.series} pixels)`);
  }
  assert.match(await page.locator('#chart-rps .now').innerText(), /^\d+(\.\d)?$/);
  assert.match(await page.locator('#chart-startup .now').innerText(), /\d+ ms$/);
});

test('the charts follow the page down to phone width', async () => {
  await page.setViewportSize({ width: 375, height: 740 });
  await page.waitForFunction(() => [...document.querySelectorAll('#charts canvas')].every((c) => c.getBoundingClientRect().right <= window.innerWidth), undefined, { timeout: 5_000 });
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scroll');
  await page.screenshot({ path: 'test-results/screenshots/dashboard-charts-phone.png', fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
});

test('without the admin scope the charts say why they are empty', async () => {
  await openDashboard(await signApiToken(strom.config, loadApiSecret(strom.config), { scopes: ['videos:read'], ttlS: 600 }));
  const empty = page.locator('#chart-rps .chart-empty');
  await empty.filter({ hasText: 'admin scope' }).waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('#chart-latency').getAttribute('data-points'), '0');
});
