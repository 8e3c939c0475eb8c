/**
 * Captions through the API and delivery: a track uploaded for a ready video appears in the master
 * playlist (SUBTITLES group on every variant) and the MPD (text AdaptationSet) served at the same
 * URLs players already fetched (the delivery caches and delivery workers see the change); its subtitle playlist and
 * segmented WebVTT are served; replace, delete, and every refusal (400 naming the line, 413, 404,
 * 409, scope). A transcode run again writes manifests without captions; the stored tracks are
 * put back before the video is ready again.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startApi, type ApiServer } from '../helpers/api-server.js';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { makeClip } from '../helpers/vod-fixtures.js';
import { until } from '../helpers/until.js';
import { parseM3u8 } from '../helpers/vod-parsers.js';

const VTT = 'WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nHello Strom\n\n00:00:03.000 --> 00:00:03.800\nBye\n';
const SRT = '1\r\n00:00:00,500 --> 00:00:02,000\r\nOlá Strom\r\n';
const MPD = '<?xml version="1.0" encoding="UTF-8"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT4.000S" minBufferTime="PT1.000S">\n<Period id="0" start="PT0S">\n  <AdaptationSet id="0" contentType="video" mimeType="video/mp4"></AdaptationSet>\n</Period>\n</MPD>\n';

let ID = 'cap1';
let dataDir = '';

/** A server with a ready fixture video (4 s, 1 s segments) and an MPD beside its master. */
async function server(t: Parameters<typeof startApi>[0], settings: Record<string, unknown> = {}): Promise<{ s: ApiServer; write: string; read: string }> {
  // Cached file metadata trusted for 10 minutes: only the invalidation can make delivery see a change.
  const s = await startApi(t, { 'delivery.metaTtlMs': 600_000, ...settings });
  await makeFixtureAsset({ dataDir: s.dataDir, id: ID, seconds: 4, extras: false });
  await writeFile(path.join(s.dataDir, 'assets', ID, 'manifest.mpd'), MPD);
  await s.strom.control.store.videos.create({ id: ID, status: 'ready' });
  dataDir = s.dataDir;
  return { s, write: await s.token(['videos:write', 'videos:read']), read: await s.token(['videos:read']) };
}

