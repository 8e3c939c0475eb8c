/**
 * LL-HLS over real HTTP with a synthetic RTMP publisher whose frames the test controls: the muxer
 * starts on the first request, blocking reloads and the preload-hinted part are answered when the
 * frame completing the part arrives (not by a timer), the 400/503 rules, delta updates, caching
 * and CORS per object kind, segments = their parts, ENDLIST at the end, idle stop.
 * Frames: video every 50 ms, keyframe every 10 frames; parts 200 ms (4 frames), segments 500 ms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { aacFrameBody, avcFrameBody, startLive, syntheticPublisher, type LiveHarness } from '../helpers/live-fixtures.js';
import { allParts, assertLlConformant, parseLl } from '../helpers/ll-hls.js';
import { initName, partName, segmentName } from '../../src/live/formats/hls/live-media-names.js';

interface Res { status: number; headers: http.IncomingHttpHeaders; body: Buffer }

/** GET/OPTIONS with the raw response (headers as sent, body collected). */
function get(url: string, method = 'GET', onHeaders?: (h: http.IncomingMessage) => void): Promise<Res> {
  return new Promise((resolve, reject) => {
    http.request(url, { method }, (res) => {
      onHeaders?.(res);
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject).end();
  });
}

/** Resolves true if `p` settled within `ms` (used only to check a request is still held). */
async function settled(p: Promise<unknown>, ms = 150): Promise<boolean> {
  return Promise.race([p.then(() => true, () => true), sleep(ms).then(() => false)]);
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(25);
  assert.ok(cond(), what);
}

function frames(c: RtmpClient, from: number, to: number): void {
  for (let i = from; i <= to; i++) {
    c.send(9, i * 50, avcFrameBody(i % 10 === 0, i, 300));
    c.send(8, i * 50, aacFrameBody(40));
    c.send(8, i * 50 + 23, aacFrameBody(40));
  }
}

test('LL-HLS: blocking reload, preload hint, 400/503, skip, caching, CORS, ENDLIST, idle stop', async (t) => {
  const h: LiveHarness = await startLive({ 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500, 'llhls.windowSegments': 20, 'llhls.idleTimeoutMs': 1000, 'delivery.corsOrigin': '*' });
  t.after(() => h.close());
  const base = `${h.httpUrl}/live/cam1`;
  assert.equal((await get(`${base}/index.m3u8`)).status, 404, 'not live → 404');
  const pub = await syntheticPublisher(h.rtmpPort);
  frames(pub, 0, 12);
  await until(() => h.strom.live.status('cam1').ingestBitrate >= 0 && h.strom.live.registry.get('cam1')?.active === true, 'stream live');
  await sleep(100);
  assert.equal(h.strom.live.llhls.size, 0, 'no muxer before the first HLS request');

  // First request starts the muxer (from the GOP cache: frames 10..12) and waits for segment 0.
  const first = get(`${base}/index.m3u8?token=t1`);
  await until(() => h.strom.live.llhls.size === 1, 'muxer started by the first request');
  assert.equal(await settled(first), false, 'held until the first segment exists');
  frames(pub, 13, 31);
  const r1 = await first;
  assert.equal(r1.status, 200);
  assert.equal(r1.headers['content-type'], 'application/vnd.apple.mpegurl');
  assert.equal(r1.headers['cache-control'], 'public, max-age=0');
  assert.equal(r1.headers['access-control-allow-origin'], '*');
  assert.match(String(r1.headers['access-control-expose-headers']), /Age/);
  const m1 = assertLlConformant(r1.body.toString());
  const run = h.strom.live.llhls.running('cam1')!.run; // media URLs name the muxer's run
  assert.match(run, /^[0-9a-z]{8}$/);
  assert.equal(m1.segments[0]!.uri, `${segmentName(run, 0)}?token=t1`, 'query tokens carried onto listed URIs');
  assert.equal(m1.segments[0]!.map?.uri, `${initName(run, 0)}?token=t1`);
  assert.equal(m1.targetDuration, 1);

  // Blocking reload for segment 1 (completed by frame 30), then for part 0 of segment 2 (needs frame 34).
  const r2 = await get(`${base}/index.m3u8?_HLS_msn=1`);
  assert.equal(r2.status, 200);
  assert.equal(r2.headers['cache-control'], 'public, max-age=6', 'blocking responses cacheable for 6 × target duration');
  const m2 = assertLlConformant(r2.body.toString());
  assert.ok(m2.segments.some((s) => s.uri === segmentName(run, 1)));
  const hint = m2.preloadSegment!.preloadHints![0]!.uri;
  assert.equal(hint, partName(run, h.strom.live.llhls.running('cam1')!.nextPartSeq));
  assert.equal(allParts(m2).filter((p) => p.uri.startsWith(`part_${run}_`)).length >= 5, true);
  const seen: { res: http.IncomingMessage | null } = { res: null };
  const blocked = get(`${base}/index.m3u8?_HLS_msn=2&_HLS_part=0`);
  const hinted = get(`${base}/${hint}`, 'GET', (res) => (seen.res = res));
  assert.equal(await settled(blocked), false, 'blocking request held while the part is incomplete');
  assert.equal(await settled(hinted), false, 'hinted part held while incomplete');
  assert.ok(seen.res, 'hinted part: response headers sent at once');
  assert.equal(seen.res.headers['transfer-encoding'], 'chunked');
  assert.equal(seen.res.headers['cache-control'], 'public, max-age=31536000, immutable');
  frames(pub, 32, 34); // frame 34 completes part 30..33
  const [r3, part] = await Promise.all([blocked, hinted]);
  assert.equal(r3.status, 200);
  const m3 = assertLlConformant(r3.body.toString());
  assert.equal(m3.preloadSegment?.parts?.[0]?.uri, hint, 'the awaited part is listed');
  assert.equal(m3.preloadSegment?.parts?.[0]?.independent, true);
  assert.equal(part.status, 200);
  assert.equal(part.body.toString('latin1', 4, 8), 'moof', 'a part is a complete CMAF chunk');
  const again = await get(`${base}/${hint}`);
  assert.deepEqual(again.body, part.body);
  assert.equal(again.headers['content-length'], String(part.body.length));
  assert.equal(again.headers['cache-control'], 'public, max-age=31536000, immutable');

  // 400s at once; 503 after 3 × target duration.
  const bad1 = await get(`${base}/index.m3u8?_HLS_part=1`);
  assert.equal(bad1.status, 400);
  assert.match(bad1.body.toString(), /requires _HLS_msn/);
  const bad2 = await get(`${base}/index.m3u8?_HLS_msn=5`);
  assert.equal(bad2.status, 400, 'msn > last + 2');
  assert.match(bad2.body.toString(), /_HLS_msn=5/);
  const late = await get(`${base}/index.m3u8?_HLS_msn=4`);
  assert.equal(late.status, 503, 'held longer than 3 × target duration');

  // Segments are their parts; init and segments immutable; plain view; OPTIONS; master.
  const seg1 = await get(`${base}/${segmentName(run, 1)}`);
  const seg1Parts = m3.segments.find((s) => s.uri === segmentName(run, 1))!.parts!;
  const partBodies = await Promise.all(seg1Parts.map((p) => get(`${base}/${p.uri}`)));
  assert.deepEqual(seg1.body, Buffer.concat(partBodies.map((p) => p.body)));
  assert.equal(seg1.headers['content-type'], 'video/iso.segment');
  assert.equal(seg1.headers['cache-control'], 'public, max-age=31536000, immutable');
  const init = await get(`${base}/${initName(run, 0)}`);
  assert.equal(init.body.toString('latin1', 4, 8), 'ftyp');
  assert.equal(init.headers['cache-control'], 'public, max-age=31536000, immutable');
  const plain = await get(`${base}/plain.m3u8`);
  assert.doesNotMatch(plain.body.toString(), /EXT-X-PART|PRELOAD-HINT|SERVER-CONTROL/);
  assert.equal(parseLl(plain.body.toString()).segments.length, m3.segments.length);
  assert.match(String(plain.headers['cache-control']), /max-age=0/, 'plain playlist ≤ half the target duration');
  const pre = await get(`${base}/index.m3u8`, 'OPTIONS');
  assert.equal(pre.status, 204);
  assert.match(String(pre.headers['access-control-allow-headers']), /Range/);
  const master = parseLl((await get(`${base}/master.m3u8`)).body.toString());
  assert.equal(master.playlists?.[0]?.uri, 'index.m3u8');
  assert.match(master.playlists?.[0]?.attributes.CODECS ?? '', /^avc1\.64001f,mp4a\.40\.2$/);
  const beyond = await get(`${base}/${partName(run, 99999)}`);
  assert.equal(beyond.status, 404, 'a part beyond the hint is not served');
  assert.equal(beyond.headers['cache-control'], 'no-store', 'a live 404 is never stored: the URL may name a part later');
  for (const stale of ['part_0.m4s', 'seg_1.m4s', 'init.mp4', partName('zzzzzzzz', 0)]) assert.equal((await get(`${base}/${stale}`)).status, 404, `${stale}: no run, or another run`);

  // Delta update once the window is longer than CAN-SKIP-UNTIL (6 s).
  frames(pub, 35, 215); // segment k = frames 10(k+1)..10(k+1)+9: segment 19 completes at frame 210
  for (let msn = 4; msn < 19; msn += 2) assert.equal((await get(`${base}/index.m3u8?_HLS_msn=${msn}`)).status, 200, `follow to msn ${msn}`);
  const full = await get(`${base}/index.m3u8?_HLS_msn=19`);
  const delta = await get(`${base}/index.m3u8?_HLS_msn=19&_HLS_skip=YES`);
  const fm = assertLlConformant(full.body.toString());
  const dm = parseLl(delta.body.toString());
  assert.equal(dm.version, 9);
  assert.ok((dm.skip?.skippedSegments ?? 0) > 0, 'segments skipped');
  assert.equal(dm.skip!.skippedSegments + dm.segments.length, fm.segments.length, 'skipped + listed = the full playlist');
  assert.equal(dm.mediaSequence, fm.mediaSequence);

  // End of stream: a held request is released with ENDLIST; then the idle muxer stops.
  const held = get(`${base}/index.m3u8?_HLS_msn=21`);
  await sleep(50);
  pub.destroy();
  const end = await held;
  assert.equal(end.status, 200);
  const em = parseLl(end.body.toString());
  assert.equal(em.endList, true);
  assert.doesNotMatch(end.body.toString(), /PRELOAD-HINT/);
  await until(() => h.strom.live.llhls.size === 0, 'muxer stopped when idle');
});
