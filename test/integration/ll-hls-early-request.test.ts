/**
 * An HLS request that arrives after `publish` but before the sequence headers: it must
 * not create a muxer expecting no track (that muxer would never produce a segment, and live ABR
 * would see no video). It gets 503 LIVE_HLS_NOT_READY at once; once the headers are in, the next
 * request starts a working muxer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { aacConfigBody, avcConfigBody, sendFrames, startLive, waitUntil } from '../helpers/live-fixtures.js';

test('a request before the sequence headers is 503 and creates no muxer', async (t) => {
  const h = await startLive({ 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500 });
  t.after(() => h.close());
  const c = await RtmpClient.connect('127.0.0.1', h.rtmpPort, 'live');
  t.after(() => c.destroy());
  assert.equal(await c.publish('secret'), 'NetStream.Publish.Start');
  c.sendMetadata({ width: 640, height: 360, videocodecid: 7, audiocodecid: 10 });
  await waitUntil(() => h.strom.live.registry.get('cam1')?.active === true, 'published');
  const early = await fetch(`${h.httpUrl}/live/cam1/index.m3u8`);
  assert.equal(early.status, 503);
  assert.equal(((await early.json()) as { error: { code: string } }).error.code, 'LIVE_HLS_NOT_READY');
  assert.equal(h.strom.live.llhls.size, 0, 'no muxer created');
  c.send(9, 0, avcConfigBody());
  await waitUntil(() => h.strom.live.registry.get('cam1')?.tracks.video !== undefined, 'video header in');
  assert.equal((await fetch(`${h.httpUrl}/live/cam1/index.m3u8`)).status, 503, 'AAC announced, its header still missing');
  c.send(8, 0, aacConfigBody());
  sendFrames(c, 0, 2);
  await waitUntil(() => h.strom.live.registry.get('cam1')?.tracks.audio !== undefined, 'audio header in');
  const ok = fetch(`${h.httpUrl}/live/cam1/index.m3u8`);
  await waitUntil(() => h.strom.live.llhls.size === 1, 'muxer started');
  sendFrames(c, 3, 30);
  const r = await ok;
  assert.equal(r.status, 200);
  assert.match(await r.text(), /#EXTINF/);
});
