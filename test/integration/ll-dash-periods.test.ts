/**
 * LL-DASH after a codec-changing takeover: the live MPD starts a new Period (id 1) at the
 * first segment of the new configuration, pointing at init_<run>_1.mp4 with startNumber = that
 * segment's media sequence number and Period@start = msn × segment duration, while Period 0
 * (init_<run>.mp4, the old codecs) stays listed with a start that never moves. mpd-parser accepts the MPD.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { aacConfigBody, avcConfigBody, sendFrames, startLive, syntheticPublisher, waitUntil } from '../helpers/live-fixtures.js';
import { parseLl } from '../helpers/ll-hls.js';
import { initName } from '../../src/live/formats/hls/live-media-names.js';

const require = createRequire(import.meta.url);
const mpdParser = require('mpd-parser') as { parse(text: string, o: { manifestUri: string; NOW: number; clientOffset: number }): { playlists?: unknown[] } };

async function text(url: string): Promise<string> {
  const r = await fetch(url);
  assert.equal(r.status, 200, url);
  return r.text();
}

test('codec change by takeover → new MPD Period on init_<run>_1.mp4; the old Period keeps its start', async (t) => {
  const h = await startLive({ 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500 });
  t.after(() => h.close());
  const base = `${h.httpUrl}/live/cam1`;
  const a = await syntheticPublisher(h.rtmpPort);
  t.after(() => a.destroy());
  sendFrames(a, 0, 2);
  await waitUntil(() => h.strom.live.registry.get('cam1')?.active === true, 'stream live');
  const first = fetch(`${base}/manifest.mpd`);
  await waitUntil(() => h.strom.live.llhls.size === 1, 'muxer started');
  sendFrames(a, 3, 25);
  const mpd0 = await (await first).text();
  assert.equal((mpd0.match(/<Period /g) ?? []).length, 1);
  assert.match(mpd0, /<Period id="0" start="PT0\.000S">/);

  const b = await RtmpClient.connect('127.0.0.1', h.rtmpPort, 'live');
  t.after(() => b.destroy());
  assert.equal(await b.publish('secret'), 'NetStream.Publish.Start');
  const cfg = avcConfigBody();
  cfg[6] = 0x4d; // High → Main
  b.send(9, 0, cfg);
  b.send(8, 0, aacConfigBody());
  sendFrames(b, 0, 35);
  await waitUntil(() => h.strom.live.llhls.muxer('cam1').position().msn >= 5, 'segments on the new configuration');
  const hls = await text(`${base}/index.m3u8`);
  const lines = hls.split('\n');
  const disc = lines.indexOf('#EXT-X-DISCONTINUITY');
  assert.ok(disc > 0, 'HLS shows the change');
  const m = parseLl(hls);
  const run = h.strom.live.llhls.muxer('cam1').run; // a takeover keeps the muxer, and so its run
  const idx = m.segments.findIndex((s) => s.map?.uri === initName(run, 1));
  const firstNew = (m.mediaSequence ?? 0) + idx;
  assert.ok(idx > 0, 'a segment on init_1.mp4 exists');

  const mpd = await text(`${base}/manifest.mpd`);
  const periods = [...mpd.matchAll(/<Period id="(\d+)" start="([^"]+)">([\s\S]*?)<\/Period>/g)];
  assert.equal(periods.length, 2, mpd);
  assert.equal(periods[0]![1], '0');
  assert.equal(periods[0]![2], 'PT0.000S', 'Period 0 keeps its start');
  assert.match(periods[0]![3]!, new RegExp(`codecs="avc1\\.64001f,mp4a\\.40\\.2"[\\s\\S]*initialization="init_${run}\\.mp4"`));
  assert.equal(periods[1]![1], '1');
  assert.equal(periods[1]![2], `PT${(firstNew * 0.5).toFixed(3)}S`, 'Period 1 starts at its first segment (msn × d)');
  assert.match(periods[1]![3]!, new RegExp(`codecs="avc1\\.4d001f,mp4a\\.40\\.2"[\\s\\S]*startNumber="${firstNew}"[\\s\\S]*initialization="init_${run}_1\\.mp4"`));
  const parsed = mpdParser.parse(mpd, { manifestUri: `${base}/manifest.mpd`, NOW: Date.now(), clientOffset: 0 });
  assert.ok((parsed.playlists ?? []).length >= 1, 'mpd-parser accepts the multi-Period MPD');
  assert.equal((await fetch(`${base}/${initName(run, 1)}`)).status, 200);
});
