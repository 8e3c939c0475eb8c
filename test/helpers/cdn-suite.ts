/**
 * What the CDN edge test files (test/e2e/cdn-nginx.test.ts, test/e2e/cdn-varnish.test.ts) share:
 * `setUpSuite` registers the hooks that start one origin, the edge under test in front of its
 * counting proxy, and a browser for the file; the other exports are the test bodies, or the steps
 * of a test, that behave the same through either edge. Each file names its own tests and adds the
 * assertions only its edge satisfies.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { launchBrowser, playInBrowser, type PlayResult } from './browser.js';
import { blockingBurst, burstTimes } from './blocking-burst.js';
import type { Edge } from './cdn.js';
import { BIG_ID, LIVE_ID, VOD_ID, completePart, originResponses, startCdnOrigin, unplayedSegment, type CdnOrigin } from './cdn-origin.js';
import { request, type FullResponse } from './http-client.js';
import { flvViewer } from './live-fixtures.js';
import { until } from './until.js';

/** A live part cached at the edge, checked again once the origin is gone. */
export interface CachedPart {
  target: string;
  body: Buffer;
  /** When it was cached (Date.now()). */
  at: number;
}

/** One file's origin, edge and browser (set before its first test), and what earlier tests leave for later ones. */
export class CdnSuite<E extends Edge> {
  origin!: CdnOrigin;
  edge!: E;
  browser!: Browser;
  /** Every URL the players loaded. */
  readonly played: string[] = [];
  livePart: CachedPart | null = null;

  /** `name` prefixes the timings the tests print. */
  constructor(readonly name: string) {}
}

/** Register the hooks of a file: the origin, `start(port of the origin's counting proxy)` in front of it, and a browser. */
export function setUpSuite<E extends Edge>(name: string, start: (originPort: number) => Promise<E>): CdnSuite<E> {
  const s = new CdnSuite<E>(name);
  before(async () => {
    s.origin = await startCdnOrigin();
    s.edge = await start(s.origin.proxy.port);
    s.browser = await launchBrowser();
  });
  after(async () => {
    // The origin is closed (its temp directory removed) even if the browser or the edge fails to stop.
    const stopped = await Promise.allSettled([s.browser?.close(), s.edge?.stop()]);
    await s.origin?.close();
    for (const r of stopped) if (r.status === 'rejected') throw r.reason;
  });
  return s;
}

/** hls.js plays the VOD asset to the end twice through the edge; each segment reaches the origin once. Resolves with the segments both viewers loaded. */
export async function playVodTwice(s: CdnSuite<Edge>): Promise<string[]> {
  const { edge, origin, browser } = s;
  const src = `${edge.url}/v/${VOD_ID}/master.m3u8`;
  const first = await playInBrowser(browser, { player: 'hls', src, untilEnded: true, timeoutMs: 60_000 });
  assert.deepEqual(first.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), [], `player errors: ${first.errors.join(', ')}; ${edge.diagnostics()}`);
  assert.equal(first.ended, true, `ended (currentTime ${first.currentTime} of ${first.duration})`);
  assert.deepEqual(first.requests.filter((u) => !u.startsWith(edge.url) && !u.startsWith('blob:')), [], 'every media request went to the edge');
  // A new page is a new browser context: nothing comes from Chromium's own cache.
  const second = await playInBrowser(browser, { player: 'hls', src, untilEnded: true, timeoutMs: 60_000 });
  assert.equal(second.ended, true, `second viewer ended (currentTime ${second.currentTime})`);
  s.played.push(...first.requests, ...second.requests);
  const segments = (r: PlayResult) => new Set(r.requests.filter((u) => /\/seg_\d+\.m4s$/.test(u)).map((u) => u.slice(edge.url.length)));
  const [a, b] = [segments(first), segments(second)];
  const shared = [...b].filter((u) => a.has(u));
  assert.ok(shared.length > 0, 'the second viewer loaded segments the first had loaded');
  for (const u of new Set([...a, ...b])) assert.equal(origin.proxy.count(u), 1, `${u} reached the origin once, whoever loaded it`);
  return shared;
}

/** hls.js plays the live stream in low-latency mode through the edge; each distinct blocking playlist request reaches the origin. */
export async function playLiveLowLatency(s: CdnSuite<Edge>): Promise<void> {
  const { edge, origin } = s;
  const res = await playInBrowser(s.browser, { player: 'hls', src: `${edge.url}/live/${LIVE_ID}/master.m3u8`, hlsConfig: { lowLatencyMode: true }, untilTime: 6, timeoutMs: 60_000 });
  assert.deepEqual(res.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), [], `player errors: ${res.errors.join(', ')}`);
  assert.ok(res.currentTime >= 6, `played to ${res.currentTime}`);
  assert.equal(res.info.partList, true, 'hls.js saw EXT-X-PART through the edge');
  const blocking = [...new Set(res.requests.filter((u) => /index\.m3u8\?.*_HLS_msn=\d+/.test(u)))];
  assert.ok(blocking.length > 0, 'blocking playlist requests');
  assert.ok(res.requests.some((u) => /part_[0-9a-z]{8}_\d+\.m4s/.test(u)), 'parts fetched');
  // The query is part of the key: each distinct blocking request reached the origin as itself.
  for (const u of blocking) {
    const target = u.slice(edge.url.length);
    assert.ok(origin.proxy.count(target) >= 1, `${target} reached the origin`);
  }
  console.log(`${s.name}: hls.js LL latency ${String(res.info.latency)} s, ${blocking.length} blocking reloads`);
}

