/**
 * deploy/cdn/nginx.conf in front of a real Strom origin, with real clients on loopback: hls.js in
 * Chromium plays VOD and LL-HLS through the edge; concurrent blocking playlist requests are
 * coalesced; segments hit; live parts are kept for the origin's immutable lifetime; a Range deep
 * into a progressive MP4 costs one slice; HTTP-FLV streams uncached; expired playlists revalidate
 * to a 304; live errors are never cached; with the origin gone, cached VOD and live parts are
 * still served and live playlists answer 502. What reached the origin is read from a
 * counting proxy between nginx and Strom (and Strom's access log for statuses). One origin and
 * one nginx for the file. Timings are printed, never asserted.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { cdnUnavailable, startNginx } from '../helpers/cdn.js';
import * as cdn from '../helpers/cdn-suite.js';
import { request } from '../helpers/http-client.js';

const unavailable = cdnUnavailable('nginx', 'nginx-light');

describe('nginx edge (deploy/cdn/nginx.conf) in front of Strom', { skip: unavailable ?? false }, () => {
  const s = cdn.setUpSuite('nginx', startNginx);

  test('hls.js plays a VOD asset through nginx; each segment reaches the origin once', async () => {
    const shared = await cdn.playVodTwice(s);
    const log = s.edge.accessLog();
    for (const u of shared) assert.ok(log.includes(`200 HIT ${u}`), `the edge logged a hit for ${u}`);
  });

  test('hls.js plays the live stream in low-latency mode through nginx', () => cdn.playLiveLowLatency(s));

  test('a live part is cached with the origin\'s immutable lifetime: one origin request', () => cdn.cacheLivePart(s));

  // nginx wakes requests waiting on the cache lock by polling every 500 ms (ngx_http_file_cache.c).
  test('50 concurrent identical blocking requests for an unpublished part reach the origin once', () => cdn.coalesceBlockingRequests(s));

  test('a second fetch of a segment is a HIT and the origin saw it once', async () => {
    const second = await cdn.segmentHitsSecondTime(s);
    assert.equal(second.headers['cache-control'], 'public, max-age=31536000, immutable');
  });

  test('a Range deep into a progressive MP4 costs the origin one 1 MiB slice', async () => {
    const { edge, origin } = s;
    const target = await cdn.rangeDeepIntoMp4(s);
    const seen = origin.proxy.requests.filter((q) => q.target === target);
    assert.deepEqual(seen.map((q) => q.headers.range), ['bytes=2097152-3145727'], 'only the third slice was fetched');
    const again = await request(`${edge.url}${target}`, { headers: { Range: 'bytes=3000000-3000009' } });
    assert.equal(again.status, 206);
    assert.equal(again.headers['x-cache-status'], 'HIT');
    assert.deepEqual(again.body, origin.big.subarray(3000000, 3000010));
    const whole = await request(`${edge.url}${target}`);
    assert.equal(whole.status, 200);
    assert.ok(whole.body.equals(origin.big), 'the whole file, stitched from slices');
    assert.deepEqual(origin.proxy.requests.filter((q) => q.target === target).map((q) => q.headers.range).sort(),
      ['bytes=0-1048575', 'bytes=1048576-2097151', 'bytes=2097152-3145727'], 'each slice fetched once');
  });

  test('HTTP-FLV streams through nginx and is never cached', () => cdn.flvUncached(s, 'no cache in this location'));

  test('an expired playlist is revalidated: If-None-Match → 304 (REVALIDATED), then fresh again', async () => {
    const { edge, origin } = s;
    const target = cdn.VOD_MPD;
    const { first, etag } = await cdn.firstFetch(s, target);
    await sleep(2200); // past max-age=1 at nginx's one-second resolution
    const again = await request(`${edge.url}${target}`);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, first.body);
    assert.equal(again.headers['x-cache-status'], 'REVALIDATED', 'the expired copy was revalidated, not refetched');
    assert.equal(origin.proxy.count(target), 2);
    await cdn.revalidatedWith(s, target, etag);
    const fresh = await request(`${edge.url}${target}`);
    assert.equal(fresh.headers['x-cache-status'], 'HIT', 'the 304 renewed the copy');
    assert.deepEqual(fresh.body, first.body);
  });

  test('a deleted asset stops playing: its expired playlist is not answered from the cache', async () => {
    const target = await cdn.deleteCachedPlaylist(s, 2200);
    for (let i = 0; i < 3; i++) {
      const r = await request(`${s.edge.url}${target}`);
      assert.equal(r.status, 404, `answer ${i + 1}: ${r.status} ${String(r.headers['x-cache-status'])}`);
    }
  });

  test('live errors are never cached; with the origin down cached VOD is served and live gives 502', async () => {
    for (const r of await cdn.liveErrorsUncached(s)) assert.equal(r.headers['x-cache-status'], 'MISS');
    const cached = await cdn.cacheVod(s);
    await cdn.servedWithOriginDown(s, cached, 2200, 'served stale (stale-if-error)');
    await cdn.liveGives502(s);
  });
});
