/**
 * VOD through the whole `strom edge` (buildEdge), with real clients on loopback. One origin
 * (buildStrom with `cluster.secret`) and one edge in front of it for the file; a counting proxy
 * between the two records every request that reaches the origin.
 * - hls.js in Chromium plays an asset through the edge: the first viewer's objects reach the
 *   origin once each; a second viewer's segments are all answered from the edge (hits);
 * - signed playback is verified at the edge from the policy it synced: hls.js plays a `/s/<token>/`
 *   URL from the origin's API; no token, a forged token and, once the key is revoked at the
 *   origin, the revoked token get 403 from the edge, and none of those requests reach the origin;
 * - an edge with a 1 MB memory budget under concurrent fetch loops of a many-segment asset stays
 *   within the budget (sampled from its /metrics during the load) and counts its evictions; the
 *   disk tier behind it counts exactly the bytes it holds;
 * - /readyz is 503 before the first policy snapshot and while no origin is healthy, 200 once
 *   synced with a healthy origin; /metrics has the edge's request, origin, viewer and sync series;
 * - the origin is stopped while a viewer watches: the cached asset keeps playing to the end, cached
 *   objects are served (hit or stale-if-error) and an uncached one is 502 EDGE_ORIGIN_UNREACHABLE.
 * Timings are printed, never asserted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import type { Scope } from '../../src/auth/scopes.js';
import { launchBrowser, playInBrowser, type PlayResult } from '../helpers/browser.js';
import { startCountingProxy, type CountingProxy } from '../helpers/counting-proxy.js';
import { EDGE_ORIGIN_SETTINGS, metricSample, startEdgeNode, startGate, type EdgeNode } from '../helpers/edge-node.js';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { request, startStrom, tempDir, type FullResponse, type Running } from '../helpers/http-client.js';
import { until } from '../helpers/until.js';

const VOD = 'edgevod1';
const SIGNED = 'v_edgeSigned0001';
const MANY = 'edgemany1';
/** The played asset has one rendition, so every viewer loads the same segments (hls.js's ABR picks differently from run to run). */
const ONE_RUNG = [{ name: 'v240', height: 240, kbps: 300 }];

let origin: Running;
let originStopped = false;
let proxy: CountingProxy;
let edge: EdgeNode;
let browser: Browser;
let apiSecret: Uint8Array;

before(async () => {
  // VOD playlists expire after 1 s at the edge, so revalidation and stale-if-error can be seen.
  origin = await startStrom({ ...EDGE_ORIGIN_SETTINGS, 'rtmp.enabled': false, 'delivery.playlistMaxAgeS': 1 });
  await makeFixtureAsset({ dataDir: origin.dataDir, id: VOD, seconds: 4, rungs: ONE_RUNG });
  await makeFixtureAsset({ dataDir: origin.dataDir, id: SIGNED, seconds: 3 });
  await makeFixtureAsset({ dataDir: origin.dataDir, id: MANY, seconds: 16, segmentSeconds: 0.5, extras: false });
  await origin.strom.control.store.videos.create({ id: SIGNED, title: 'signed at the edge', visibility: 'signed', status: 'ready' });
  apiSecret = loadApiSecret(origin.strom.config);
  proxy = await startCountingProxy(origin.port);
  edge = await startEdgeNode([`http://127.0.0.1:${proxy.port}`]);
  await until(() => edge.edge.sync.synced(), 'the edge synced its playback policy', 10_000);
  browser = await launchBrowser();
});

after(async () => {
  // The origin is stopped (its temp directory removed) even if the browser or the edge fails to stop.
  const stopped = await Promise.allSettled([browser?.close(), edge?.close()]);
  await proxy?.close();
  if (!originStopped) await origin?.stop();
  for (const s of stopped) if (s.status === 'rejected') throw s.reason;
});

