/**
 * LL-HLS request limits: `_HLS_part` without `_HLS_msn` is a 400 even for a stream
 * that is not live; blocking requests held per stream are capped by `llhls.maxHeldRequests` (the
 * next one is a 503 at once, the held one is still answered when its part completes).
 * Frames: video every 50 ms, keyframe every 10 frames; parts 200 ms, segments 500 ms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sendFrames, startLive, syntheticPublisher, waitUntil } from '../helpers/live-fixtures.js';



test('LL-HLS limits: _HLS_part alone → 400 when not live; held requests capped → 503', async (t) => {
  const h = await startLive({ 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500, 'llhls.maxHeldRequests': 1 });
  t.after(() => h.close());
  const base = `${h.httpUrl}/live/cam1`;
  const bad = await fetch(`${base}/index.m3u8?_HLS_part=1`);
  assert.equal(bad.status, 400, 'checked before the stream lookup');
  assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'LIVE_HLS_BAD_QUERY');
  assert.equal((await fetch(`${base}/index.m3u8`)).status, 404, 'a valid query for a stream that is not live is still 404');

  const pub = await syntheticPublisher(h.rtmpPort);
  sendFrames(pub, 0, 0);
  await waitUntil(() => h.strom.live.registry.get('cam1')?.active === true, 'stream live');
  const first = fetch(`${base}/index.m3u8`);
  await waitUntil(() => h.strom.live.llhls.size === 1, 'muxer started');
  sendFrames(pub, 1, 12); // segment 0 complete (cut by keyframe 10)
  assert.equal((await first).status, 200);
  const mux = h.strom.live.llhls.muxer('cam1');
  const held = fetch(`${base}/index.m3u8?_HLS_msn=2`);
  await waitUntil(() => mux.waiters.size === 1, 'one request held');
  const busy = await fetch(`${base}/index.m3u8?_HLS_msn=2`);
  assert.equal(busy.status, 503);
  assert.equal(((await busy.json()) as { error: { code: string } }).error.code, 'LIVE_HLS_BUSY');
  sendFrames(pub, 13, 31); // segments 1 and 2 complete (cut by keyframes 20 and 30)
  assert.equal((await held).status, 200, 'the held request is answered when segment 2 completes');
  pub.destroy();
});
