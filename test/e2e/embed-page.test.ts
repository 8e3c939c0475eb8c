/**
 * The embed player page `/embed/<id>` in headless Chromium:
 * - over HTTP/2 (self-signed certificate trusted by its SPKI hash), the 103 Early Hints before the
 *   page are used by Chromium: the master, the start variant's playlist, init and first segment show
 *   in the page's resource timing as fetched from the hints (`initiatorType: early-hints`), each
 *   fetched once, and the video plays;
 * - over HTTP/1.1 (no 103 there) the page's own preloads start the same requests, and it plays;
 * - a signed video plays only with a valid `?token=`; unknown ids and bad tokens get 404/403 pages;
 * - the page carries `frame-ancestors` and plays inside an iframe of another origin.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_ARGS } from '../helpers/browser.js';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { startStrom, type Running } from '../helpers/http-client.js';
import { spkiHash } from '../../src/http/tls-self-signed.js';

const VOD = 'embedvod1';
const SIGNED = 'v_embedSigned01';
let tlsStrom: Running;
let plain: Running;
let browser: Browser;

before(async () => {
  tlsStrom = await startStrom({ 'tls.selfSigned': true, 'rtmp.enabled': false, 'rateLimit.media.perMinute': 0 });
  plain = await startStrom({ 'rtmp.enabled': false, 'rateLimit.media.perMinute': 0, 'delivery.embedFrameAncestors': 'http://127.0.0.1:*' });
  for (const s of [tlsStrom, plain]) {
    await makeFixtureAsset({ dataDir: s.dataDir, id: VOD, seconds: 4 });
    await s.strom.control.store.videos.create({ id: VOD, title: 'Embedded <test>', status: 'ready' });
  }
  await makeFixtureAsset({ dataDir: plain.dataDir, id: SIGNED, seconds: 3 });
  await plain.strom.control.store.videos.create({ id: SIGNED, title: 'signed', visibility: 'signed', status: 'ready' });
  const spki = spkiHash(readFileSync(path.join(tlsStrom.dataDir, 'tls', 'self-signed.crt'), 'utf8'));
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${spki}`] });
});

after(async () => {
  await browser?.close();
  await tlsStrom?.stop();
  await plain?.stop();
});

interface Entry {
  name: string;
  initiatorType: string;
  nextHopProtocol: string;
}

/** Wait until the page's video has played past `seconds`; return its resource timing entries. */
async function playedEntries(page: Page, seconds = 1): Promise<Entry[]> {
  await page.waitForFunction((s) => {
    const v = document.querySelector('video');
    return v !== null && v.currentTime > s;
  }, seconds, { timeout: 30_000 });
  return page.evaluate(() => performance.getEntriesByType('resource').map((e) => {
    const r = e as PerformanceResourceTiming;
    return { name: r.name, initiatorType: r.initiatorType, nextHopProtocol: r.nextHopProtocol };
  }));
}

const pathOf = (u: string) => new URL(u).pathname;

test('over HTTP/2 the 103 Early Hints are used: master, start variant, init and first segment come from the hints, once each', async () => {
  const page = await browser.newPage();
  try {
    const res = await page.goto(`${tlsStrom.url}/embed/${VOD}?autoplay=1&muted=1`);
    assert.equal(res?.status(), 200);
    const entries = await playedEntries(page);
    const hinted = [`/v/${VOD}/master.m3u8`, `/v/${VOD}/v360/index.m3u8`, `/v/${VOD}/v360/init_0.mp4`, `/v/${VOD}/v360/seg_00000.m4s`];
    for (const p of hinted) {
      const mine = entries.filter((e) => pathOf(e.name) === p);
      assert.equal(mine.length, 1, `${p} fetched once: ${JSON.stringify(mine)}`);
      assert.equal(mine[0]!.initiatorType, 'early-hints', `${p} came from the 103`);
      assert.equal(mine[0]!.nextHopProtocol, 'h2');
    }
    assert.equal(await page.title(), 'Embedded <test>', 'the title is escaped into the page');
  } finally {
    await page.close();
  }
});

test('over HTTP/1.1 the page preloads the same objects and plays; no 103 is sent', async () => {
  const head = await new Promise<{ informational: number; csp: string | undefined; cache: string | undefined }>((resolve, reject) => {
    let informational = 0;
    const req = http.get(`${plain.url}/embed/${VOD}`, (r) => {
      r.resume();
      resolve({ informational, csp: r.headers['content-security-policy'] as string | undefined, cache: r.headers['cache-control'] });
    });
    req.on('information', () => informational++);
    req.on('error', reject);
  });
  assert.equal(head.informational, 0, 'browsers ignore 103 over HTTP/1.1: none is sent');
  assert.equal(head.csp, 'frame-ancestors http://127.0.0.1:*');
  assert.equal(head.cache, 'no-cache');
  const page = await browser.newPage();
  try {
    await page.goto(`${plain.url}/embed/${VOD}?autoplay=1&muted=1&start=1`);
    const entries = await playedEntries(page, 1.5);
    const master = entries.filter((e) => pathOf(e.name) === `/v/${VOD}/master.m3u8`);
    assert.equal(master.length, 1, 'the preloaded master is used by hls.js, not fetched again');
    assert.equal(master[0]!.initiatorType, 'link');
    // Autoplay pages come without native controls; they are switched on once playing.
    assert.equal(await page.locator('video').evaluate((v: HTMLVideoElement) => v.controls), true, 'controls on after the first frame');
  } finally {
    await page.close();
  }
});

test('controls: in the HTML without autoplay, added by the player with autoplay', async () => {
  const html = async (q: string) => (await fetch(`${plain.url}/embed/${VOD}${q}`)).text();
  assert.match(await html(''), /<video controls playsinline/);
  assert.match(await html('?autoplay=1'), /<video\s+playsinline/);
});

test('signed videos need a valid ?token=; unknown ids are 404 pages', async () => {
  const missing = await fetch(`${plain.url}/embed/nope_nope`);
  assert.equal(missing.status, 404);
  assert.match(missing.headers.get('content-type') ?? '', /^text\/html/);
  assert.equal((await fetch(`${plain.url}/embed/${SIGNED}`)).status, 403);
  assert.equal((await fetch(`${plain.url}/embed/${SIGNED}?token=forged.token.value`)).status, 403);
  const { token } = await plain.strom.control.tokens.sign(SIGNED, { ttlMs: 600_000 });
  const ok = await fetch(`${plain.url}/embed/${SIGNED}?token=${token}`);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('cache-control'), 'private, no-store');
  const html = await ok.text();
  assert.ok(html.includes(`/s/${token}/${SIGNED}/master.m3u8`), 'the page plays through the signed path');
  const page = await browser.newPage();
  try {
    await page.goto(`${plain.url}/embed/${SIGNED}?token=${token}&autoplay=1`);
    const entries = await playedEntries(page, 0.5);
    assert.ok(entries.some((e) => pathOf(e.name).startsWith(`/s/${token}/${SIGNED}/`)));
  } finally {
    await page.close();
  }
});

test('the page plays inside an iframe of another origin', async () => {
  const host = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><iframe id="f" allow="autoplay" width="640" height="360" src="${plain.url}/embed/${VOD}?autoplay=1"></iframe>`);
  });
  await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
  const page = await browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${(host.address() as AddressInfo).port}/`);
    const frame = await (await page.waitForSelector('#f')).contentFrame();
    assert.ok(frame !== null);
    await frame.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 0.5, undefined, { timeout: 30_000 });
  } finally {
    await page.close();
    await new Promise((resolve) => host.close(resolve));
  }
});