async function api(method: string, p: string, scopes: Scope[], json?: unknown): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${await signApiToken(origin.strom.config, apiSecret, { scopes, ttlS: 600 })}` };
  if (json !== undefined) headers['content-type'] = 'application/json';
  return fetch(origin.url + p, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
}

/** Error code of a JSON error response. */
function codeOf(r: FullResponse): string {
  return (JSON.parse(r.body.toString()) as { error: { code: string } }).error.code;
}

/** Paths (from `/v/`) of every playlist, init and media segment of an asset on the origin's disk. */
function assetObjects(id: string): string[] {
  const root = path.join(origin.dataDir, 'assets', id);
  const out = [`/v/${id}/master.m3u8`];
  for (const rung of readdirSync(root).filter((d) => /^v\d+$/.test(d)).sort()) {
    for (const f of readdirSync(path.join(root, rung)).sort()) out.push(`/v/${id}/${rung}/${f}`);
  }
  return out;
}

/** Media segments a player loaded, as paths on the edge. */
function segmentsOf(r: PlayResult, base: string): Set<string> {
  return new Set(r.requests.filter((u) => u.startsWith(base) && /\/seg_\d+\.m4s$/.test(u)).map((u) => new URL(u).pathname));
}

function assertPlayedToEnd(r: PlayResult, who: string): void {
  assert.deepEqual(r.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), [], `${who}: player errors: ${r.errors.join(', ')}`);
  assert.equal(r.ended, true, `${who} ended (currentTime ${r.currentTime} of ${r.duration})`);
}

/** Requests for an asset's objects that reached the origin (health checks and the policy sync left out). */
const atOrigin = (id: string) => proxy.requests.filter((q) => q.target.startsWith(`/v/${id}/`) || q.target.includes(`/${id}/`));

test('hls.js plays a VOD asset through the edge; a second viewer\'s segments are all edge hits', async () => {
  const src = `${edge.url}/v/${VOD}/master.m3u8`;
  const first = await playInBrowser(browser, { player: 'hls', src, untilEnded: true, timeoutMs: 40_000 });
  assertPlayedToEnd(first, 'first viewer');
  assert.deepEqual(first.requests.filter((u) => !u.startsWith(edge.url) && !u.startsWith('blob:')), [], 'every media request went to the edge');
  const a = segmentsOf(first, edge.url);
  assert.ok(a.size >= 2, `segments loaded: ${[...a].join(' ')}`);
  // First time through: everything came from the origin, each object once (the miss, or the
  // edge's prefetch of the next segments that the viewer's request then joined or hit).
  assert.equal(proxy.count(`/v/${VOD}/master.m3u8`), 1);
  for (const u of a) assert.equal(proxy.count(u), 1, `${u} reached the origin once`);
  assert.ok(edge.edge.cache.stats.miss > 0, 'the first viewer missed');

  const mark = proxy.requests.length;
  const hitsBefore = edge.edge.cache.stats.hit;
  // A new page is a new browser context: nothing comes from Chromium's own cache.
  const second = await playInBrowser(browser, { player: 'hls', src, untilEnded: true, timeoutMs: 40_000 });
  assertPlayedToEnd(second, 'second viewer');
  const b = segmentsOf(second, edge.url);
  assert.ok(b.size >= 2);
  for (const u of b) assert.equal(proxy.count(u), 1, `${u}: still one origin request after the second viewer`);
  const reached = proxy.requests.slice(mark).filter((q) => q.target.startsWith(`/v/${VOD}/`));
  // Only the playlists, expired after 1 s, were revalidated; no init or media segment was asked for.
  assert.deepEqual(reached.filter((q) => !q.target.endsWith('.m3u8')).map((q) => q.target), [], 'the second viewer\'s media all came from the edge');
  assert.ok(reached.every((q) => q.headers['if-none-match'] !== undefined), 'playlists were revalidated, not refetched');
  assert.ok(edge.edge.cache.stats.hit - hitsBefore >= b.size, `hits during the second play: ${edge.edge.cache.stats.hit - hitsBefore} for ${b.size} segments`);
  const again = await request(`${edge.url}${[...b][0]}`);
  assert.equal(again.status, 200);
  assert.match(String(again.headers['cache-status']), /^strom-edge; hit; ttl=\d+$/);
  assert.equal(again.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal(again.headers['accept-ranges'], 'bytes', 'one Accept-Ranges field (the edge\'s, not the origin\'s as well)');
});

test('signed playback is verified at the edge: hls.js plays with a token; no token, a forged or a revoked one → 403 that never reaches the origin', async () => {
  const created = await api('POST', '/api/v1/signing-keys', ['admin']);
  assert.equal(created.status, 201);
  const { kid } = (await created.json()) as { kid: string };
  await until(() => edge.edge.sync.tokens.activeKeys().some((k) => k.kid === kid), 'the new key at the edge', 5_000);
  assert.equal(edge.edge.sync.policy.isSigned(SIGNED), true, 'the edge knows the video is signed');
  const res = await api('POST', `/api/v1/videos/${SIGNED}/playback-token`, ['videos:read'], { ttlS: 600 });
  assert.equal(res.status, 200);
  const { token, playback } = (await res.json()) as { token: string; kid: string; playback: { hls: string } };

  const r = await playInBrowser(browser, { player: 'hls', src: edge.url + playback.hls, untilEnded: true, timeoutMs: 40_000 });
  assertPlayedToEnd(r, 'signed viewer');
  const media = r.requests.filter((u) => !u.startsWith('blob:'));
  assert.ok(media.some((u) => u.endsWith('.m4s')), 'media segments requested');
  assert.ok(media.every((u) => u.startsWith(`${edge.url}/s/${token}/${SIGNED}/`)), 'every derived URL went to the edge with the token');
  const segment = new URL(media.find((u) => u.endsWith('.m4s'))!).pathname;
  const plain = segment.replace(`/s/${token}/`, '/v/');
  // The edge keys signed objects by their /v/ path and fills them through the viewer's token path.
  assert.ok(atOrigin(SIGNED).every((q) => q.target.startsWith(`/s/${token}/${SIGNED}/`)), 'the origin was asked through the token path');
  assert.equal(proxy.count(segment), 1);

  const seenBefore = atOrigin(SIGNED).length;
  const refused = async (p: string, why: string) => {
    const x = await request(`${edge.url}${p}`);
    assert.equal(x.status, 403, `${why}: ${x.status} ${x.body.toString()}`);
    assert.equal(codeOf(x), 'PLAYBACK_DENIED', why);
    assert.equal(x.headers['cache-status'], undefined, `${why}: answered before the cache`);
  };
  await refused(`/v/${SIGNED}/master.m3u8`, 'no token');
  await refused(plain, 'a cached segment without token');
  await refused(`/s/forged.jwt.token/${SIGNED}/master.m3u8`, 'a forged token');
  assert.equal((await request(`${edge.url}${segment}`)).status, 200, 'the valid token still plays');

  assert.equal((await api('DELETE', `/api/v1/signing-keys/${kid}`, ['admin'])).status, 200);
  // A cached immutable segment is answered by the edge alone: it turns 403 once the revocation arrives.
  const t0 = performance.now();
  await until(async () => (await request(`${edge.url}${segment}`)).status === 403, 'the revoked token refused at the edge', 10_000, 50);
  console.log(`edge: revocation effective at the edge ${(performance.now() - t0).toFixed(0)} ms after the API call returned`);
  await refused(segment, 'a revoked token, cached segment');
  await refused(playback.hls, 'a revoked token, playlist');
  await refused(`/s/${token}/${SIGNED}/poster.jpg`, 'a revoked token, object never cached');
  assert.equal(atOrigin(SIGNED).length, seenBefore, 'no refused request reached the origin');
});

test('an edge with a 1 MB memory budget stays within it under concurrent fetch loops and evicts; its disk tier counts the bytes it holds', async () => {
  const budget = 1024 * 1024;
  const diskBudget = 2 * budget;
  const diskDir = tempDir('edge-disk');
  const small = await startEdgeNode([origin.url], { 'edge.cacheBytes': budget, 'edge.diskDir': diskDir, 'edge.diskBytes': diskBudget });
  try {
    await until(() => small.edge.sync.synced(), 'the small edge synced', 10_000);
    const objects = assetObjects(MANY).filter((p) => !p.endsWith('.m3u8'));
    const bodies = new Map(objects.map((p) => [p, readFileSync(path.join(origin.dataDir, 'assets', p.slice(3)))]));
    const total = [...bodies.values()].reduce((n, b) => n + b.length, 0);
    assert.ok(total > 2 * budget, `the asset (${total} bytes in ${objects.length} objects) is over twice the budget`);

    const series = 'strom_edge_cache_bytes{tier="memory"}';
    const samples: number[] = [];
    let loading = true;
    const sampler = (async () => {
      while (loading) {
        samples.push(await small.sample(series));
        await sleep(20);
      }
    })();
    let served = 0;
    let maxInProcess = 0;
    const loop = async (seed: number) => {
      for (let round = 0; round < 2; round++) {
        // Each loop walks the asset in its own order, so loops both share and evict objects.
        const order = objects.map((p, i) => ({ p, k: (i * 7919 + seed * 104729 + round * 31) % objects.length })).sort((x, y) => x.k - y.k);
        for (const { p } of order) {
          const r = await request(`${small.url}${p}`);
          assert.equal(r.status, 200, `${p}: ${r.status}`);
          assert.ok(r.body.equals(bodies.get(p)!), `${p}: the origin's bytes (${String(r.headers['cache-status'])})`);
          served += r.body.length;
          maxInProcess = Math.max(maxInProcess, small.edge.cache.store.stats().memory.bytes);
        }
      }
    };
    const t0 = performance.now();
    try {
      await Promise.all([1, 2, 3, 4].map(loop));
    } finally {
      loading = false;
      await sampler;
    }
    const text = await small.metrics();
    samples.push(metricSample(text, series));
    const evictions = metricSample(text, 'strom_edge_cache_evictions_total{tier="memory"}');
    console.log(`edge: ${served} bytes served in ${(performance.now() - t0).toFixed(0)} ms; memory tier at most ${Math.max(...samples)} bytes over ${samples.length} scrapes (${maxInProcess} in process); ${evictions} evictions`);
    assert.ok(samples.length >= 5, `sampled ${samples.length} times during the load`);
    assert.ok(samples.every((n) => Number.isFinite(n) && n <= budget), `memory tier over budget: max ${Math.max(...samples)} > ${budget}`);
    assert.ok(maxInProcess <= budget && maxInProcess > budget / 2, `memory tier in process: max ${maxInProcess}`);
    assert.equal(metricSample(text, 'strom_edge_cache_max_bytes{tier="memory"}'), budget);
    assert.ok(evictions > 0, 'evictions counted');
    assert.ok(served > 4 * budget);
    // The disk tier behind it stays within its budget and counts exactly the bytes of the objects it holds.
    const disk = () => small.edge.cache.store.disk!;
    const held = () => [...disk().index.values()].reduce((n, e) => n + e.size, 0);
    await until(() => disk().bytes === held(), `disk tier bytes (${disk().bytes}) = the bytes of the objects it holds (${held()})`, 5_000);
    assert.ok(disk().bytes <= diskBudget && disk().bytes > budget, `disk tier: ${disk().bytes} bytes`);
    assert.equal(metricSample(await small.metrics(), 'strom_edge_cache_bytes{tier="disk"}'), disk().bytes);
  } finally {
    await small.close();
    rmSync(diskDir, { recursive: true, force: true });
  }
});

