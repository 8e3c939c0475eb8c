/**
 * End to end, content protection (docs/VOD.md "Content protection"): a clip uploaded with
 * `protection: "aes-128"` (signed) and one with `"cenc"` are transcoded by real ffmpeg; hls.js in
 * Chromium plays the AES-128 one to the end through its token and is refused the key without it;
 * hls.js and dash.js play the cbcs one through EME with Strom's ClearKey license; ffmpeg cannot
 * decode the published (encrypted) segments, while the same bytes decrypted with the served keys
 * decode. One server for the whole file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { buildStrom, type Strom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import { decryptSegment } from '../../src/vod/protection/aes-128.js';
import { launchBrowser, playInBrowser } from '../helpers/browser.js';
import { makeClip, scratch } from '../helpers/vod-fixtures.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
let strom: Strom;
let browser: Browser;
let url: string;
let dataDir: string;
let apiToken: string;
let aesId: string;
let cencId: string;

async function upload(file: string, fields: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([readFileSync(file)], { type: 'video/mp4' }), 'clip.mp4');
  const res = await fetch(`${url}/api/v1/video/upload`, { method: 'POST', headers: { authorization: `Bearer ${apiToken}` }, body: form });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function api(p: string, init: RequestInit = {}): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${p}`, { ...init, headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' } });
  return (await res.json()) as Record<string, unknown>;
}

async function ready(id: string): Promise<Record<string, unknown>> {
  let v: Record<string, unknown> = {};
  await until(async () => {
    v = await api(`/api/v1/videos/${id}`);
    if (v.status === 'errored') throw new Error(`transcode failed: ${JSON.stringify(v.error)}`);
    return v.status === 'ready';
  }, `video ${id} ready`, 120_000, 200);
  return v;
}

/** ffmpeg decoding `file`: frames decoded and whether it complained. */
async function decode(file: string): Promise<{ frames: number; errors: boolean }> {
  const r = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', file, '-map', '0:v:0', '-f', 'null', '-', '-progress', 'pipe:1']).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: `${err.stderr ?? ''} (exit ≠ 0)` }));
  const frames = Number(/frame=(\d+)/g.exec(r.stdout.split('\n').filter((l) => l.startsWith('frame=')).at(-1) ?? '')?.[1] ?? 0);
  return { frames, errors: r.stderr.trim() !== '' };
}

before(async () => {
  dataDir = scratch('protection-e2e');
  strom = await buildStrom(testConfig({ dataDir, 'rtmp.enabled': false, 'vod.ladder': '180:300', 'vod.preset': 'ultrafast', 'vod.segmentSeconds': 2, 'vod.protectionKeyRotationSegments': 2, 'jobs.pollMs': 100 }));
  url = (await strom.listen()).url;
  apiToken = await signApiToken(strom.config, loadApiSecret(strom.config), { scopes: ['videos:read', 'videos:write'], ttlS: 600, sub: 'e2e' });
  browser = await launchBrowser();
  const clip = await makeClip(path.join(dataDir, 'clip.mp4'), { width: 320, height: 180, seconds: 10 });
  const up = await upload(clip, { title: 'aes', visibility: 'signed', protection: 'aes-128' });
  assert.equal(up.status, 201, JSON.stringify(up.body));
  assert.equal(up.body.protection, 'aes-128');
  aesId = String(up.body.id);
  const up2 = await upload(clip, { title: 'cenc', protection: 'cenc' });
  assert.equal(up2.status, 201, JSON.stringify(up2.body));
  cencId = String(up2.body.id);
  await ready(aesId);
  await ready(cencId);
});

