/**
 * EXT-X-TARGETDURATION never changes during a playlist's life (RFC 8216bis §4.4.3.1), even when
 * the publisher's GOP grows: it is fixed by the first segment; a later segment that rounds above it
 * is logged as a warning and counted (`segmentsOverTarget`), never raising the target.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aacFrameBody, avcFrameBody, startLive, syntheticPublisher, waitUntil } from '../helpers/live-fixtures.js';
import { parseLl } from '../helpers/ll-hls.js';

test('TARGETDURATION stays constant across a GOP change; the long segment is logged and counted', async (t) => {
  const h = await startLive({ 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500 });
  t.after(() => h.close());
  const base = `${h.httpUrl}/live/cam1`;
  const c = await syntheticPublisher(h.rtmpPort);
  t.after(() => c.destroy());
  // 20 fps; keyframe every 10 frames (0.5 s) up to frame 40, then every 40 frames (2 s GOP).
  const send = (from: number, to: number) => {
    for (let i = from; i <= to; i++) {
      c.send(9, i * 50, avcFrameBody(i <= 40 ? i % 10 === 0 : i % 40 === 0, i, 200));
      c.send(8, i * 50, aacFrameBody(30));
    }
  };
  send(0, 2);
  await waitUntil(() => h.strom.live.registry.get('cam1')?.active === true, 'stream live');
  const first = fetch(`${base}/index.m3u8`);
  await waitUntil(() => h.strom.live.llhls.size === 1, 'muxer started');
  send(3, 30);
  const early = parseLl(await (await first).text());
  assert.equal(early.targetDuration, 1, 'fixed from the first 0.5 s segment');
  send(31, 170);
  await waitUntil(() => h.strom.live.llhls.muxer('cam1').position().msn >= 7, 'the 2 s segments are complete');
  const text = await (await fetch(`${base}/index.m3u8`)).text();
  const late = parseLl(text);
  assert.ok(late.segments.some((s) => s.duration >= 1.99), `a 2 s segment is listed: ${late.segments.map((s) => s.duration)}`);
  assert.equal(late.targetDuration, 1, 'EXT-X-TARGETDURATION did not change');
  assert.equal((await (await fetch(`${base}/plain.m3u8`)).text()).match(/#EXT-X-TARGETDURATION:(\d+)/)![1], '1');
  assert.ok(h.strom.live.llhls.segmentsOverTarget >= 1, 'counted');
  assert.ok(h.logs.some((l) => l.level === 40 && l.msg === 'segment longer than EXT-X-TARGETDURATION (GOP grew); target kept' && l.streamId === 'cam1'), 'warning logged');
});