const get = async (s: ApiServer, p: string) => {
  const r = await s.call('GET', p);
  return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
};
const post = (s: ApiServer, token: string, query: string, body: string | Buffer, type = 'text/vtt') =>
  fetch(`${s.url}/api/v1/videos/${ID}/captions?${query}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body: typeof body === 'string' ? body : new Uint8Array(body) });

before(() => {
  ID = `cap${process.pid}`;
});

test('a caption track for a ready video: master, MPD, subtitle playlist and WebVTT segments; replace and delete', async (t) => {
  const { s, write, read } = await server(t);
  const before = await get(s, `/v/${ID}/master.m3u8`); // warm the delivery caches
  assert.doesNotMatch(before.text, /SUBTITLES/);

  let r = await post(s, write, 'language=en&label=English&default=true', VTT);
  assert.equal(r.status, 201, await r.clone().text());
  const created = await r.json() as { language: string; label: string; default: boolean; format: string; cues: number; playback: { hls: string; vtt: string } };
  assert.deepEqual({ ...created, playback: undefined, createdAt: undefined, updatedAt: undefined, bytes: undefined }, { language: 'en', label: 'English', default: true, format: 'vtt', cues: 2, playback: undefined, createdAt: undefined, updatedAt: undefined, bytes: undefined });

  const master = await get(s, `/v/${ID}/master.m3u8`);
  assert.match(master.text, /#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="English",DEFAULT=YES,AUTOSELECT=YES,URI="captions\/en_[0-9a-f]{8}\/index\.m3u8"/);
  const variants = master.text.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF'));
  assert.ok(variants.length >= 2 && variants.every((l) => l.endsWith(',SUBTITLES="subs"')), master.text);

  // The subtitle playlist: one WebVTT segment per video segment, with the same durations.
  const subs = parseM3u8((await get(s, created.playback.hls)).text);
  const video = parseM3u8(await readFile(path.join(dataDir, 'assets', ID, 'v360', 'index.m3u8'), 'utf8'));
  assert.equal(subs.endList, true);
  assert.deepEqual((subs.segments ?? []).map((x) => x.duration), (video.segments ?? []).map((x) => x.duration));
  const base = created.playback.hls.replace(/index\.m3u8$/, '');
  const seg1 = await get(s, `${base}${subs.segments?.[1]?.uri}`);
  assert.equal(seg1.status, 200);
  assert.equal(seg1.type, 'text/vtt; charset=utf-8');
  // Segment 1 starts at 1 s (1 s segments; the fixture's decode times start at 0 → MPEGTS 90000).
  assert.match(seg1.text, /^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:\d+,LOCAL:00:00:00\.000\n\n00:00:00\.000 --> 00:00:01\.000\nHello Strom\n$/);
  const mpegts = Number(/MPEGTS:(\d+)/.exec(seg1.text)![1]);
  assert.ok(Math.abs(mpegts - 90000) < 9000, `MPEGTS ${mpegts}`);
  const whole = await get(s, created.playback.vtt);
  assert.equal(whole.text, VTT);

  const mpd = await get(s, `/v/${ID}/manifest.mpd`);
  assert.match(mpd.text, /<AdaptationSet id="100" contentType="text" mimeType="text\/vtt" lang="en">.*<BaseURL>captions\/en_[0-9a-f]{8}\.vtt<\/BaseURL>/);

  // A SubRip track is converted; the list shows both.
  r = await post(s, write, 'language=PT-br', SRT, 'application/x-subrip');
  assert.equal(r.status, 201);
  const pt = await r.json() as { language: string; label: string; format: string; playback: { vtt: string } };
  assert.deepEqual([pt.language, pt.label, pt.format], ['pt-BR', 'Brazilian Portuguese', 'srt']);
  assert.equal((await get(s, pt.playback.vtt)).text, 'WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nOlá Strom\n');
  const list = await (await s.call('GET', `/api/v1/videos/${ID}/captions`, { token: read })).json() as { items: { language: string }[] };
  assert.deepEqual(list.items.map((i) => i.language), ['en', 'pt-BR']);

  // Replacing the English track: 200, new URLs, the old files are gone.
  r = await post(s, write, 'language=en&label=English', VTT.replace('Hello Strom', 'Hello again'));
  assert.equal(r.status, 200);
  const replaced = await r.json() as { playback: { hls: string; vtt: string } };
  assert.notEqual(replaced.playback.vtt, created.playback.vtt);
  assert.equal((await get(s, created.playback.vtt)).status, 404);
  assert.match((await get(s, replaced.playback.vtt)).text, /Hello again/);
  const master2 = (await get(s, `/v/${ID}/master.m3u8`)).text;
  assert.equal(master2.match(/TYPE=SUBTITLES/g)?.length, 2);
  assert.match(master2, new RegExp(`URI="${replaced.playback.hls.replace(`/v/${ID}/`, '')}"`));

  // Delete: the track leaves the manifests; the last one takes the group with it.
  assert.equal((await s.call('DELETE', `/api/v1/videos/${ID}/captions/en`, { token: write })).status, 204);
  assert.equal((await get(s, replaced.playback.vtt)).status, 404);
  const r404 = await s.call('DELETE', `/api/v1/videos/${ID}/captions/en`, { token: write });
  assert.equal(r404.status, 404);
  assert.equal(((await r404.json()) as { error: { code: string } }).error.code, 'CAPTION_NOT_FOUND');
  assert.equal((await get(s, `/v/${ID}/master.m3u8`)).text.match(/TYPE=SUBTITLES/g)?.length, 1);
  assert.equal((await s.call('DELETE', `/api/v1/videos/${ID}/captions/pt-BR`, { token: write })).status, 204);
  const last = (await get(s, `/v/${ID}/master.m3u8`)).text;
  assert.doesNotMatch(last, /SUBTITLES/);
  assert.equal(last, before.text);
  assert.doesNotMatch((await get(s, `/v/${ID}/manifest.mpd`)).text, /contentType="text"/);
});

test('refusals: 400 naming the line, 413 over vod.captionMaxBytes, 404, 409 not ready, 403 without videos:write', async (t) => {
  const { s, write, read } = await server(t);
  const bad = async (body: string | Buffer, re: RegExp, type = 'text/vtt') => {
    const r = await post(s, write, 'language=en', body, type);
    const j = await r.json() as { error: { code: string; message: string } };
    assert.equal(r.status, 400, j.error.message);
    assert.equal(j.error.code, 'CAPTION_INVALID');
    assert.match(j.error.message, re);
  };
  await bad('1\n00:00:01,000 --> 00:00:02,000\nsrt sent as vtt\n', /WebVTT caption file at line 1: not a WebVTT file/);
  await bad('WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\n00:03.000 --> 00:0x.000\nbad\n', /line 6: cue end "00:0x.000" is not a timestamp/);
  await bad('WEBVTT\n\n00:05.000 --> 00:02.000\nbackwards\n', /line 3: cue starts at 00:00:05.000, after its end/);
  await bad('WEBVTT\n\n00:05.000 --> 00:06.000\na\n\n00:01.000 --> 00:02.000\nb\n', /line 6: cue start 00:00:01.000 goes back/);
  await bad(Buffer.from([0x57, 0x45, 0x42, 0x56, 0x54, 0x54, 0x0a, 0x00, 0xff, 0x13, 0x88]), /line 2: /, 'application/octet-stream');
  await bad('1\n00:00:01.000 --> 00:00:0x,000\nhi\n', /SubRip caption file at line 2/, 'application/x-subrip');

  let r = await post(s, write, 'language=en', Buffer.alloc(2 * 1024 * 1024 + 1, 0x41));
  assert.equal(r.status, 413);
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'CAPTION_TOO_LARGE');
  // Chunked, without Content-Length: counted while it is read.
  const chunk = new Uint8Array(256 * 1024).fill(0x41);
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent >= 9) return c.close();
      sent++;
      c.enqueue(chunk);
    },
  });
  r = await fetch(`${s.url}/api/v1/videos/${ID}/captions?language=en`, { method: 'POST', headers: { authorization: `Bearer ${write}`, 'content-type': 'text/vtt' }, body: stream, duplex: 'half' } as RequestInit);
  assert.equal(r.status, 413);
  assert.match(((await r.json()) as { error: { message: string } }).error.message, /exceeds the limit of 2097152 bytes \(vod.captionMaxBytes\)/);

  r = await post(s, write, 'language=not_a_tag', VTT);
  assert.equal(r.status, 400);
  r = await fetch(`${s.url}/api/v1/videos/nope/captions?language=en`, { method: 'POST', headers: { authorization: `Bearer ${write}`, 'content-type': 'text/vtt' }, body: VTT });
  assert.equal(r.status, 404);
  assert.equal((await s.call('GET', '/api/v1/videos/nope/captions', { token: read })).status, 404);
  const waiting = await s.strom.control.store.videos.create({ status: 'processing' });
  r = await fetch(`${s.url}/api/v1/videos/${waiting.id}/captions?language=en`, { method: 'POST', headers: { authorization: `Bearer ${write}`, 'content-type': 'text/vtt' }, body: VTT });
  assert.equal(r.status, 409);
  r = await post(s, read, 'language=en', VTT);
  assert.equal(r.status, 403);
  // Nothing of the refused uploads reached the manifests.
  assert.doesNotMatch((await get(s, `/v/${ID}/master.m3u8`)).text, /SUBTITLES/);
});

test('delivery workers see caption changes at once (the invalidation reaches every worker)', async (t) => {
  const { s, write } = await server(t, { 'delivery.workers': 2 });
  const masters = async () => Promise.all([1, 2, 3, 4].map(async () => (await get(s, `/v/${ID}/master.m3u8`)).text));
  for (const m of await masters()) assert.doesNotMatch(m, /SUBTITLES/);
  assert.equal((await post(s, write, 'language=en', VTT)).status, 201);
  for (const m of await masters()) assert.match(m, /TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en"/);
  assert.equal((await s.call('DELETE', `/api/v1/videos/${ID}/captions/en`, { token: write })).status, 204);
  for (const m of await masters()) assert.doesNotMatch(m, /SUBTITLES/);
});

test('captions survive re-packaging: a second transcode run ends with the tracks in its new manifests', { timeout: 180_000 }, async (t) => {
  const s = await startApi(t, { 'vod.ladder': '240:300', 'vod.preset': 'ultrafast', 'vod.segmentSeconds': 1, 'jobs.pollMs': 100 });
  const write = await s.token(['videos:write']);
  const source = await makeClip(path.join(s.dataDir, 'clip.mp4'), { width: 320, height: 180, seconds: 3 });
  const v = await s.strom.control.store.videos.create({ status: 'queued', sourcePath: source });
  const ready = () => until(async () => (await s.strom.control.store.videos.get(v.id))?.status === 'ready', 'video ready', 120_000, 100);
  await s.strom.vod.enqueue(v.id);
  await ready();
  const r = await fetch(`${s.url}/api/v1/videos/${v.id}/captions?language=en&default=true`, { method: 'POST', headers: { authorization: `Bearer ${write}`, 'content-type': 'text/vtt' }, body: VTT });
  assert.equal(r.status, 201, await r.clone().text());
  const { playback } = await r.json() as { playback: { hls: string } };
  await s.strom.vod.enqueue(v.id); // the asset is removed and packaged again
  await ready();
  const master = (await get(s, `/v/${v.id}/master.m3u8`)).text;
  assert.match(master, /TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="English",DEFAULT=YES/);
  assert.ok(master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF')).every((l) => l.endsWith('SUBTITLES="subs"')));
  assert.match((await get(s, `/v/${v.id}/manifest.mpd`)).text, /contentType="text" mimeType="text\/vtt" lang="en"/);
  assert.match((await get(s, playback.hls)).text, /#EXT-X-ENDLIST/);
});
