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
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { cdnUnavailable, startVarnish } from '../helpers/cdn.js';
import * as cdn from '../helpers/cdn-suite.js';
import { request } from '../helpers/http-client.js';
import { until } from '../helpers/until.js';

const unavailable = cdnUnavailable('varnishd', 'varnish');

describe('Varnish edge (deploy/cdn/varnish.vcl) in front of Strom', { skip: unavailable ?? false }, () => {
  const s = cdn.setUpSuite('varnish', startVarnish);

  test('hls.js plays a VOD asset through Varnish; each segment reaches the origin once', async () => {
    await cdn.playVodTwice(s);
  });

  test('hls.js plays the live stream in low-latency mode through Varnish', () => cdn.playLiveLowLatency(s));

  test('a live part is cached with the origin\'s immutable lifetime: one origin request', () => cdn.cacheLivePart(s));

  test('50 concurrent identical blocking requests for an unpublished part reach the origin once', () => cdn.coalesceBlockingRequests(s));

  test('a second fetch of a segment is a HIT and the origin saw it once', async () => {
    await cdn.segmentHitsSecondTime(s);
  });

  test('a Range is answered from the whole object, fetched once without Range', async () => {
    const { edge, origin } = s;
    const target = await cdn.rangeDeepIntoMp4(s);
    const again = await request(`${edge.url}${target}`, { headers: { Range: 'bytes=100-109' } });
    assert.equal(again.status, 206);
    assert.deepEqual(again.body, origin.big.subarray(100, 110));
    assert.deepEqual(origin.proxy.requests.filter((q) => q.target === target).map((q) => q.headers.range), [undefined], 'one whole-object fetch');
  });

  test('HTTP-FLV is piped through Varnish and never cached', () => cdn.flvUncached(s, 'piped: Varnish does not touch the response'));

  test('an expired playlist is revalidated: If-None-Match → 304, then fresh again', async () => {
    const { edge, origin } = s;
    const target = cdn.VOD_MPD;
    const { first, etag } = await cdn.firstFetch(s, target);
    await sleep(1500); // past max-age=1
    const stale = await request(`${edge.url}${target}`);
    assert.equal(stale.status, 200);
    assert.deepEqual(stale.body, first.body);
    assert.equal(stale.headers['x-cache-status'], 'STALE', 'grace: answered from the copy while a background fetch revalidates it');
    await until(() => origin.proxy.count(target) === 2, 'the background revalidation reached the origin', 5000);
    await cdn.revalidatedWith(s, target, etag);
    // The 304 reaches Varnish a moment after the origin logged it.
    await until(async () => (await request(`${edge.url}${target}`)).headers['x-cache-status'] === 'HIT', 'the 304 renewed the copy', 2000, 20);
    assert.equal(origin.proxy.count(target), 2, 'renewed without fetching the body again');
  });

  test('a deleted asset stops playing: its stale copy answers only while the refresh is in flight', async () => {
    const { edge } = s;
    const target = await cdn.deleteCachedPlaylist(s, 1500);
    // Within grace, requests get the copy while the background refresh is in flight; its 404
    // (hit-for-miss) then takes the copy's place — well before the 10 s grace would end.
    await until(async () => (await request(`${edge.url}${target}`)).status === 404, 'the edge answers 404', 3000, 50);
    for (let i = 0; i < 3; i++) {
      const r = await request(`${edge.url}${target}`);
      assert.equal(r.status, 404, `then ${r.status} ${String(r.headers['x-cache-status'])}`);
    }
  });

  test('live errors are never cached; with the origin down grace serves cached VOD and live gives 502', async () => {
    const { edge } = s;
    await cdn.liveErrorsUncached(s);
    const cached = await cdn.cacheVod(s);
    // A playlist hls.js loaded at the start of the file: expired long before the short grace
    // Varnish allows while the origin is healthy (10 s).
    const old = s.played.find((u) => /\/v\/cdn1\/v\d+\/index\.m3u8$/.test(u))!.slice(edge.url.length);

    // The cached live part also outlives Varnish's 2 s grace for live objects.
    await cdn.servedWithOriginDown(s, cached, 1500, 'served in grace');
    // Once the probe calls the origin sick, the whole grace (24 h for VOD) is allowed.
    await until(async () => /sick/i.test(await edge.backends()), 'the probe marks the origin sick', 10_000, 200);
    const oldPl = await request(`${edge.url}${old}`);
    assert.equal(oldPl.status, 200, `${old}: ${oldPl.status}`);
    assert.equal(oldPl.headers['x-cache-status'], 'STALE');
    await cdn.liveGives502(s);
  });
});