test('/readyz: 503 before the first policy snapshot and while no origin is healthy, 200 otherwise; /metrics has the edge series', async () => {
  const gate = await startGate(origin.port, true);
  const fresh = await startEdgeNode([`http://127.0.0.1:${gate.port}`]);
  try {
    type Ready = { status: string; failing?: string[]; checks: Record<string, string | null> };
    const readyz = async () => {
      const r = await request(`${fresh.url}/readyz`);
      return { status: r.status, body: JSON.parse(r.body.toString()) as Ready };
    };
    await until(async () => (await readyz()).body.failing?.includes('origins') === true, 'the origin found unreachable', 5_000);
    const cut = await readyz();
    assert.equal(cut.status, 503);
    assert.deepEqual(cut.body.failing?.sort(), ['origins', 'policy'], JSON.stringify(cut.body));
    assert.match(String(cut.body.checks.policy), /no policy snapshot from the origin yet/);
    const notSynced = await request(`${fresh.url}/v/${VOD}/master.m3u8`);
    assert.equal(notSynced.status, 503);
    assert.equal(codeOf(notSynced), 'EDGE_NOT_SYNCED');
    assert.equal(notSynced.headers['retry-after'], '1');
    assert.equal(await fresh.sample('strom_edge_sync_connected'), 0);

    gate.open();
    await until(async () => (await readyz()).status === 200, 'ready once synced with a healthy origin', 15_000, 100);
    assert.equal((await readyz()).body.status, 'ready');
    assert.equal((await request(`${fresh.url}/v/${VOD}/master.m3u8`)).status, 200);
    assert.equal(await fresh.sample('strom_edge_sync_connected'), 1);

    gate.shut();
    await until(async () => (await readyz()).status === 503, 'not ready once no origin is healthy', 5_000, 50);
    const down = (await readyz()).body;
    assert.deepEqual(down.failing, ['origins'], 'the last policy stays in force: only the origins check fails');
    assert.match(String(down.checks.origins), /no origin healthy/);
    gate.open();
    await until(async () => (await readyz()).status === 200, 'ready again once the origin answers', 10_000, 50);
  } finally {
    await fresh.close();
    await gate.close();
  }

  assert.equal((await request(`${edge.url}/v/${VOD}/master.m3u8`)).status, 200); // a VOD viewer within the last 10 s
  const text = await edge.metrics();
  for (const series of ['strom_edge_requests_total{result="hit"}', 'strom_edge_requests_total{result="miss"}', 'strom_edge_origin_requests_total{kind="fill"}']) {
    assert.ok(metricSample(text, series) > 0, `${series} counted`);
  }
  assert.ok(Number.isFinite(metricSample(text, 'strom_edge_origin_requests_total{kind="prefetch"}')));
  assert.ok(metricSample(text, 'strom_edge_viewers{surface="vod"}') >= 1, 'a VOD viewer counted');
  assert.equal(metricSample(text, 'strom_edge_viewers{surface="ll-hls"}'), 0);
  assert.equal(metricSample(text, 'strom_edge_sync_connected'), 1);
});