after(async () => {
  await browser?.close();
  await strom?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('an invalid protection value is refused with 400 naming it', async () => {
  const clip = path.join(dataDir, 'clip.mp4');
  const r = await upload(clip, { protection: 'widevine' });
  assert.equal(r.status, 400);
  assert.match(String((r.body.error as { message: string }).message), /protection.*"widevine"/);
});

test('aes-128: hls.js plays the signed video to the end; keys rotate; no DASH, no MP4', async () => {
  const t = await api(`/api/v1/videos/${aesId}/playback-token`, { method: 'POST', body: '{"ttlS": 600}' });
  const token = String(t.token);
  const base = `${url}/s/${token}/${aesId}`;
  const playlist = await (await fetch(`${base}/v180/index.m3u8`)).text();
  const keyLines = playlist.split('\n').filter((l) => l.startsWith('#EXT-X-KEY:'));
  assert.ok(playlist.indexOf('#EXT-X-MAP') < playlist.indexOf('#EXT-X-KEY'), 'the init segment is not under a key');
  assert.ok(keyLines.every((l) => /^#EXT-X-KEY:METHOD=AES-128,URI="\.\.\/keys\/\d+\.key",IV=0x[0-9a-f]{32}$/.test(l)), keyLines.join('\n'));
  assert.deepEqual([...new Set(keyLines.map((l) => /keys\/(\d+)/.exec(l)![1]))], ['0', '1', '2'], '5 segments, a new key every 2');
  const r = await playInBrowser(browser, { player: 'hls', src: `${base}/master.m3u8`, untilEnded: true, timeoutMs: 60_000 });
  assert.deepEqual(r.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), []);
  assert.equal(r.ended, true, `ended (currentTime ${r.currentTime} of ${r.duration})`);
  assert.ok(r.requests.some((u) => u === `${base}/keys/2.key`), `key requests: ${r.requests.filter((u) => u.endsWith('.key')).join(' ')}`);
  const key = await fetch(`${base}/keys/0.key`);
  assert.equal(key.status, 200);
  assert.equal(key.headers.get('cache-control'), 'private, no-store');
  assert.equal((await key.arrayBuffer()).byteLength, 16);
  assert.equal((await fetch(`${base}/manifest.mpd`)).status, 404);
  assert.equal((await fetch(`${base}/download.mp4`)).status, 404);
});

test('aes-128: the key is refused without a valid token (403)', async () => {
  const res = await fetch(`${url}/v/${aesId}/keys/0.key`);
  assert.equal(res.status, 403);
  assert.equal(res.headers.get('content-type')?.startsWith('application/json'), true);
  const forged = await fetch(`${url}/s/not.a.token/${aesId}/keys/0.key`);
  assert.equal(forged.status, 403);
});

test('aes-128: ffmpeg cannot decode a published segment; decrypted with the served key it decodes', async () => {
  const dir = path.join(dataDir, 'assets', aesId, 'v180');
  const init = readFileSync(path.join(dir, 'init.mp4'));
  const seg = readFileSync(path.join(dir, readdirSync(dir).filter((f) => f.endsWith('.m4s')).sort()[0]!));
  const enc = path.join(dataDir, 'enc.mp4');
  writeFileSync(enc, Buffer.concat([init, seg]));
  const bad = await decode(enc);
  assert.ok(bad.frames === 0 || bad.errors, `encrypted segment decoded ${bad.frames} frames without an error`);
  const t = await api(`/api/v1/videos/${aesId}/playback-token`, { method: 'POST', body: '{}' });
  const playlist = await (await fetch(`${url}/s/${String(t.token)}/${aesId}/v180/index.m3u8`)).text();
  const iv = /IV=0x([0-9a-f]{32})/.exec(playlist)![1]!;
  const key = Buffer.from(await (await fetch(`${url}/s/${String(t.token)}/${aesId}/keys/0.key`)).arrayBuffer());
  const clear = path.join(dataDir, 'clear.mp4');
  writeFileSync(clear, Buffer.concat([init, decryptSegment(seg, key, Buffer.from(iv, 'hex'))]));
  const good = await decode(clear);
  assert.ok(good.frames > 0 && !good.errors, `decrypted segment: ${JSON.stringify(good)}`);
});

test('cenc: hls.js plays the cbcs video to the end through EME with the ClearKey license', async () => {
  const v = await api(`/api/v1/videos/${cencId}`);
  const pb = v.playback as { hls: string; license?: string };
  assert.equal(pb.license, `/v/${cencId}/license`);
  const playlist = await (await fetch(`${url}/v/${cencId}/v180/index.m3u8`)).text();
  assert.match(playlist, /#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:text\/plain;base64,[^"]+",KEYID=0x[0-9a-f]{32},KEYFORMAT="org.w3.clearkey",KEYFORMATVERSIONS="1"\n#EXT-X-MAP/);
  const r = await playInBrowser(browser, { player: 'hls', src: url + pb.hls, untilEnded: true, timeoutMs: 60_000, hlsConfig: { emeEnabled: true, drmSystems: { 'org.w3.clearkey': { licenseUrl: url + pb.license } } } });
  assert.deepEqual(r.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), []);
  assert.equal(r.ended, true, `ended (currentTime ${r.currentTime} of ${r.duration}; errors ${r.errors.join(', ')})`);
  assert.ok(r.requests.includes(url + pb.license), 'the CDM asked Strom for the license');
});

test('cenc: dash.js plays the cbcs video to the end through EME with the ClearKey license', async () => {
  const mpd = await (await fetch(`${url}/v/${cencId}/manifest.mpd`)).text();
  assert.match(mpd, /<ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cbcs" cenc:default_KID="[0-9a-f-]{36}"\/>/);
  assert.match(mpd, /urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e[^>]*><dashif:Laurl>license</);
  assert.match(mpd, /urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed" value="Widevine"><cenc:pssh>[A-Za-z0-9+/=]+</);
  const license = `${url}/v/${cencId}/license`;
  const r = await playInBrowser(browser, { player: 'dash', src: `${url}/v/${cencId}/manifest.mpd`, untilEnded: true, timeoutMs: 60_000, dashProtection: { 'org.w3.clearkey': { serverURL: license } } });
  assert.deepEqual(r.errors, []);
  assert.equal(r.ended, true, `ended (currentTime ${r.currentTime} of ${r.duration})`);
  assert.ok(r.requests.includes(license), 'the CDM asked Strom for the license');
});

test('cenc: ffmpeg cannot decode a published segment; with the licensed key it decodes', async () => {
  const dir = path.join(dataDir, 'assets', cencId, 'v180');
  const enc = path.join(dataDir, 'cenc.mp4');
  writeFileSync(enc, Buffer.concat([readFileSync(path.join(dir, 'init.mp4')), readFileSync(path.join(dir, 'seg_00001.m4s'))]));
  const bad = await decode(enc);
  assert.ok(bad.frames === 0 || bad.errors, `encrypted segment decoded ${bad.frames} frames without an error`);
  const init = readFileSync(path.join(dir, 'init.mp4'));
  const kid = init.subarray(init.indexOf('tenc') + 12, init.indexOf('tenc') + 28).toString('base64url'); // tenc v1: type, version/flags, 4 bytes of pattern fields, KID
  const res = await fetch(`${url}/v/${cencId}/license`, { method: 'POST', body: JSON.stringify({ kids: [kid], type: 'temporary' }) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cache-control'), 'private, no-store');
  const lic = (await res.json()) as { keys: Array<{ kty: string; k: string; kid: string }>; type: string };
  assert.deepEqual(lic.keys.map((k) => [k.kty, k.kid]), [['oct', kid]]);
  const r = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-decryption_key', Buffer.from(lic.keys[0]!.k, 'base64url').toString('hex'), '-i', enc, '-f', 'null', '-']).then(() => 'ok', (err: { stderr?: string }) => err.stderr ?? 'failed');
  assert.equal(r, 'ok', 'decrypted with the key, the segment decodes cleanly');
});

test('license endpoint: bad input → 400 naming the problem, other keys → 404, oversized → 413, wrong scheme → 404', async () => {
  const post = (id: string, body: string) => fetch(`${url}/v/${id}/license`, { method: 'POST', body });
  const bad = await post(cencId, '{"kids": "nope"}');
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: { message: string } }).error.message, /"kids" must be an array/);
  const notJson = await post(cencId, 'kids=1');
  assert.equal(notJson.status, 400);
  const other = await post(cencId, JSON.stringify({ kids: [Buffer.alloc(16, 1).toString('base64url')] }));
  assert.equal(other.status, 404);
  const big = await post(cencId, JSON.stringify({ kids: ['x'.repeat(10_000)] }));
  assert.equal(big.status, 413);
  const aes = await fetch(`${url}/s/x/${aesId}/license`, { method: 'POST', body: '{}' });
  assert.equal(aes.status, 403, 'a signed video\'s license needs a valid token first');
  const key = await fetch(`${url}/v/${cencId}/keys/0.key`);
  assert.equal(key.status, 404, 'a cenc video has no AES-128 key');
});

test('cenc: the embed page plays the video through EME with the license URL it was given', async () => {
  const page = await browser.newPage();
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  try {
    await page.goto(`${url}/embed/${cencId}?autoplay=1&muted=1`);
    await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) >= 1.5, undefined, { timeout: 30_000, polling: 100 });
    assert.ok(requests.includes(`${url}/v/${cencId}/license`), `license requested: ${requests.filter((u) => u.includes('license')).join(' ')}`);
  } finally {
    await page.close();
  }
});
