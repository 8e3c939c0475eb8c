/**
 * deploy/cdn/varnish.vcl in front of a real Strom origin, with real clients on loopback: hls.js in
 * Chromium plays VOD and LL-HLS through Varnish; concurrent blocking playlist requests are
 * coalesced; segments hit; live parts are kept for the origin's immutable lifetime; ranges are
 * answered from whole cached objects; HTTP-FLV is piped uncached; expired playlists revalidate to
 * a 304; live errors are never cached (Varnish would keep a 404 for 2 minutes by default); with
 * the origin gone, grace serves cached VOD, cached live parts are still HITs and live playlists
 * answer 502. What reached the origin is read from a counting proxy between Varnish and Strom.
 * One origin and one varnishd for the file. Timings are printed, never asserted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { launchBrowser, playInBrowser, type PlayResult } from '../helpers/browser.js';
import { cdnUnavailable, startVarnish, type VarnishEdge } from '../helpers/cdn.js';
import { BIG_ID, LIVE_ID, VOD_ID, completePart, originResponses, startCdnOrigin, unplayedSegment, unpublishedPart, type CdnOrigin } from '../helpers/cdn-origin.js';
import { request } from '../helpers/http-client.js';
import { flvViewer } from '../helpers/live-fixtures.js';
import { parseLl } from '../helpers/ll-hls.js';
import { until } from '../helpers/until.js';

const unavailable = cdnUnavailable('varnishd', 'varnish');

describe('Varnish edge (deploy/cdn/varnish.vcl) in front of Strom', { skip: unavailable ?? false }, () => {
  let origin: CdnOrigin;
  let edge: VarnishEdge;
  let browser: Browser;
  const played: string[] = [];
  /** A live part cached at the edge, checked again once the origin is gone. */
  let livePart: { target: string; body: Buffer; at: number } | null = null;

  before(async () => {
    origin = await startCdnOrigin();
    edge = await startVarnish(origin.proxy.port);
    browser = await launchBrowser();
  });

  after(async () => {
    // The origin is closed (its temp directory removed) even if the browser or the edge fails to stop.
    const stopped = await Promise.allSettled([browser?.close(), edge?.stop()]);
    await origin?.close();
    for (const s of stopped) if (s.status === 'rejected') throw s.reason;
  });

  test('hls.js plays a VOD asset through Varnish; each segment reaches the origin once', async () => {
    const src = `${edge.url}/v/${VOD_ID}/master.m3u8`;
    const first = await playInBrowser(browser, { player: 'hls', src, untilEnded: true, timeoutMs: 60_000 });
    assert.deepEqual(first.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), [], `player errors: ${first.errors.join(', ')}; ${edge.diagnostics()}`);
    assert.equal(first.ended, true, `ended (currentTime ${first.currentTime} of ${first.duration})`);
    assert.deepEqual(first.requests.filter((u) => !u.startsWith(edge.url) && !u.startsWith('blob:')), [], 'every media request went to the edge');
    // A new page is a new browser context: nothing comes from Chromium's own cache.
    const second = await playInBrowser(browser, { player: 'hls', src, untilEnded: true, timeoutMs: 60_000 });
    assert.equal(second.ended, true, `second viewer ended (currentTime ${second.currentTime})`);
    played.push(...first.requests, ...second.requests);
    const segments = (r: PlayResult) => new Set(r.requests.filter((u) => /\/seg_\d+\.m4s$/.test(u)).map((u) => u.slice(edge.url.length)));
    const [a, b] = [segments(first), segments(second)];
    const shared = [...b].filter((u) => a.has(u));
    assert.ok(shared.length > 0, 'the second viewer loaded segments the first had loaded');
    for (const u of new Set([...a, ...b])) assert.equal(origin.proxy.count(u), 1, `${u} reached the origin once, whoever loaded it`);
  });

  test('hls.js plays the live stream in low-latency mode through Varnish', async () => {
    const res = await playInBrowser(browser, { player: 'hls', src: `${edge.url}/live/${LIVE_ID}/master.m3u8`, hlsConfig: { lowLatencyMode: true }, untilTime: 6, timeoutMs: 60_000 });
    assert.deepEqual(res.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), [], `player errors: ${res.errors.join(', ')}`);
    assert.ok(res.currentTime >= 6, `played to ${res.currentTime}`);
    assert.equal(res.info.partList, true, 'hls.js saw EXT-X-PART through the edge');
    const blocking = [...new Set(res.requests.filter((u) => /index\.m3u8\?.*_HLS_msn=\d+/.test(u)))];
    assert.ok(blocking.length > 0, 'blocking playlist requests');
    assert.ok(res.requests.some((u) => /part_[0-9a-z]{8}_\d+\.m4s/.test(u)), 'parts fetched');
    for (const u of blocking) {
      const target = u.slice(edge.url.length);
      assert.ok(origin.proxy.count(target) >= 1, `${target} reached the origin`);
    }
    console.log(`varnish: hls.js LL latency ${String(res.info.latency)} s, ${blocking.length} blocking reloads`);
  });

  test('a live part is cached with the origin\'s immutable lifetime: one origin request', async () => {
    // Its name carries the muxer's run id (docs/LIVE.md), so the edge keeps it as long as the origin says.
    const target = await completePart(origin.url);
    assert.match(target, /\/part_[0-9a-z]{8}_\d+\.m4s$/);
    const a = await request(`${edge.url}${target}`);
    const b = await request(`${edge.url}${target}`);
    assert.equal(a.status, 200);
    assert.equal(a.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(b.headers['x-cache-status'], 'HIT');
    assert.deepEqual(b.body, a.body);
    assert.ok(origin.proxy.count(target) <= 1, `${target} reached the origin at most once (hls.js may have loaded it)`);
    livePart = { target, body: a.body, at: Date.now() };
  });

  test('50 concurrent identical blocking requests for an unpublished part reach the origin once', async () => {
    const { target, msn } = await unpublishedPart(edge.url);
    // The playlist without _HLS_msn (max-age=0) is kept away from the cache and its lock.
    assert.equal((await request(`${edge.url}/live/${LIVE_ID}/index.m3u8`)).headers['x-cache-status'], 'BYPASS');
    const now = parseLl((await request(`${origin.url}/live/${LIVE_ID}/index.m3u8`)).body.toString());
    assert.ok((now.mediaSequence ?? 0) + now.segments.length < msn, `segment ${msn} has not started`);
    assert.equal(origin.proxy.count(target), 0, 'nobody asked for it yet');
    const t0 = performance.now();
    const answers = await Promise.all(Array.from({ length: 50 }, async () => {
      const r = await request(`${edge.url}${target}`);
      return { ...r, ms: performance.now() - t0 };
    }));
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
    assert.equal(new Set(answers.map((a) => a.body.toString())).size, 1, 'all 50 got the same playlist');
    const answered = parseLl(answers[0]!.body.toString());
    assert.ok((answered.mediaSequence ?? 0) + answered.segments.length >= msn, `the answer lists segment ${msn}'s first part`);
    assert.equal(origin.proxy.count(target), 1, 'exactly one request reached the origin');
    const statuses = answers.map((a) => String(a.headers['x-cache-status']));
    assert.equal(statuses.filter((s) => s === 'MISS').length, 1, `one miss: ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 'HIT').length, 49, 'the others waited on it and hit');
    assert.ok(answers.every((a) => /^strom-edge; (hit|fwd=miss)$/.test(String(a.headers['cache-status']))), 'RFC 9211 Cache-Status');
    const times = answers.map((a) => a.ms).sort((x, y) => x - y);
    console.log(`varnish: coalesced blocking request: first answer after ${times[0]!.toFixed(0)} ms, the other 49 within ${(times[49]! - times[0]!).toFixed(0)} ms after it`);
  });

  test('a second fetch of a segment is a HIT and the origin saw it once', async () => {
    // A segment no player loaded yet.
    const target = unplayedSegment(origin, played);
    const a = await request(`${edge.url}${target}`);
    const b = await request(`${edge.url}${target}`);
    assert.equal(a.status, 200);
    assert.equal(a.headers['x-cache-status'], 'MISS');
    assert.equal(b.headers['x-cache-status'], 'HIT');
    assert.equal(b.headers['cache-status'], 'strom-edge; hit');
    assert.deepEqual(b.body, a.body);
    assert.equal(b.headers.etag, a.headers.etag, 'the strong ETag is kept');
    assert.equal(origin.proxy.count(target), 1, 'one origin request');
  });

  test('a Range is answered from the whole object, fetched once without Range', async () => {
    const target = `/v/${BIG_ID}/download.mp4`;
    const r = await request(`${edge.url}${target}`, { headers: { Range: 'bytes=2500000-2500099' } });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 2500000-2500099/${origin.big.length}`);
    assert.deepEqual(r.body, origin.big.subarray(2500000, 2500100));
    const again = await request(`${edge.url}${target}`, { headers: { Range: 'bytes=100-109' } });
    assert.equal(again.status, 206);
    assert.deepEqual(again.body, origin.big.subarray(100, 110));
    assert.deepEqual(origin.proxy.requests.filter((q) => q.target === target).map((q) => q.headers.range), [undefined], 'one whole-object fetch');
  });

  test('HTTP-FLV is piped through Varnish and never cached', async () => {
    const target = `/live/${LIVE_ID}.flv`;
    for (let i = 1; i <= 2; i++) {
      const v = flvViewer(`${edge.url}${target}`);
      const res = await v.res;
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-cache-status'], undefined, 'piped: Varnish does not touch the response');
      await v.waitTags(30, 15_000);
      v.req.destroy();
      assert.equal(origin.proxy.count(target), i, `viewer ${i} was its own origin request`);
    }
  });

  test('an expired playlist is revalidated: If-None-Match → 304, then fresh again', async () => {
    const target = `/v/${VOD_ID}/manifest.mpd`;
    const first = await request(`${edge.url}${target}`);
    assert.equal(first.headers['x-cache-status'], 'MISS');
    const etag = first.headers.etag;
    assert.ok(etag?.startsWith('"'), `strong ETag: ${etag}`);
    await sleep(1500); // past max-age=1
    const stale = await request(`${edge.url}${target}`);
    assert.equal(stale.status, 200);
    assert.deepEqual(stale.body, first.body);
    assert.equal(stale.headers['x-cache-status'], 'STALE', 'grace: answered from the copy while a background fetch revalidates it');
    await until(() => origin.proxy.count(target) === 2, 'the background revalidation reached the origin', 5000);
    const cond = origin.proxy.requests.filter((q) => q.target === target)[1]!;
    assert.equal(cond.headers['if-none-match'], etag, 'conditional on the cached ETag');
    await until(() => originResponses(origin.logs, target, 304) === 1, 'the origin answered 304', 5000);
    // The 304 reaches Varnish a moment after the origin logged it.
    await until(async () => (await request(`${edge.url}${target}`)).headers['x-cache-status'] === 'HIT', 'the 304 renewed the copy', 2000, 20);
    assert.equal(origin.proxy.count(target), 2, 'renewed without fetching the body again');
  });

  test('a deleted asset stops playing: its stale copy answers only while the refresh is in flight', async () => {
    const dir = path.join(origin.dataDir, 'assets', 'gone1');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'index.m3u8'), '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-ENDLIST\n');
    const target = '/v/gone1/index.m3u8';
    assert.equal((await request(`${edge.url}${target}`)).status, 200);
    rmSync(dir, { recursive: true });
    await sleep(1500); // the copy expires (max-age=1) …
    await until(async () => (await request(`${origin.url}${target}`)).status === 404, '… and the origin answers 404', 10_000, 100);
    // Within grace, requests get the copy while the background refresh is in flight; its 404
    // (hit-for-miss) then takes the copy's place — well before the 10 s grace would end.
    await until(async () => (await request(`${edge.url}${target}`)).status === 404, 'the edge answers 404', 3000, 50);
    for (let i = 0; i < 3; i++) {
      const r = await request(`${edge.url}${target}`);
      assert.equal(r.status, 404, `then ${r.status} ${String(r.headers['x-cache-status'])}`);
    }
  });

  test('live errors are never cached; with the origin down grace serves cached VOD and live gives 502', async () => {
    const missing = `/live/nosuch/index.m3u8?_HLS_msn=1&_HLS_part=0`;
    for (let i = 1; i <= 2; i++) {
      const r = await request(`${edge.url}${missing}`);
      assert.equal(r.status, 404);
      assert.equal(r.headers['cache-control'], 'no-store', 'the origin says so');
      assert.equal(origin.proxy.count(missing), i, `404 number ${i} came from the origin`);
    }
    const segment = `/v/${VOD_ID}/v144/${readdirSync(path.join(origin.dataDir, 'assets', VOD_ID, 'v144')).find((f) => f.startsWith('seg_'))}`;
    const cachedSegment = await request(`${edge.url}${segment}`);
    const playlist = `/v/${VOD_ID}/manifest.mpd`;
    const cachedPlaylist = await request(`${edge.url}${playlist}`);
    assert.equal(cachedPlaylist.status, 200);
    // A playlist hls.js loaded at the start of the file: expired long before the short grace
    // Varnish allows while the origin is healthy (10 s).
    const old = played.find((u) => /\/v\/cdn1\/v\d+\/index\.m3u8$/.test(u))!.slice(edge.url.length);

    await origin.stopStrom();
    await sleep(1500); // the playlist copy expires (max-age=1)

    const seg = await request(`${edge.url}${segment}`);
    assert.equal(seg.status, 200);
    assert.equal(seg.headers['x-cache-status'], 'HIT');
    assert.deepEqual(seg.body, cachedSegment.body);
    for (let i = 0; i < 3; i++) {
      const pl = await request(`${edge.url}${playlist}`);
      assert.equal(pl.status, 200, `stale playlist, answer ${i + 1}: ${pl.body.toString()}`);
      assert.equal(pl.headers['x-cache-status'], 'STALE', 'served in grace');
      assert.deepEqual(pl.body, cachedPlaylist.body);
    }
    // The live part cached earlier outlives the 10 s the edges used to cap live media at and Varnish's 2 s grace for live objects:
    // still a HIT with the origin gone.
    assert.ok(livePart, 'a live part was cached');
    await sleep(Math.max(0, livePart.at + 13_000 - Date.now()));
    const lp = await request(`${edge.url}${livePart.target}`);
    assert.equal(lp.status, 200, `${livePart.target}: ${lp.status}`);
    assert.equal(lp.headers['x-cache-status'], 'HIT');
    assert.deepEqual(lp.body, livePart.body);
    // Once the probe calls the origin sick, the whole grace (24 h for VOD) is allowed.
    await until(async () => /sick/i.test(await edge.backends()), 'the probe marks the origin sick', 10_000, 200);
    const oldPl = await request(`${edge.url}${old}`);
    assert.equal(oldPl.status, 200, `${old}: ${oldPl.status}`);
    assert.equal(oldPl.headers['x-cache-status'], 'STALE');
    for (const live of [missing, `/live/${LIVE_ID}/index.m3u8`, `/live/${LIVE_ID}/master.m3u8?origin=down`]) {
      const r = await request(`${edge.url}${live}`);
      assert.equal(r.status, 502, `${live}: ${r.status} ${r.body.toString()}`);
    }
  });
});
