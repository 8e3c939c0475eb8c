/**
 * Faults from a publisher's clock: timestamps that go backwards, leap hours ahead, or stop (the
 * encoder freezes with its connection open). Viewers must get a monotonic timeline (HTTP-FLV) and
 * LL-HLS segments no longer than the target (a 3-hour leap made a 10,796 s segment before), and a
 * stalled publisher is closed after `live.publisherIdleTimeoutMs` so the stream ends instead of
 * freezing forever.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { aacFrameBody, avcFrameBody, flvViewer, startLive, syntheticPublisher, waitUntil } from '../helpers/live-fixtures.js';
import { assertLlConformant } from '../helpers/ll-hls.js';
import { within } from '../helpers/until.js';

/** Send `n` frames (20 fps, keyframe every 10th of the running count) with timestamps `ts(k)`, paced. */
async function send(c: RtmpClient, state: { i: number }, n: number, ts: (k: number) => number): Promise<void> {
  for (let k = 0; k < n; k++, state.i++) {
    c.send(9, ts(k), avcFrameBody(state.i % 10 === 0, state.i, 300));
    c.send(8, ts(k), aacFrameBody(40));
    await sleep(5);
  }
}

test('timestamps backwards and 3 hours ahead: viewers get a monotonic timeline and LL-HLS segments within the target', async (t) => {
  const h = await startLive({ 'llhls.partTargetMs': '200', 'llhls.segmentTargetMs': '1000' });
  t.after(() => h.close());
  const reg = h.strom.live.registry;
  const c = await syntheticPublisher(h.rtmpPort);
  const st = { i: 0 };
  await send(c, st, 20, (k) => k * 50);
  await waitUntil(() => reg.status('cam1').state === 'active', 'live');
  const viewer = flvViewer(`${h.httpUrl}/live/cam1.flv`);
  await viewer.res;
  const first = fetch(`${h.httpUrl}/live/cam1/index.m3u8`); // starts the LL-HLS muxer; answers once a segment exists
  await send(c, st, 40, (k) => 1000 + k * 50);
  assert.equal((await first).status, 200);
  await send(c, st, 40, (k) => 500 + k * 50); // back by 2.5 s
  await send(c, st, 40, (k) => 3 * 3_600_000 + k * 50); // 3 hours ahead
  await send(c, st, 40, (k) => 3 * 3_600_000 + 2000 + k * 50);
  await waitUntil(() => viewer.tags.filter((x) => x.type === 9 && x.body[1] === 1).length >= 150, `frames reach the viewer: ${viewer.tags.length} tags; ${JSON.stringify(h.logs.filter((l) => (l.level as number) >= 40))}`);
  const ts = viewer.tags.filter((x) => x.type === 9 && x.body[1] === 1).map((x) => x.timestamp);
  for (let i = 1; i < ts.length; i++) assert.ok(ts[i]! > ts[i - 1]! && ts[i]! - ts[i - 1]! <= 100, `video timestamps step forward by a frame: ${ts[i - 1]} → ${ts[i]} at ${i}`);
  const audio = viewer.tags.filter((x) => x.type === 8 && x.body[1] === 1).map((x) => x.timestamp);
  for (let i = 1; i < audio.length; i++) assert.ok(audio[i]! > audio[i - 1]!, `audio timestamps increase: ${audio[i - 1]} → ${audio[i]}`);
  const pl = await (await fetch(`${h.httpUrl}/live/cam1/index.m3u8`)).text();
  assertLlConformant(pl); // every EXTINF within EXT-X-TARGETDURATION
  assert.equal(reg.get('cam1')!.timestampJumps, 2);
  assert.ok(h.logs.some((l) => /went backwards/.test(String(l.msg))) && h.logs.some((l) => /leapt ahead/.test(String(l.msg))), 'both jumps are logged');
  c.destroy();
});

test('a publisher that stops sending media with its connection open is closed after live.publisherIdleTimeoutMs', async (t) => {
  const h = await startLive({ 'live.publisherIdleTimeoutMs': '1500' });
  t.after(() => h.close());
  const reg = h.strom.live.registry;
  const c = await syntheticPublisher(h.rtmpPort);
  await send(c, { i: 0 }, 20, (k) => k * 50);
  await waitUntil(() => reg.status('cam1').state === 'active', 'live');
  const viewer = flvViewer(`${h.httpUrl}/live/cam1.flv`);
  await viewer.res;
  const stop = reg.events.next('publish.stop');
  const e = await within(stop, 'publish.stop of the stalled publisher', 6_000);
  assert.match(e.reason, /no media for \d+ s/);
  await within(viewer.ended, 'the viewer is ended', 5_000);
  await waitUntil(() => c.socket.destroyed || c.socket.readableEnded, 'the publisher\'s connection is closed');
  assert.ok(h.logs.some((l) => l.msg === 'publisher stalled: closed' && l.streamId === 'cam1'));
});