test('the origin stops while a viewer watches: the cached asset plays to the end, cached objects are served, an uncached one is 502', async () => {
  const objects = assetObjects(VOD);
  const cached = new Map<string, Buffer>();
  for (const p of objects) {
    const r = await request(`${edge.url}${p}`);
    assert.equal(r.status, 200, p);
    cached.set(p, r.body);
  }
  const playing = playInBrowser(browser, { player: 'hls', src: `${edge.url}/v/${VOD}/master.m3u8`, untilEnded: true, timeoutMs: 40_000 });
  await sleep(1500);
  originStopped = true;
  await origin.stop();
  const before = proxy.requests.length;
  const r = await playing;
  assertPlayedToEnd(r, 'viewer watching while the origin stopped');

  let stale = 0;
  for (const p of objects) {
    const x = await request(`${edge.url}${p}`);
    assert.equal(x.status, 200, `${p}: ${x.status} ${x.body.toString()}`);
    const cs = String(x.headers['cache-status']);
    assert.match(cs, /^strom-edge; (hit; ttl=\d+|fwd=stale; fwd-status=\d+; detail=stale-if-error)$/, `${p}: ${cs}`);
    if (cs.includes('stale-if-error')) stale++;
    assert.ok(x.body.equals(cached.get(p)!), `${p}: the cached bytes`);
  }
  assert.ok(stale >= 1, 'the expired playlists were served stale-if-error');
  const uncached = await request(`${edge.url}/v/${VOD}/poster.jpg`);
  assert.equal(uncached.status, 502, uncached.body.toString());
  assert.equal(codeOf(uncached), 'EDGE_ORIGIN_UNREACHABLE');
  console.log(`edge: origin down; ${stale} stale-if-error answers; ${proxy.requests.length - before} requests tried the origin meanwhile`);
});