/** A complete live part is cached for the origin's immutable lifetime after one origin request; kept in `s.livePart`. */
export async function cacheLivePart(s: CdnSuite<Edge>): Promise<void> {
  const { edge, origin } = s;
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
  s.livePart = { target, body: a.body, at: Date.now() };
}

/** 50 concurrent identical blocking requests for an unpublished part: one reaches the origin (a MISS), the other 49 wait on it and HIT. */
export async function coalesceBlockingRequests(s: CdnSuite<Edge>): Promise<void> {
  const { edge, origin } = s;
  // The playlist without _HLS_msn (max-age=0) is kept away from the cache and its lock.
  assert.equal((await request(`${edge.url}/live/${LIVE_ID}/index.m3u8`)).headers['x-cache-status'], 'BYPASS');
  const answers = await blockingBurst(edge.url, origin.url, origin.proxy);
  const statuses = answers.map((a) => String(a.headers['x-cache-status']));
  assert.equal(statuses.filter((x) => x === 'MISS').length, 1, `one miss: ${statuses.join(',')}`);
  assert.equal(statuses.filter((x) => x === 'HIT').length, 49, 'the others waited on it and hit');
  assert.ok(answers.every((a) => /^strom-edge; (hit|fwd=miss)$/.test(String(a.headers['cache-status']))), 'RFC 9211 Cache-Status');
  console.log(`${s.name}: coalesced blocking request: ${burstTimes(answers)}`);
}

/** A segment no player loaded, fetched twice: a MISS, then a HIT with the same body and strong ETag; one origin request. Resolves with the second answer. */
export async function segmentHitsSecondTime(s: CdnSuite<Edge>): Promise<FullResponse> {
  const { edge, origin } = s;
  const target = unplayedSegment(origin, s.played);
  const a = await request(`${edge.url}${target}`);
  const b = await request(`${edge.url}${target}`);
  assert.equal(a.status, 200);
  assert.equal(a.headers['x-cache-status'], 'MISS');
  assert.equal(b.headers['x-cache-status'], 'HIT');
  assert.equal(b.headers['cache-status'], 'strom-edge; hit');
  assert.deepEqual(b.body, a.body);
  assert.equal(b.headers.etag, a.headers.etag, 'the strong ETag is kept');
  assert.equal(origin.proxy.count(target), 1, 'one origin request');
  return b;
}

/** A Range deep into the 3 MiB progressive MP4 through the edge: a 206 with those bytes. Resolves with the MP4's path. */
export async function rangeDeepIntoMp4(s: CdnSuite<Edge>): Promise<string> {
  const { edge, origin } = s;
  const target = `/v/${BIG_ID}/download.mp4`;
  const r = await request(`${edge.url}${target}`, { headers: { Range: 'bytes=2500000-2500099' } });
  assert.equal(r.status, 206);
  assert.equal(r.headers['content-range'], `bytes 2500000-2500099/${origin.big.length}`);
  assert.deepEqual(r.body, origin.big.subarray(2500000, 2500100));
  return target;
}

/** Two HTTP-FLV viewers in turn through the edge: each is its own origin request, answered without a cache status (`why`). */
export async function flvUncached(s: CdnSuite<Edge>, why: string): Promise<void> {
  const target = `/live/${LIVE_ID}.flv`;
  for (let i = 1; i <= 2; i++) {
    const v = flvViewer(`${s.edge.url}${target}`);
    const res = await v.res;
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-cache-status'], undefined, why);
    await v.waitTags(30, 15_000);
    v.req.destroy();
    assert.equal(s.origin.proxy.count(target), i, `viewer ${i} was its own origin request`);
  }
}

/** The VOD DASH MPD: a playlist kind (max-age=delivery.playlistMaxAgeS = 1) that hls.js never loads. */
export const VOD_MPD = `/v/${VOD_ID}/manifest.mpd`;

/** The first fetch of `target` through the edge: a MISS carrying a strong ETag. Resolves with the answer and the ETag. */
export async function firstFetch(s: CdnSuite<Edge>, target: string): Promise<{ first: FullResponse; etag: string }> {
  const first = await request(`${s.edge.url}${target}`);
  assert.equal(first.headers['x-cache-status'], 'MISS');
  const etag = first.headers.etag ?? '';
  assert.ok(etag.startsWith('"'), `strong ETag: ${first.headers.etag}`);
  return { first, etag };
}

