/**
 * oEmbed (oembed.com §2) on one server: the JSON answer for watch-page and embed-page URLs, sizes
 * within maxwidth/maxheight, the errors the spec lists, signed videos (token carried into the
 * iframe and thumbnail), discovery from the embed page, and the answer's `html` pasted into a page
 * of another origin playing the video in Chromium.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { startStrom, type Running } from '../helpers/http-client.js';

const VOD = 'oembedvod1';
const SIGNED = 'v_oembedSigned1';
let strom: Running;
let browser: Browser;

interface OEmbed {
  type: string; version: string; title: string; provider_name: string; provider_url: string; html: string;
  width: number; height: number; thumbnail_url: string; thumbnail_width: number; thumbnail_height: number; duration?: number;
}

before(async () => {
  strom = await startStrom({ 'rtmp.enabled': false, 'rateLimit.media.perMinute': 0, 'delivery.embedFrameAncestors': 'http://127.0.0.1:*', 'delivery.oembedProviderName': 'Test Videos' });
  const { store } = strom.strom.control;
  for (const [id, visibility] of [[VOD, 'public'], [SIGNED, 'signed']] as const) {
    await makeFixtureAsset({ dataDir: strom.dataDir, id, seconds: 4 });
    await store.videos.create({ id, title: `Title of ${id}`, status: 'ready', visibility });
    await store.videos.update(id, { width: 1280, height: 720, durationS: 4, playable: true });
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await strom?.stop();
});

const oembed = (q: string) => fetch(`${strom.url}/oembed?${q}`);
const u = (s: string) => encodeURIComponent(s);

test('a watch-page URL gets a video answer: iframe of the embed page, size, title, provider, thumbnail, duration', async () => {
  const res = await oembed(`url=${u(`${strom.url}/#/watch/${VOD}`)}&format=json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const o = await res.json() as OEmbed;
  assert.equal(o.type, 'video');
  assert.equal(o.version, '1.0');
  assert.equal(o.title, `Title of ${VOD}`);
  assert.equal(o.provider_name, 'Test Videos');
  assert.deepEqual([o.width, o.height], [640, 360]);
  assert.equal(o.html, `<iframe src="${strom.url}/embed/${VOD}" width="640" height="360" frameborder="0" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen title="Title of ${VOD}"></iframe>`);
  assert.equal(o.thumbnail_url, `${strom.url}/v/${VOD}/poster.jpg`);
  assert.deepEqual([o.thumbnail_width, o.thumbnail_height], [1280, 720]);
  assert.equal(o.duration, 4);
  assert.equal((await fetch(o.thumbnail_url)).status, 200);
});

test('maxwidth and maxheight bound the size, keeping the aspect ratio', async () => {
  const size = async (q: string) => {
    const o = await (await oembed(`url=${u(`${strom.url}/embed/${VOD}`)}${q}`)).json() as OEmbed;
    return [o.width, o.height];
  };
  assert.deepEqual(await size('&maxwidth=320'), [320, 180]);
  assert.deepEqual(await size('&maxwidth=1000&maxheight=100'), [177, 100]);
  assert.deepEqual(await size('&maxwidth=4000'), [640, 360]);
});

test('errors: 400 without a usable url, 404 for foreign or unknown pages, 501 for xml', async () => {
  const status = async (q: string) => (await oembed(q)).status;
  assert.equal(await status('format=json'), 400);
  assert.equal(await status(`url=${u('not a url')}`), 400);
  assert.equal(await status(`url=${u(`${strom.url}/embed/${VOD}`)}&maxwidth=-5`), 400);
  assert.equal(await status(`url=${u(`https://elsewhere.example/embed/${VOD}`)}`), 404);
  assert.equal(await status(`url=${u(`${strom.url}/#/library`)}`), 404);
  assert.equal(await status(`url=${u(`${strom.url}/embed/nope_nope`)}`), 404);
  const xml = await oembed(`url=${u(`${strom.url}/embed/${VOD}`)}&format=xml`);
  assert.equal(xml.status, 501);
  assert.match((await xml.json() as { error: { message: string } }).error.message, /format "xml" is not implemented/);
});

test('signed videos: 401 without a token, 403 with a bad one, the token carried through with a good one', async () => {
  assert.equal((await oembed(`url=${u(`${strom.url}/embed/${SIGNED}`)}`)).status, 401);
  assert.equal((await oembed(`url=${u(`${strom.url}/embed/${SIGNED}?token=forged.token.value`)}`)).status, 403);
  const { token } = await strom.strom.control.tokens.sign(SIGNED, { ttlMs: 600_000 });
  const res = await oembed(`url=${u(`${strom.url}/#/watch/${SIGNED}?token=${token}`)}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cache-control'), 'private, no-store');
  const o = await res.json() as OEmbed;
  assert.ok(o.html.includes(`src="${strom.url}/embed/${SIGNED}?token=${token}"`), o.html);
  assert.equal(o.thumbnail_url, `${strom.url}/s/${token}/${SIGNED}/poster.jpg`);
  assert.equal((await fetch(o.thumbnail_url)).status, 200);
});

test('the embed page links its oEmbed endpoint (discovery)', async () => {
  const html = await (await fetch(`${strom.url}/embed/${VOD}`)).text();
  const href = /<link rel="alternate" type="application\/json\+oembed" href="([^"]+)"/.exec(html)?.[1];
  assert.ok(href, 'discovery link present');
  const res = await fetch(href.replaceAll('&#38;', '&'));
  assert.equal(res.status, 200);
  assert.equal((await res.json() as OEmbed).title, `Title of ${VOD}`);
});

test('the oEmbed html pasted into a page of another origin plays the video', async () => {
  const o = await (await oembed(`url=${u(`${strom.url}/embed/${VOD}`)}`)).json() as OEmbed;
  const host = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>host</title>${o.html}`));
  await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
  const page = await browser.newPage();
  try {
    // Another port is another origin (RFC 6454 §4): the iframe is cross-origin to the page.
    await page.goto(`http://127.0.0.1:${(host.address() as AddressInfo).port}/`);
    const frame = await (await page.waitForSelector('iframe')).contentFrame();
    assert.ok(frame !== null);
    assert.notEqual(new URL(frame.url()).origin, new URL(page.url()).origin);
    await frame.waitForFunction(() => {
      const v = document.querySelector('video');
      if (v === null) return false;
      if (v.paused && v.readyState >= 2) void v.play().catch(() => undefined);
      return v.currentTime > 0.5;
    }, undefined, { timeout: 30_000, polling: 100 });
  } finally {
    await page.close();
    await new Promise((resolve) => host.close(resolve));
  }
});
