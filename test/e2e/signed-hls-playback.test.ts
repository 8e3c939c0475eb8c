/**
 * End to end: a whole signed HLS asset (fMP4 ladder packaged by ffmpeg) played by hls.js in
 * headless Chromium through a `/s/<token>/` URL obtained from the API — every playlist, init and
 * media segment request carries the token via relative URIs — and refused without a token.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { launchBrowser, playInBrowser } from '../helpers/browser.js';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { buildStrom, type Strom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';

let browser: Browser;
let strom: Strom;
let url: string;
let dataDir: string;
const ID = 'v_signedE2E00001';

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'strom-signed-e2e-'));
  await makeFixtureAsset({ dataDir, id: ID, seconds: 3 });
  strom = await buildStrom(testConfig({ dataDir, 'rtmp.enabled': false }));
  await strom.control.store.videos.create({ id: ID, title: 'signed', visibility: 'signed', status: 'ready' });
  url = (await strom.listen()).url;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await strom?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('hls.js plays a signed asset to the end with a playback token from the API', async () => {
  const apiToken = await signApiToken(strom.config, loadApiSecret(strom.config), { scopes: ['videos:read'], ttlS: 300 });
  const res = await fetch(`${url}/api/v1/videos/${ID}/playback-token`, { method: 'POST', headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' }, body: '{"ttlS": 600}' });
  assert.equal(res.status, 200);
  const { token, playback } = (await res.json()) as { token: string; playback: { hls: string } };
  const r = await playInBrowser(browser, { player: 'hls', src: url + playback.hls, untilEnded: true, timeoutMs: 60_000 });
  assert.deepEqual(r.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), []);
  assert.equal(r.ended, true, `ended (currentTime ${r.currentTime} of ${r.duration})`);
  const media = r.requests.filter((u) => u.startsWith(url));
  assert.ok(media.some((u) => /\/init[^/]*\.mp4$/.test(u)) && media.some((u) => u.endsWith('.m4s')), `init and media segments requested: ${r.requests.join(' ')}`);
  assert.ok(media.every((u) => u.startsWith(`${url}/s/${token}/${ID}/`)), 'every derived URL carries the token');
});

test('hls.js is refused the same asset without a token', async () => {
  const r = await playInBrowser(browser, { player: 'hls', src: `${url}/v/${ID}/master.m3u8`, untilTime: 1, timeoutMs: 8_000 });
  assert.ok(r.errors.some((e) => e.includes('manifestLoadError') && e.includes('fatal')), `errors: ${r.errors.join(', ')}`);
  assert.equal(r.ended, false);
  assert.ok(r.currentTime < 0.5);
});
