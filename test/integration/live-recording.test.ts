/**
 * Live recording → VOD over a real server: a stream created with `record: true`
 * is muxed with no viewer at all, its segments are kept on disk, and when the publisher leaves it
 * becomes a ready video listed by the API whose VOD playlist (ENDLIST, MAP) and static MPD
 * reference segments byte-identical to what was recorded; a stream without `record` leaves nothing;
 * `live.recordMaxBytes` bounds what is kept; `llhls.dvrWindowS` alone keeps the muxer on (window
 * filling with nobody watching) without recording. Frames: video every 50 ms, keyframe every 10 frames,
 * parts 200 ms, segments 500 ms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApi, type ApiServer } from '../helpers/api-server.js';
import { sendFrames, syntheticPublisher } from '../helpers/live-fixtures.js';
import { parseM3u8, parseMpd } from '../helpers/vod-parsers.js';


async function createStream(api: ApiServer, token: string, record: boolean): Promise<{ id: string; streamKey: string }> {
  const r = await api.call('POST', '/api/v1/live-streams', { token, json: { title: record ? 'Show' : 'Quiet', record } });
  assert.equal(r.status, 201);
  return (await r.json()) as { id: string; streamKey: string };
}

/** Publish frames 0..to, disconnect, and resolve with the id of the video the recording became. */
async function publishAndWait(api: ApiServer, key: string, to: number): Promise<string> {
  const ready = new Promise<string>((resolve) => {
    const off = api.strom.bus.subscribe((e) => {
      if (e.type !== 'video.ready') return;
      off();
      resolve((e.data as { videoId: string }).videoId);
    });
  });
  const pub = await syntheticPublisher(api.strom.live.rtmp.port()!, key);
  sendFrames(pub, 0, 0);
  // The recorder starts the muxer once the first media unit is in (it needs the sequence headers).
  for (let i = 0; i < 200 && api.strom.live.llhls.size === 0; i++) await sleep(10);
  assert.equal(api.strom.live.llhls.size, 1, 'the recorded stream is muxed without any viewer');
  sendFrames(pub, 1, to);
  pub.destroy();
  return ready;
}

test('recording: a record=true stream becomes a ready, listed, playable video', async (t) => {
  const api = await startApi(t, { 'rtmp.enabled': true, 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500 });
  const token = await api.token(['admin']);
  const quiet = await createStream(api, token, false);
  const show = await createStream(api, token, true);

  // Not recorded: publishing and leaving leaves no video and no tmp directory.
  const q = await syntheticPublisher(api.strom.live.rtmp.port()!, quiet.streamKey);
  sendFrames(q, 0, 12);
  q.destroy();
  await q.closed;

  const videoId = await publishAndWait(api, show.streamKey, 49);
  const list = (await (await api.call('GET', '/api/v1/videos', { token })).json()) as { items: Array<{ id: string; title: string; status: string; durationS: number | null }> };
  assert.equal(list.items.length, 1, 'only the recorded stream became a video');
  const v = list.items[0]!;
  assert.equal(v.id, videoId);
  assert.equal(v.status, 'ready');
  assert.match(v.title, /^Show — recording \d{4}-\d\d-\d\d \d\d:\d\d$/);
  assert.ok(v.durationS !== null && v.durationS >= 2 && v.durationS <= 2.6, `duration ${v.durationS}`);
  assert.deepEqual(readdirSync(path.join(api.dataDir, 'tmp')).filter((f) => f.startsWith('rec-')), [], 'tmp directory moved away');

  const master = parseM3u8(await (await fetch(`${api.url}/v/${videoId}/master.m3u8`)).text());
  assert.equal(master.playlists?.[0]?.uri, 'index.m3u8');
  assert.match(String(master.playlists?.[0]?.attributes.CODECS), /^avc1\.64001f,mp4a\.40\.2$/);
  const media = parseM3u8(await (await fetch(`${api.url}/v/${videoId}/index.m3u8`)).text());
  assert.equal(media.endList, true);
  assert.equal(media.playlistType, 'VOD');
  const segs = media.segments ?? [];
  assert.ok(segs.length >= 4, `${segs.length} segments`);
  assert.ok(segs.every((s) => s.map?.uri === 'init.mp4'));
  const init = Buffer.from(await (await fetch(`${api.url}/v/${videoId}/init.mp4`)).arrayBuffer());
  assert.equal(init.toString('latin1', 4, 8), 'ftyp');
  const seg0 = await fetch(`${api.url}/v/${videoId}/${segs[0]!.uri}`);
  assert.equal(seg0.status, 200);
  assert.equal(Buffer.from(await seg0.arrayBuffer()).toString('latin1', 4, 8), 'moof');
  assert.ok(Math.abs(segs.reduce((n, s) => n + s.duration, 0) - v.durationS) < 0.01, 'playlist duration = video duration');

  const mpd = parseMpd(await (await fetch(`${api.url}/v/${videoId}/manifest.mpd`)).text(), `${api.url}/v/${videoId}/manifest.mpd`);
  const rep = mpd.playlists?.[0];
  assert.deepEqual(rep?.segments?.map((s) => s.uri), segs.map((s) => s.uri), 'MPD lists the same segments');
  assert.equal(rep?.segments?.[0]?.map?.uri, 'init.mp4');
});

