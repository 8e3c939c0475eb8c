/**
 * Live media URLs are unique per muxer run. Parts, segments and init segments are sent
 * `immutable` (RFC 8246), while their numbers restart at 0 with every muxer: so each name carries
 * the muxer's run id, and a URL of an earlier run answers 404 `no-store`, never the new run's bytes.
 * Two restarts with a synthetic publisher: the stream published again right after it stopped (the
 * ended muxer is replaced), and published again after the idle stop (`llhls.idleTimeoutMs`).
 * Frames: video every 50 ms, keyframe every 10 frames; parts 200 ms, segments 500 ms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { sendFrames, startLive, syntheticPublisher, waitUntil, type LiveHarness } from '../helpers/live-fixtures.js';
import { allParts, assertLlConformant, type LlManifest } from '../helpers/ll-hls.js';

const RUN_PART = /^part_([0-9a-z]{8})_(\d+)\.m4s$/;

/** Publish, start a muxer with a playlist request, and return its playlist once two segments exist. */
async function publishAndWatch(h: LiveHarness, base: string): Promise<{ pub: RtmpClient; m: LlManifest }> {
  const pub = await syntheticPublisher(h.rtmpPort);
  sendFrames(pub, 0, 2);
  await waitUntil(() => h.strom.live.registry.get('cam1')?.active === true, 'stream live');
  const first = fetch(`${base}/index.m3u8`);
  await waitUntil(() => h.strom.live.llhls.running('cam1')?.ended === false, 'muxer started by the playlist request');
  sendFrames(pub, 3, 31);
  const r = await first;
  assert.equal(r.status, 200);
  await fetch(`${base}/index.m3u8?_HLS_msn=1`); // segment 1 is complete
  const now = await fetch(`${base}/index.m3u8`);
  return { pub, m: assertLlConformant(await now.text()) };
}

/** Every media URI a playlist lists: init, segments, parts, the preload hint. */
function mediaUris(m: LlManifest): string[] {
  return [m.segments[0]!.map!.uri, ...m.segments.map((s) => s.uri), ...allParts(m).map((p) => p.uri), ...(m.preloadSegment?.preloadHints ?? []).map((p) => p.uri)];
}

async function assertGone(url: string, what: string): Promise<void> {
  const r = await fetch(url);
  assert.equal(r.status, 404, `${what}: ${r.status}`);
  assert.equal(r.headers.get('cache-control'), 'no-store', `${what}: the 404 is never stored`);
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'LIVE_STREAM_NOT_FOUND');
}

test('a restarted muxer lists new media URLs; the previous run\'s URLs answer 404 no-store', async (t) => {
  const h = await startLive({ 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500, 'llhls.idleTimeoutMs': 1000 });
  t.after(() => h.close());
  const base = `${h.httpUrl}/live/cam1`;

  // Run 1: a complete part, immutable.
  const one = await publishAndWatch(h, base);
  const part1 = allParts(one.m).find((p) => RUN_PART.exec(p.uri)?.[2] === '0')!.uri;
  const run1 = RUN_PART.exec(part1)![1]!;
  assert.equal(run1, h.strom.live.llhls.running('cam1')!.run);
  assert.ok(mediaUris(one.m).every((u) => u.includes(`_${run1}`)), 'every media URI names run 1');
  const body1 = await fetch(`${base}/${part1}`);
  assert.equal(body1.status, 200);
  assert.equal(body1.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  const bytes1 = Buffer.from(await body1.arrayBuffer());

  // The publisher stops: the ended muxer keeps serving its window under the same names.
  one.pub.destroy();
  await waitUntil(() => h.strom.live.registry.get('cam1')?.active !== true, 'stream ended');
  assert.ok(Buffer.from(await (await fetch(`${base}/${part1}`)).arrayBuffer()).equals(bytes1), 'same URL, same bytes while run 1 lasts');

  // Published again at once: the next playlist request replaces the ended muxer.
  const two = await publishAndWatch(h, base);
  const run2 = h.strom.live.llhls.running('cam1')!.run;
  assert.notEqual(run2, run1, 'a new run id');
  assert.ok(h.logs.some((l) => l.msg === 'll-hls muxer stopped' && l.reason === 'stream published again'), 'the muxer was restarted');
  const uris2 = mediaUris(two.m);
  assert.ok(uris2.every((u) => u.includes(`_${run2}`)), 'every media URI names run 2');
  assert.ok(!uris2.includes(part1), 'no URI of run 1 is listed again');
  const part2 = allParts(two.m).find((p) => RUN_PART.exec(p.uri)?.[2] === '0')!.uri;
  assert.notEqual(part2, part1, 'part 0 of run 2 has its own URL');
  await assertGone(`${base}/${part1}`, 'run 1\'s part 0');
  await assertGone(`${base}/${one.m.segments[0]!.map!.uri}`, 'run 1\'s init segment');
  await assertGone(`${base}/${one.m.segments[0]!.uri}`, 'run 1\'s segment 0');

  // Idle stop: no request for longer than llhls.idleTimeoutMs after the publisher leaves.
  two.pub.destroy();
  await waitUntil(() => h.strom.live.registry.get('cam1')?.active !== true, 'stream ended');
  await waitUntil(() => h.strom.live.llhls.size === 0, 'muxer stopped when idle', 5_000);
  assert.ok(h.logs.some((l) => l.msg === 'll-hls muxer stopped' && l.reason === 'idle'));

  // Published again after the idle stop. A media URL alone never starts a muxer: none can match it.
  const three = await syntheticPublisher(h.rtmpPort);
  t.after(() => three.destroy());
  sendFrames(three, 0, 2);
  await waitUntil(() => h.strom.live.registry.get('cam1')?.active === true, 'stream live again');
  await assertGone(`${base}/${part2}`, 'run 2\'s part 0 with no muxer running');
  await sleep(50);
  assert.equal(h.strom.live.llhls.size, 0, 'a stale media request started no muxer');
  const first = fetch(`${base}/index.m3u8`);
  await waitUntil(() => h.strom.live.llhls.size === 1, 'muxer started by the playlist request');
  sendFrames(three, 3, 31);
  const m3 = assertLlConformant(await (await first).text());
  const run3 = h.strom.live.llhls.running('cam1')!.run;
  assert.equal(new Set([run1, run2, run3]).size, 3, 'three runs, three ids');
  assert.ok(mediaUris(m3).every((u) => u.includes(`_${run3}`)), 'every media URI names run 3');
  await assertGone(`${base}/${part2}`, 'run 2\'s part 0');
  const part3 = mediaUris(m3).find((u) => RUN_PART.exec(u)?.[2] === '0')!;
  const body3 = await fetch(`${base}/${part3}`);
  assert.equal(body3.status, 200);
  assert.equal(body3.headers.get('cache-control'), 'public, max-age=31536000, immutable');
});
