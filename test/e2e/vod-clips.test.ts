/**
 * Clips end to end, on one server: a video packaged by the real ladder (ffmpeg) is clipped through
 * `POST /api/v1/videos/:id/clips`; the answer reports the range snapped to segment boundaries; the
 * clip job publishes a new ready video whose duration by ffprobe (HLS and download.mp4) is the
 * snapped range, whose first fragment starts the timeline at 0, which carries the source's caption
 * cues moved to its timeline, and which hls.js plays to the end; an audio-only video clips too.
 * Bad input is refused precisely and leaves no video behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { launchBrowser, playInBrowser } from '../helpers/browser.js';
import { startStrom, type Running } from '../helpers/http-client.js';
import { ffprobeJson, makeClip, scratch } from '../helpers/vod-fixtures.js';
import { until } from '../helpers/until.js';
import { processVideo } from '../../src/vod/process-video.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import { firstDecodeTimeS } from '../../src/vod/cmaf-inspect.js';
import type { BusEvent } from '../../src/events/event-bus.js';

const SECONDS = 6;
let strom: Running;
let browser: Browser;
let token: string;
const events: BusEvent[] = [];

const call = (method: string, p: string, json?: unknown) => fetch(`${strom.url}${p}`, {
  method, headers: { authorization: `Bearer ${token}`, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) },
  body: json !== undefined ? JSON.stringify(json) : undefined,
});

before(async () => {
  strom = await startStrom({ 'rtmp.enabled': false, 'rateLimit.media.perMinute': 0, 'vod.segmentSeconds': 1, 'vod.ladder': '240:300,144:150', 'vod.preset': 'ultrafast' });
  const dir = scratch('clips');
  const source = await makeClip(path.join(dir, 'src.mp4'), { width: 480, height: 270, seconds: SECONDS });
  const s = await processVideo({ source, assetsDir: path.join(strom.dataDir, 'assets'), tmpDir: path.join(strom.dataDir, 'tmp'), assetId: 'src1', config: strom.strom.config.vod });
  const audio = await makeClip(path.join(dir, 'aud.m4a'), { video: false, seconds: 4 });
  await processVideo({ source: audio, assetsDir: path.join(strom.dataDir, 'assets'), tmpDir: path.join(strom.dataDir, 'tmp'), assetId: 'aud1', config: strom.strom.config.vod });
  await rm(dir, { recursive: true, force: true });
  const { store } = strom.strom.control;
  await store.videos.create({ id: 'aud1', title: 'Tone', status: 'ready' });
  await store.videos.create({ id: 'src1', title: 'Source', status: 'ready' });
  await store.videos.update('src1', { durationS: s.durationS, width: 426, height: 240, playable: true });
  await store.videos.create({ id: 'busy1', title: 'Still encoding', status: 'processing' });
  await store.captions.put('src1', { language: 'en', label: 'English', isDefault: true, format: 'vtt', cues: 2, vtt: 'WEBVTT\n\n00:00:00.500 --> 00:00:01.000\nbefore\n\n00:00:02.500 --> 00:00:03.500\ninside\n' });
  strom.strom.bus.subscribe((e) => events.push(e));
  token = await signApiToken(strom.strom.config, loadApiSecret(strom.strom.config), { scopes: ['videos:read', 'videos:write'], ttlS: 600 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await strom?.stop();
});

test('a clip is snapped to segments, published whole, probes and plays at the snapped duration', async () => {
  const res = await call('POST', '/api/v1/videos/src1/clips', { start: 1.4, end: 3.6, title: 'Middle' });
  assert.equal(res.status, 202);
  const clip = await res.json() as { id: string; status: string; title: string; clipOf: { videoId: string; start: number; end: number } };
  assert.equal(clip.status, 'queued');
  assert.equal(clip.title, 'Middle');
  assert.deepEqual(clip.clipOf, { videoId: 'src1', start: 1, end: 4 }, 'widened to the 1 s segment boundaries');

  let ready: { status: string; durationS: number; error: unknown } = { status: '', durationS: 0, error: null };
  await until(async () => {
    ready = await (await call('GET', `/api/v1/videos/${clip.id}`)).json() as typeof ready;
    return ready.status === 'ready' || ready.status === 'errored';
  }, 'clip ready', 60_000, 100);
  assert.equal(ready.status, 'ready', JSON.stringify(ready.error));
  assert.ok(Math.abs(ready.durationS - 3) < 0.05, `duration ${ready.durationS}`);
  const types = events.filter((e) => (e.data as { videoId?: string }).videoId === clip.id).map((e) => e.type);
  for (const t of ['video.created', 'video.queued', 'video.ready']) assert.ok(types.includes(t as never), `${t} in ${types.join(',')}`);
  const list = await (await call('GET', '/api/v1/videos?limit=50')).json() as { items: { id: string }[] };
  assert.ok(list.items.some((v) => v.id === clip.id), 'listed like any video');

  const hls = await ffprobeJson(['-show_entries', 'format=duration', `${strom.url}/v/${clip.id}/master.m3u8`]) as { format: { duration: string } };
  assert.ok(Math.abs(Number(hls.format.duration) - 3) < 0.1, `HLS duration by ffprobe ${hls.format.duration}`);
  const mp4 = await ffprobeJson(['-show_entries', 'format=duration:stream=codec_type', `${strom.url}/v/${clip.id}/download.mp4`]) as { format: { duration: string }; streams: { codec_type: string }[] };
  assert.ok(Math.abs(Number(mp4.format.duration) - 3) < 0.1, `download.mp4 duration ${mp4.format.duration}`);
  assert.deepEqual(mp4.streams.map((x) => x.codec_type).sort(), ['audio', 'video']);
  assert.equal((await fetch(`${strom.url}/v/${clip.id}/poster.jpg`)).headers.get('content-type'), 'image/jpeg');

  const asset = path.join(strom.dataDir, 'assets', clip.id);
  const start = firstDecodeTimeS(await readFile(path.join(asset, 'v240', 'init.mp4')), await readFile(path.join(asset, 'v240', 'seg_00000.m4s')));
  const srcStart = firstDecodeTimeS(await readFile(path.join(strom.dataDir, 'assets', 'src1', 'v240', 'init.mp4')), await readFile(path.join(strom.dataDir, 'assets', 'src1', 'v240', 'seg_00000.m4s')));
  assert.equal(start, srcStart, 'the clip timeline starts where the source one did');
  assert.match(await readFile(path.join(asset, 'manifest.mpd'), 'utf8'), /mediaPresentationDuration="PT3\.0\d\dS"/);

  const captions = await strom.strom.control.store.captions.list(clip.id);
  assert.equal(captions.length, 1);
  assert.match(captions[0]!.vtt, /00:00:01\.500 --> 00:00:02\.500\ninside/);
  assert.doesNotMatch(captions[0]!.vtt, /before/);
  assert.match(await readFile(path.join(asset, 'master.m3u8'), 'utf8'), /TYPE=SUBTITLES/);

  const r = await playInBrowser(browser, { player: 'hls', src: `${strom.url}/v/${clip.id}/master.m3u8`, untilEnded: true, timeoutMs: 60_000 });
  assert.deepEqual(r.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), []);
  assert.equal(r.ended, true, `ended (currentTime ${r.currentTime} of ${r.duration})`);
  assert.ok(Math.abs(r.duration - 3) < 0.3, `hls.js duration ${r.duration}`);
});

test('an audio-only video is clipped too (no poster, an audio download)', async () => {
  const res = await call('POST', '/api/v1/videos/aud1/clips', { start: 1.5, end: 3 });
  assert.equal(res.status, 202);
  // Audio-only segments are whole AAC frames: 1.002667 s at 48 kHz with 1 s segments.
  const { id, clipOf } = await res.json() as { id: string; clipOf: { start: number; end: number } };
  assert.deepEqual(clipOf, { videoId: 'aud1', start: 1.003, end: 3.008 });
  let v: { status: string; durationS: number } = { status: '', durationS: 0 };
  await until(async () => ['ready', 'errored'].includes((v = await (await call('GET', `/api/v1/videos/${id}`)).json() as typeof v).status), 'audio clip settled', 60_000, 100);
  assert.equal(v.status, 'ready');
  const mp4 = await ffprobeJson(['-show_entries', 'format=duration:stream=codec_type', `${strom.url}/v/${id}/download.mp4`]) as { format: { duration: string }; streams: { codec_type: string }[] };
  assert.deepEqual(mp4.streams.map((x) => x.codec_type), ['audio']);
  assert.ok(Math.abs(Number(mp4.format.duration) - 2.005) < 0.05, `duration ${mp4.format.duration}`);
  assert.equal((await fetch(`${strom.url}/v/${id}/poster.jpg`)).status, 404, 'no poster for audio');
});

test('bad clip requests are refused with the value named, and create nothing', async () => {
  const before = (await strom.strom.control.store.videos.list({ limit: 100 })).items.length;
  const cases: [string, unknown, number, RegExp][] = [
    ['nope_nope', { start: 0, end: 2 }, 404, /video "nope_nope" not found/],
    ['busy1', { start: 0, end: 2 }, 409, /video "busy1" is processing, not ready/],
    ['src1', { start: -1, end: 2 }, 400, /invalid clip start -1/],
    ['src1', { start: 3, end: 2 }, 400, /invalid clip end 2: must be greater than start \(3\)/],
    ['src1', { start: 2, end: 60 }, 400, /invalid clip end 60: is beyond the video's duration/],
    ['src1', { start: 2, end: 2.5 }, 400, /invalid clip end 2\.5: makes a clip of 0\.500 s, shorter than vod\.clipMinSeconds/],
    ['src1', { start: 'a', end: 2 }, 400, /start/],
  ];
  for (const [id, body, status, message] of cases) {
    const res = await call('POST', `/api/v1/videos/${id}/clips`, body);
    const err = await res.json() as { error: { message: string } };
    assert.equal(res.status, status, `${id} ${JSON.stringify(body)}: ${err.error.message}`);
    assert.match(err.error.message, message);
  }
  const noScope = await signApiToken(strom.strom.config, loadApiSecret(strom.strom.config), { scopes: ['videos:read'], ttlS: 60 });
  const denied = await fetch(`${strom.url}/api/v1/videos/src1/clips`, { method: 'POST', headers: { authorization: `Bearer ${noScope}`, 'content-type': 'application/json' }, body: '{"start":0,"end":2}' });
  assert.equal(denied.status, 403);
  assert.equal((await strom.strom.control.store.videos.list({ limit: 100 })).items.length, before);
});
