/**
 * The edge's pull-through cache against real origins over real sockets: a Strom origin serving a
 * packaged asset (hits, coalescing, ranges, prefetch, byte budgets, disk tier) and small scripted
 * origins where a test needs exact control of the origin's answer (streaming, 304 revalidation,
 * stale-if-error, failover, waiter bound). A counting proxy in front of the origin records what
 * actually reached it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { testConfig, type RawSettings } from '../../src/config.js';
import { EdgeCache } from '../../src/edge/edge-cache.js';
import { createEdgeHandler } from '../../src/edge/edge-routes.js';
import { OriginPool } from '../../src/edge/origin-pool.js';
import { Prefetcher } from '../../src/edge/prefetch.js';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { request, startStrom, type Running } from '../helpers/http-client.js';
import { startCountingProxy, type CountingProxy } from '../helpers/counting-proxy.js';
import { until } from '../helpers/until.js';

const log = pino({ level: 'silent' });

interface Edge {
  url: string;
  cache: EdgeCache;
  close(): Promise<void>;
}

async function startEdge(origins: string[], overrides: RawSettings = {}): Promise<Edge> {
  const config = testConfig({ 'edge.origins': origins, 'edge.healthIntervalMs': 200, 'edge.upstreamTimeoutMs': 2_000, ...overrides });
  const pool = new OriginPool(config.edge.origins, { connections: config.edge.upstreamConnections, healthIntervalMs: config.edge.healthIntervalMs, timeoutMs: config.edge.upstreamTimeoutMs }, log);
  const cache = new EdgeCache(pool, config, log);
  const prefetcher = new Prefetcher(cache, config.edge.prefetchSegments, config.edge.prefetchConcurrency);
  const handle = createEdgeHandler({ cache, prefetcher, guard: () => undefined, synced: () => true, isSigned: () => false, nodeId: 'edge-test' });
  const server = http.createServer((req, res) => {
    if (!handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cache,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      cache.close();
      await pool.close();
    },
  };
}

/** A scripted origin: `answer` decides every response. */
async function scriptedOrigin(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ url: string; seen: http.IncomingMessage[]; server: http.Server }> {
  const seen: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') return void res.end('{}');
    seen.push(req);
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

/** GET with the path sent exactly as written (no URL normalisation of `..`). */
function rawGet(base: string, p: string): Promise<{ status: number; body: Buffer }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    http.get({ host: u.hostname, port: u.port, path: p, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

const close = (s: http.Server) => new Promise((resolve) => (s.closeAllConnections(), s.close(resolve)));

describe('edge cache in front of a Strom origin', () => {
  let origin: Running;
  let proxy: CountingProxy;
  let edge: Edge;
  const ID = 'edgecache1';

  before(async () => {
    origin = await startStrom();
    await makeFixtureAsset({ dataDir: origin.dataDir, id: ID, seconds: 6, segmentSeconds: 1 });
    proxy = await startCountingProxy(origin.port);
    edge = await startEdge([`http://127.0.0.1:${proxy.port}`], { 'edge.prefetchSegments': 2 });
  });
  after(async () => {
    await edge.close();
    await proxy.close();
    await origin.stop();
  });

  test('a miss is filled once and stored; the next request is a hit with Age and Cache-Status', async () => {
    const file = `/v/${ID}/v360/init_0.mp4`;
    const direct = await request(`${origin.url}${file}`);
    const first = await request(`${edge.url}${file}`);
    assert.equal(first.status, 200);
    assert.match(String(first.headers['cache-status']), /^strom-edge; fwd=miss; fwd-status=200; stored$/);
    assert.deepEqual(first.body, direct.body);
    assert.equal(first.headers.etag, direct.headers.etag);
    const second = await request(`${edge.url}${file}`);
    assert.match(String(second.headers['cache-status']), /^strom-edge; hit; ttl=\d+$/);
    assert.match(String(second.headers.age), /^\d+$/);
    assert.deepEqual(second.body, direct.body);
    assert.equal(proxy.count(file), 1);
  });

  test('20 concurrent misses for one object → one origin request, every viewer gets every byte', async () => {
    const file = `/v/${ID}/v240/seg_00003.m4s`;
    const direct = await request(`${origin.url}${file}`);
    const all = await Promise.all(Array.from({ length: 20 }, () => request(`${edge.url}${file}`)));
    for (const r of all) {
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, direct.body);
    }
    assert.equal(proxy.count(file), 1);
    assert.ok(all.some((r) => /collapsed|hit/.test(String(r.headers['cache-status']))));
  });

  test('a range is cut from the stored object; the origin is asked for the whole object', async () => {
    const file = `/v/${ID}/v360/seg_00001.m4s`;
    const direct = await request(`${origin.url}${file}`);
    const r = await request(`${edge.url}${file}`, { headers: { range: 'bytes=10-99' } });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 10-99/${direct.body.length}`);
    assert.deepEqual(r.body, direct.body.subarray(10, 100));
    const seen = proxy.requests.filter((x) => x.target === file);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.headers.range, undefined);
    const beyond = await request(`${edge.url}${file}`, { headers: { range: `bytes=${direct.body.length + 5}-` } });
    assert.equal(beyond.status, 416);
  });

  test('conditional requests are answered from the stored validators (304), never forwarded', async () => {
    const file = `/v/${ID}/v360/seg_00001.m4s`;
    const r = await request(`${edge.url}${file}`);
    const again = await request(`${edge.url}${file}`, { headers: { 'if-none-match': String(r.headers.etag) } });
    assert.equal(again.status, 304);
    assert.equal(proxy.requests.filter((x) => x.target === file && x.headers['if-none-match'] !== undefined).length, 0);
  });

  test('cache warming: segment k prefetches k+1 and k+2, which are then hits', async () => {
    await request(`${edge.url}/v/${ID}/v360/seg_00002.m4s`);
    await until(() => proxy.count(`/v/${ID}/v360/seg_00003.m4s`) === 1 && proxy.count(`/v/${ID}/v360/seg_00004.m4s`) === 1, 'prefetches reached the origin', 5_000);
    await until(() => edge.cache.store.memory.map.has(`/v/${ID}/v360/seg_00004.m4s`), 'prefetched object stored', 5_000);
    const next = await request(`${edge.url}/v/${ID}/v360/seg_00003.m4s`);
    assert.match(String(next.headers['cache-status']), /hit/);
    assert.equal(proxy.count(`/v/${ID}/v360/seg_00003.m4s`), 1);
    assert.ok(edge.cache.stats.prefetchStarted >= 2);
  });

  test('prefetch past the last segment is asked once, then remembered as missing', async () => {
    const last = readdirSync(path.join(origin.dataDir, 'assets', ID, 'v240')).filter((f) => f.startsWith('seg_')).sort().at(-1)!;
    await request(`${edge.url}/v/${ID}/v240/${last}`);
    const n = Number(/(\d+)/.exec(last)![1]);
    const past = `/v/${ID}/v240/seg_${String(n + 1).padStart(5, '0')}.m4s`;
    await until(() => proxy.count(past) === 1, 'prefetch of the missing segment', 5_000);
    await request(`${edge.url}/v/${ID}/v240/${last}`);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(proxy.count(past), 1);
  });

  test('path tricks are refused at the edge with 400 and never reach the origin', async () => {
    const before = proxy.requests.length;
    for (const p of [`/v/${ID}/../../etc/passwd`, `/v/${ID}/%2e%2e/x.m4s`, `/v/${ID}/.hidden`, '/s/tok', `/live/bad!id/x.m3u8`]) {
      const r = await rawGet(edge.url, p);
      assert.equal(r.status, 400, p);
      assert.equal(JSON.parse(r.body.toString()).error.code, 'BAD_PATH');
    }
    assert.equal(proxy.requests.length, before);
  });

  test('the memory tier holds its byte budget; the disk tier takes what memory evicts', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'strom-edge-disk-'));
    const small = await startEdge([origin.url], { 'edge.cacheBytes': 160_000, 'edge.diskDir': dir, 'edge.diskBytes': 300_000, 'edge.prefetchSegments': 0 });
    try {
      const files = readdirSync(path.join(origin.dataDir, 'assets', ID, 'v360')).filter((f) => f.endsWith('.m4s')).map((f) => `/v/${ID}/v360/${f}`);
      for (const f of files) await request(`${small.url}${f}`);
      const s = small.cache.store.stats();
      assert.ok(s.memory.bytes <= 160_000, `memory ${s.memory.bytes}`);
      assert.ok(s.memory.evictions > 0);
      await until(() => (small.cache.store.stats().disk?.objects ?? 0) > 0, 'disk tier written', 5_000);
      assert.ok(small.cache.store.stats().disk!.bytes <= 300_000);
      // The newest such object: the last write may still be in flight, and the disk evicts its oldest when it lands.
      const evicted = files.findLast((f) => !small.cache.store.memory.map.has(f) && small.cache.store.disk!.has(f))!;
      assert.ok(evicted, 'an object lives on disk only');
      const r = await request(`${small.url}${evicted}`);
      assert.match(String(r.headers["cache-status"]), /hit; ttl=\d+; detail=disk/, `${r.status} ${JSON.stringify(r.headers)}`);
      const rel = evicted.split('/').slice(3).join('/');
      assert.deepEqual(r.body, readFileSync(path.join(origin.dataDir, 'assets', ID, rel)));
    } finally {
      await small.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('edge cache against scripted origins', () => {
  test('a slow origin response reaches every waiting viewer chunk by chunk, before it completes', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const o = await scriptedOrigin((_req, res) => {
      res.writeHead(200, { 'content-type': 'video/iso.segment', 'cache-control': 'public, max-age=60' });
      res.write(Buffer.alloc(1000, 1));
      void gate.then(() => res.end(Buffer.alloc(1000, 2)));
    });
    const edge = await startEdge([o.url]);
    try {
      const firstBytes = await Promise.all([0, 1, 2].map(() => new Promise<{ got: number; res: http.IncomingMessage }>((resolve, reject) => {
        http.get(`${edge.url}/live/s1/part1.m4s`, (res) => res.once('data', (d: Buffer) => resolve({ got: d.length, res }))).on('error', reject);
      })));
      for (const f of firstBytes) assert.equal(f.got, 1000); // the first chunk arrived while the origin still held the rest
      assert.equal(o.seen.length, 1);
      release();
      const totals = await Promise.all(firstBytes.map((f) => new Promise<number>((resolve) => {
        let n = f.got;
        f.res.on('data', (d: Buffer) => (n += d.length));
        f.res.on('end', () => resolve(n));
      })));
      assert.deepEqual(totals, [2000, 2000, 2000]);
    } finally {
      await edge.close();
      await close(o.server);
    }
  });

  test('an expired object is revalidated with If-None-Match; a 304 keeps the stored body', async () => {
    const o = await scriptedOrigin((req, res) => {
      if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, { etag: '"v1"', 'cache-control': 'public, max-age=1' }).end();
      res.writeHead(200, { etag: '"v1"', 'cache-control': 'public, max-age=1', 'content-type': 'application/vnd.apple.mpegurl' }).end('#EXTM3U\n');
    });
    const edge = await startEdge([o.url]);
    try {
      assert.equal((await request(`${edge.url}/v/a1/index.m3u8`)).body.toString(), '#EXTM3U\n');
      assert.match(String((await request(`${edge.url}/v/a1/index.m3u8`)).headers['cache-status']), /hit/);
      await new Promise((r) => setTimeout(r, 1_100));
      const r = await request(`${edge.url}/v/a1/index.m3u8`);
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), '#EXTM3U\n');
      assert.match(String(r.headers['cache-status']), /fwd=stale; fwd-status=304/);
      assert.equal(o.seen.length, 2);
      assert.equal(o.seen[1]!.headers['if-none-match'], '"v1"');
      assert.match(String((await request(`${edge.url}/v/a1/index.m3u8`)).headers['cache-status']), /hit/); // fresh again
    } finally {
      await edge.close();
      await close(o.server);
    }
  });

  test('origin down: a stored object is served stale (stale-if-error), an unknown one is 502', async () => {
    const o = await scriptedOrigin((_req, res) => res.writeHead(200, { 'cache-control': 'public, max-age=0', etag: '"x"' }).end('hello'));
    const edge = await startEdge([o.url]);
    try {
      assert.equal((await request(`${edge.url}/v/a2/seg_00001.m4s`)).body.toString(), 'hello');
      await close(o.server);
      const stale = await request(`${edge.url}/v/a2/seg_00001.m4s`);
      assert.equal(stale.status, 200);
      assert.equal(stale.body.toString(), 'hello');
      assert.match(String(stale.headers['cache-status']), /fwd=stale; fwd-status=502; detail=stale-if-error/);
      const missing = await request(`${edge.url}/v/a2/seg_00009.m4s`);
      assert.equal(missing.status, 502);
      assert.equal(JSON.parse(missing.body.toString()).error.code, 'EDGE_ORIGIN_UNREACHABLE');
      assert.equal(edge.cache.stats.staleIfError, 1);
    } finally {
      await edge.close();
    }
  });

  test('failover: the first origin refuses connections, the second answers', async () => {
    const dead = await scriptedOrigin(() => undefined);
    const deadUrl = dead.url;
    await close(dead.server);
    const o = await scriptedOrigin((_req, res) => res.writeHead(200, { 'cache-control': 'public, max-age=60' }).end('from-b'));
    const edge = await startEdge([deadUrl, o.url]);
    try {
      const r = await request(`${edge.url}/v/a3/poster.jpg`);
      assert.equal(r.body.toString(), 'from-b');
      assert.equal(o.seen.length, 1);
    } finally {
      await edge.close();
      await close(o.server);
    }
  });

  test('more viewers than edge.maxWaiters on one fill → 503 EDGE_BUSY for the excess', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const o = await scriptedOrigin((_req, res) => void gate.then(() => res.writeHead(200, { 'cache-control': 'public, max-age=60' }).end('x')));
    const edge = await startEdge([o.url], { 'edge.maxWaiters': 2 });
    try {
      const pending = Array.from({ length: 4 }, () => request(`${edge.url}/v/a4/seg_00001.m4s`));
      await until(() => edge.cache.stats.busy === 2, 'two refused', 5_000);
      release();
      const statuses = (await Promise.all(pending)).map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 200, 503, 503]);
    } finally {
      await edge.close();
      await close(o.server);
    }
  });
});