/** The edge's second origin request for `target` was conditional on `etag`, and the origin answered it 304. */
export async function revalidatedWith(s: CdnSuite<Edge>, target: string, etag: string): Promise<void> {
  const cond = s.origin.proxy.requests.filter((q) => q.target === target)[1]!;
  assert.equal(cond.headers['if-none-match'], etag, 'conditional on the cached ETag');
  await until(() => originResponses(s.origin.logs, target, 304) === 1, 'the origin answered 304', 5000);
}

/** A VOD playlist the edge cached, then deleted at the origin and expired after `expireMs`: the origin answers 404. Resolves with its path. */
export async function deleteCachedPlaylist(s: CdnSuite<Edge>, expireMs: number): Promise<string> {
  const dir = path.join(s.origin.dataDir, 'assets', 'gone1');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'index.m3u8'), '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-ENDLIST\n');
  const target = '/v/gone1/index.m3u8';
  assert.equal((await request(`${s.edge.url}${target}`)).status, 200);
  rmSync(dir, { recursive: true });
  await sleep(expireMs); // the copy expires (max-age=1) …
  await until(async () => (await request(`${s.origin.url}${target}`)).status === 404, '… and the origin answers 404', 10_000, 100);
  return target;
}

/** A blocking playlist request for a stream that does not exist. */
export const MISSING_LIVE = '/live/nosuch/index.m3u8?_HLS_msn=1&_HLS_part=0';

/** MISSING_LIVE twice through the edge: two 404s, both from the origin (no-store). Resolves with the edge's answers. */
export async function liveErrorsUncached(s: CdnSuite<Edge>): Promise<FullResponse[]> {
  const answers: FullResponse[] = [];
  for (let i = 1; i <= 2; i++) {
    const r = await request(`${s.edge.url}${MISSING_LIVE}`);
    assert.equal(r.status, 404);
    assert.equal(r.headers['cache-control'], 'no-store', 'the origin says so');
    assert.equal(s.origin.proxy.count(MISSING_LIVE), i, `404 number ${i} came from the origin`);
    answers.push(r);
  }
  return answers;
}

/** A VOD segment and playlist cached at the edge, with the answers the edge gave for them. */
export interface CachedVod {
  segment: string;
  segmentBody: Buffer;
  playlist: string;
  playlistBody: Buffer;
}

/** Fetch a VOD segment and VOD_MPD through the edge, so it holds them when the origin goes. */
export async function cacheVod(s: CdnSuite<Edge>): Promise<CachedVod> {
  const { edge, origin } = s;
  const segment = `/v/${VOD_ID}/v144/${readdirSync(path.join(origin.dataDir, 'assets', VOD_ID, 'v144')).find((f) => f.startsWith('seg_'))}`;
  const cachedSegment = await request(`${edge.url}${segment}`);
  const cachedPlaylist = await request(`${edge.url}${VOD_MPD}`);
  assert.equal(cachedPlaylist.status, 200);
  return { segment, segmentBody: cachedSegment.body, playlist: VOD_MPD, playlistBody: cachedPlaylist.body };
}

/**
 * Stop the origin and wait `expireMs` for the playlist copy to expire: the cached segment is a HIT,
 * the cached playlist is answered STALE (`staleWhy`), and the live part cached earlier is still a
 * HIT once it has outlived the 10 s the edges used to cap live media at.
 */
export async function servedWithOriginDown(s: CdnSuite<Edge>, cached: CachedVod, expireMs: number, staleWhy: string): Promise<void> {
  const { edge } = s;
  await s.origin.stopStrom();
  await sleep(expireMs); // the playlist copy expires (max-age=1)

  const seg = await request(`${edge.url}${cached.segment}`);
  assert.equal(seg.status, 200);
  assert.equal(seg.headers['x-cache-status'], 'HIT');
  assert.deepEqual(seg.body, cached.segmentBody);
  for (let i = 0; i < 3; i++) {
    const pl = await request(`${edge.url}${cached.playlist}`);
    assert.equal(pl.status, 200, `stale playlist, answer ${i + 1}: ${pl.body.toString()}`);
    assert.equal(pl.headers['x-cache-status'], 'STALE', staleWhy);
    assert.deepEqual(pl.body, cached.playlistBody);
  }
  const { livePart } = s;
  assert.ok(livePart, 'a live part was cached');
  await sleep(Math.max(0, livePart.at + 13_000 - Date.now()));
  const lp = await request(`${edge.url}${livePart.target}`);
  assert.equal(lp.status, 200, `${livePart.target}: ${lp.status}`);
  assert.equal(lp.headers['x-cache-status'], 'HIT');
  assert.deepEqual(lp.body, livePart.body);
}

/** With the origin gone, live playlists (blocking, plain, master) answer 502 at the edge. */
export async function liveGives502(s: CdnSuite<Edge>): Promise<void> {
  for (const live of [MISSING_LIVE, `/live/${LIVE_ID}/index.m3u8`, `/live/${LIVE_ID}/master.m3u8?origin=down`]) {
    const r = await request(`${s.edge.url}${live}`);
    assert.equal(r.status, 502, `${live}: ${r.status} ${r.body.toString()}`);
  }
}
