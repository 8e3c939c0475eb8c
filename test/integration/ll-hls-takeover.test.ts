/**
 * Publisher takeover with a different codec configuration: the LL-HLS muxer must not change a
 * published (immutable) init segment; it ends the segment, starts the next one after
 * EXT-X-DISCONTINUITY with a new EXT-X-MAP (init_<run>_1.mp4), and timestamps keep increasing.
 * Same-configuration takeover must NOT add a discontinuity. A takeover keeps the muxer, and so its
 * run id: the URLs listed before it stay valid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { aacConfigBody, aacFrameBody, avcConfigBody, avcFrameBody, startLive, syntheticPublisher } from '../helpers/live-fixtures.js';
import { assertLlConformant } from '../helpers/ll-hls.js';
import { initName } from '../../src/live/formats/hls/live-media-names.js';

function frames(c: RtmpClient, from: number, to: number): void {
  for (let i = from; i <= to; i++) {
    c.send(9, i * 50, avcFrameBody(i % 10 === 0, i, 200));
    c.send(8, i * 50, aacFrameBody(30));
  }
}

async function text(url: string): Promise<string> {
  const r = await fetch(url);
  assert.equal(r.status, 200, url);
  return r.text();
}

test('takeover with new codec parameters → EXT-X-DISCONTINUITY + new EXT-X-MAP; the old init is unchanged', async (t) => {
  const h = await startLive({ 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500 });
  t.after(() => h.close());
  const base = `${h.httpUrl}/live/cam1`;
  const a = await syntheticPublisher(h.rtmpPort);
  frames(a, 0, 2);
  await sleep(200);
  const first = text(`${base}/index.m3u8`);
  for (let i = 0; i < 200 && h.strom.live.llhls.size === 0; i++) await sleep(20); // the request started the muxer
  frames(a, 3, 25);
  assertLlConformant(await first);
  await text(`${base}/index.m3u8?_HLS_msn=1`); // segment 1 (frames 10..19) is complete
  const run = h.strom.live.llhls.muxer('cam1').run;
  const init0 = Buffer.from(await (await fetch(`${base}/${initName(run, 0)}`)).arrayBuffer());

  // Same configuration: no discontinuity.
  const same = await RtmpClient.connect('127.0.0.1', h.rtmpPort, 'live');
  assert.equal(await same.publish('secret'), 'NetStream.Publish.Start');
  same.send(9, 0, avcConfigBody());
  same.send(8, 0, aacConfigBody());
  frames(same, 0, 25);
  const mid = await text(`${base}/index.m3u8?_HLS_msn=3`);
  assert.doesNotMatch(mid, /DISCONTINUITY/, 'identical sequence headers are not a change');

  // New configuration (High → Main profile byte): discontinuity and init_<run>_1.mp4.
  const b = await RtmpClient.connect('127.0.0.1', h.rtmpPort, 'live');
  assert.equal(await b.publish('secret'), 'NetStream.Publish.Start');
  const cfg = avcConfigBody();
  cfg[6] = 0x4d;
  b.send(9, 0, cfg);
  b.send(8, 0, aacConfigBody());
  frames(b, 0, 35);
  const after = await text(`${base}/index.m3u8?_HLS_msn=5`);
  const m = assertLlConformant(after);
  const lines = after.split('\n');
  const disc = lines.indexOf('#EXT-X-DISCONTINUITY');
  assert.ok(disc > 0, 'EXT-X-DISCONTINUITY present');
  assert.equal(h.strom.live.llhls.muxer('cam1').run, run, 'the same muxer run across both takeovers');
  assert.equal(lines[disc + 1], `#EXT-X-MAP:URI="${initName(run, 1)}"`, 'new map right after the discontinuity');
  assert.equal(lines.filter((l) => l.startsWith('#EXT-X-MAP')).length, 2);
  const pdts = m.segments.map((s) => s.programDateTime!);
  for (let i = 1; i < pdts.length; i++) assert.ok(pdts[i]! >= pdts[i - 1]!, 'PDT never goes back');
  const init1 = Buffer.from(await (await fetch(`${base}/${initName(run, 1)}`)).arrayBuffer());
  assert.ok(init1.includes(cfg.subarray(5)), 'init 1 carries the new avcC');
  assert.deepEqual(Buffer.from(await (await fetch(`${base}/${initName(run, 0)}`)).arrayBuffer()), init0, 'init 0 never changes');
  assert.equal((await fetch(`${base}/${initName(run, 7)}`)).status, 404);
  b.destroy();
});