test('recording: live.recordAll records every stream and live.recordMaxBytes bounds it', async (t) => {
  const api = await startApi(t, { 'rtmp.enabled': true, 'live.recordAll': true, 'live.recordMaxBytes': 6000, 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500 });
  const token = await api.token(['admin']);
  const s = await createStream(api, token, false);
  const videoId = await publishAndWait(api, s.streamKey, 49);
  const media = parseM3u8(await (await fetch(`${api.url}/v/${videoId}/index.m3u8`)).text());
  const n = media.segments?.length ?? 0;
  assert.ok(n >= 1 && n < 4, `byte cap keeps only the first segments (${n})`);
  const files = readdirSync(path.join(api.dataDir, 'assets', videoId)).filter((f) => f.endsWith('.m4s'));
  assert.equal(files.length, n, 'segments past the cap were never written');
  assert.ok(!existsSync(path.join(api.dataDir, 'assets', videoId, `seg_${n}.m4s`)));
});

test('DVR (llhls.dvrWindowS) keeps the muxer on without viewers and records nothing', async (t) => {
  const api = await startApi(t, { 'rtmp.enabled': true, 'llhls.dvrWindowS': 10, 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500 });
  const token = await api.token(['admin']);
  const s = await createStream(api, token, false);
  const pub = await syntheticPublisher(api.strom.live.rtmp.port()!, s.streamKey);
  sendFrames(pub, 0, 0);
  for (let i = 0; i < 200 && api.strom.live.llhls.size === 0; i++) await sleep(10);
  assert.equal(api.strom.live.llhls.size, 1, 'muxer running with nobody watching');
  sendFrames(pub, 1, 49);
  const mux = api.strom.live.llhls.muxer(s.id);
  for (let i = 0; i < 200 && mux.segments.filter((x) => x.complete).length < 4; i++) await sleep(10);
  assert.ok(mux.segments.filter((x) => x.complete).length >= 4, 'segments accumulate for the DVR window');
  pub.destroy();
  await pub.closed;
  await api.strom.live.recorder?.idle;
  const tmp = path.join(api.dataDir, 'tmp');
  const recordings = existsSync(tmp) ? readdirSync(tmp).filter((n) => n.startsWith('rec-')) : [];
  assert.deepEqual(recordings, [], 'no recording directory was created');
  const list = (await (await api.call('GET', '/api/v1/videos', { token })).json()) as { items: unknown[] };
  assert.equal(list.items.length, 0, 'DVR alone does not create a video');
});
