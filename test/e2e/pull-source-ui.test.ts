/**
 * The web UI with a pulled source, in headless Chromium: the Live page's form creates a stream from
 * an RTSP camera URL with credentials (GStreamer's RTSP server library as the camera), the stream
 * page shows the masked URL and the source's state instead of the ingest settings, "Watch" connects
 * the on-demand source and the preview plays; the password never appears on the page.
 * Screenshot in test-results/screenshots/pull-source.png (gitignored).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import { launchBrowser } from '../helpers/browser.js';
import { startLive } from '../helpers/live-fixtures.js';
import { camera, cameraMissing } from '../helpers/rtsp-camera.js';

const PASSWORD = 'cam-Pw-5ecret77';

test('the web UI creates a stream from a camera URL, shows its source state, and plays it on demand', { skip: cameraMissing, timeout: 120_000 }, async (t) => {
  const cam = await camera(['--user', 'viewer', '--password', PASSWORD]);
  t.after(() => cam.child.kill('SIGKILL'));
  const a = await startLive();
  t.after(() => a.close());
  const token = await signApiToken(a.strom.config, loadApiSecret(a.strom.config), { scopes: ['admin'], ttlS: 600 });
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.addInitScript((tk) => localStorage.setItem('strom.token', tk), token);
  await page.goto(`${a.httpUrl}/#/live`);

  await page.locator('#live-title').fill('Gate camera');
  await page.locator('#live-source').fill(`rtsp://viewer:${PASSWORD}@127.0.0.1:${cam.port}/cam`);
  await page.getByRole('button', { name: 'Create live stream' }).click();
  await page.locator('#source-h').waitFor();
  assert.match(await page.locator('#source-url').inputValue(), new RegExp(`^rtsp://••••@127\\.0\\.0\\.1:${cam.port}/cam$`));
  assert.equal(await page.locator('#source-state').textContent(), 'idle', 'nothing connects before someone watches');
  assert.equal(await page.locator('#ingest-h').count(), 0, 'no publisher settings for a pulled stream');
  const id = decodeURIComponent(new URL(page.url()).hash.split('/')[2]!);
  assert.equal(a.strom.live.registry.active(id), null);

  await page.getByRole('button', { name: 'Watch (connects the source)' }).click();
  await page.waitForFunction(() => {
    const v = document.querySelector('.stage video');
    return v instanceof HTMLVideoElement && v.currentTime > 1;
  }, undefined, { timeout: 30_000 });
  await page.locator('#source-state', { hasText: 'live' }).waitFor({ timeout: 10_000 });
  mkdirSync(path.resolve('test-results/screenshots'), { recursive: true });
  await page.screenshot({ path: path.resolve('test-results/screenshots/pull-source.png'), fullPage: true });
  assert.ok(!(await page.content()).includes(PASSWORD), 'the camera password is not on the page');
  assert.equal((await a.strom.pull.status(id))?.protocol, 'rtsp');
});
