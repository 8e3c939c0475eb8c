/**
 * Signed live playback over LL-HLS: the playback guard runs for every LL-HLS object, and the
 * `token` query of the playlist URL is carried onto every URI the playlists list (init, segments,
 * parts, preload hint, the master's variant), so a player that only knows the signed master URL
 * can fetch everything; without the token every object is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { fail } from '../../src/errors.js';
import { avcFrameBody, aacFrameBody, startLive, syntheticPublisher } from '../helpers/live-fixtures.js';
import { allParts, parseLl } from '../helpers/ll-hls.js';

test('guarded stream: token carried onto every listed URI; objects without it are refused', async (t) => {
  const h = await startLive({ 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500 });
  t.after(() => h.close());
  h.strom.live.setPlaybackGuard((req, streamId) => {
    if (!new URL(req.url ?? '/', 'http://x').searchParams.has('token')) throw fail('PLAYBACK_DENIED', streamId, 'token required');
  });
  const pub = await syntheticPublisher(h.rtmpPort);
  const send = (from: number, to: number) => {
    for (let i = from; i <= to; i++) {
      pub.send(9, i * 50, avcFrameBody(i % 10 === 0, i, 200));
      pub.send(8, i * 50, aacFrameBody(30));
    }
  };
  send(0, 2);
  await sleep(200);
  const base = `${h.httpUrl}/live/cam1`;
  assert.equal((await fetch(`${base}/master.m3u8`)).status, 403, 'no token → refused before any muxer starts');
  assert.equal(h.strom.live.llhls.size, 0);
  const masterP = fetch(`${base}/master.m3u8?token=abc`);
  for (let i = 0; i < 200 && h.strom.live.llhls.size === 0; i++) await sleep(20);
  send(3, 25);
  const master = parseLl(await (await masterP).text());
  const variant = master.playlists![0]!.uri;
  assert.equal(variant, 'index.m3u8?token=abc');
  const media = await (await fetch(`${base}/${variant}`)).text();
  const m = parseLl(media);
  const uris = [m.segments[0]!.map!.uri, ...m.segments.map((s) => s.uri), ...allParts(m).map((p) => p.uri), m.preloadSegment!.preloadHints![0]!.uri];
  assert.ok(uris.length > 5);
  for (const u of uris) assert.match(u, /\?token=abc$/, `${u} carries the token`);
  for (const u of uris.slice(0, -1)) assert.equal((await fetch(`${base}/${u}`)).status, 200, u);
  for (const u of uris.slice(0, -1)) assert.equal((await fetch(`${base}/${u.split('?')[0]}`)).status, 403, `${u} without token`);
});
