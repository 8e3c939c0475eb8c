/**
 * The live page's Restream card in headless Chromium: add an output pointing at a second Strom,
 * watch it go live while ffmpeg publishes, check that the key never appears on the page, and
 * remove it. Screenshot in test-results/screenshots/restream.png (gitignored).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import { launchBrowser } from '../helpers/browser.js';
import { ffmpegPublish, startLive, waitUntil } from '../helpers/live-fixtures.js';

const KEY = 'dst_Ui5xLmw0pQr7734';

test('the Restream card adds an output, shows it live with a masked key, and removes it', async (t) => {
  const b = await startLive({ 'live.staticKeys': `dest1:${KEY}` });
  t.after(() => b.close());
  const a = await startLive();
  t.after(() => a.close());
  const token = await signApiToken(a.strom.config, loadApiSecret(a.strom.config), { scopes: ['admin'], ttlS: 600 });
  const res = await fetch(`${a.httpUrl}/api/v1/live-streams`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"title":"restream ui"}' });
  const stream = await res.json() as { id: string; streamKey: string };
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.addInitScript((tk) => localStorage.setItem('strom.token', tk), token);
  await page.goto(`${a.httpUrl}/#/live/${stream.id}`);

  await page.getByRole('heading', { name: 'Restream', exact: true }).waitFor();
  await page.locator('#outputs li.empty').waitFor();
  await page.locator('#output-name').fill('Strom B');
  await page.locator('#output-url').fill(`rtmp://127.0.0.1:${b.rtmpPort}/live`);
  await page.locator('#output-key').fill(KEY);
  await page.getByRole('button', { name: 'Add output' }).click();
  const item = page.locator('#outputs li[data-output]');
  await item.waitFor();
  assert.match(await item.innerText(), new RegExp(`rtmp://127\\.0\\.0\\.1:${b.rtmpPort}/live/••••7734`));
  assert.equal(await page.locator('#output-key').inputValue(), '', 'the form is cleared');

  const pub = ffmpegPublish(a.rtmpPort, stream.streamKey, 20);
  t.after(() => pub.child.kill('SIGKILL'));
  await page.locator('#outputs .badge[data-state="live"]').waitFor({ timeout: 20_000 });
  await waitUntil(() => b.strom.live.registry.active('dest1') !== null, 'B has the stream', 10_000);
  await page.locator('#outputs li[data-output]', { hasText: /[KM]B sent/ }).waitFor({ timeout: 10_000 });
  mkdirSync(path.resolve('test-results/screenshots'), { recursive: true });
  await page.screenshot({ path: path.resolve('test-results/screenshots/restream.png'), fullPage: true });
  assert.ok(!(await page.content()).includes(KEY), 'the key is not on the page');

  await page.getByRole('button', { name: /^Remove / }).click();
  await page.locator('#outputs li.empty').waitFor();
  await waitUntil(() => b.strom.live.registry.active('dest1') === null, 'B loses the stream once the output is removed', 10_000);
});
