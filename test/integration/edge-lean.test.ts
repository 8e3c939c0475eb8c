/**
 * The edge's lean HTTP/1.1 path (src/edge/edge-lean.ts) on the whole `strom edge`, over raw
 * keep-alive sockets so the exact bytes are visible: a miss streamed from the coalesced fill, then
 * hits with the same fields node:http would send, pipelined requests answered in order, requests
 * the lean path must not answer (Range, conditional, signed, a bad path) handed to node:http on
 * the same connection without losing a byte, concurrent misses on lean connections coalesced into
 * one origin request, and the viewer's trace id and address reaching the origin.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { startStrom, type Running } from '../helpers/http-client.js';
import { startCountingProxy, type CountingProxy } from '../helpers/counting-proxy.js';
import { EDGE_ORIGIN_SETTINGS, startEdgeNode, type EdgeNode } from '../helpers/edge-node.js';
import { until } from '../helpers/until.js';
import { RawConn } from '../helpers/raw-http.js';

const ID = 'edgelean1';
const SIGNED = 'v_edgeLeanSigned1';
let origin: Running;
let proxy: CountingProxy;
let edge: EdgeNode;

before(async () => {
  origin = await startStrom({ ...EDGE_ORIGIN_SETTINGS, 'rtmp.enabled': false });
  await makeFixtureAsset({ dataDir: origin.dataDir, id: ID, seconds: 6, extras: false });
  await makeFixtureAsset({ dataDir: origin.dataDir, id: SIGNED, seconds: 2, extras: false });
  await origin.strom.control.store.videos.create({ id: SIGNED, title: 'signed', visibility: 'signed', status: 'ready' });
  proxy = await startCountingProxy(origin.port);
  edge = await startEdgeNode([`http://127.0.0.1:${proxy.port}`], { 'edge.prefetchSegments': 0 });
  await until(() => edge.edge.sync.synced(), 'the edge synced its playback policy', 10_000);
});

after(async () => {
  await edge?.close();
  await proxy?.close();
  await origin?.stop();
});

/** A raw keep-alive connection to the edge. */
function open(): RawConn {
  return new RawConn(Number(new URL(edge.url).port));
}

const get = (p: string, extra = '') => `GET ${p} HTTP/1.1\r\nHost: edge.test\r\n${extra}\r\n`;
const onDisk = (rel: string) => readFileSync(path.join(origin.dataDir, 'assets', ID, rel));

test('a miss is streamed from the fill, then hits carry Age, Cache-Status, Date and keep-alive; HEAD has no body', async () => {
  const c = open();
  try {
    c.write(get(`/v/${ID}/v360/seg_00001.m4s`));
    const miss = await c.read();
    assert.equal(miss.status, 200);
    assert.match(miss.headers['cache-status']!, /^strom-edge; fwd=miss; fwd-status=200; stored$/);
    assert.equal(miss.headers.age, '0');
    assert.ok(miss.body.equals(onDisk('v360/seg_00001.m4s')), 'the miss body is the object');
    await until(() => edge.edge.cache.store.hot(`/v/${ID}/v360/seg_00001.m4s`) !== undefined, 'stored');
    c.write(get(`/v/${ID}/v360/seg_00001.m4s`));
    const hit = await c.read();
    assert.equal(hit.status, 200);
    assert.match(hit.headers['cache-status']!, /^strom-edge; hit; ttl=\d+$/);
    assert.match(hit.headers.age!, /^\d+$/);
    assert.ok(!Number.isNaN(Date.parse(hit.headers.date!)), 'a Date field');
    assert.equal(hit.headers.connection, 'keep-alive');
    assert.equal(hit.headers['accept-ranges'], 'bytes');
    assert.equal(hit.headers.etag, miss.headers.etag);
    assert.ok(hit.body.equals(miss.body));
    c.write(`HEAD /v/${ID}/v360/seg_00001.m4s HTTP/1.1\r\nHost: edge.test\r\n\r\n`);
    const head = await c.read(true);
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(miss.body.length));
    c.write(get(`/v/${ID}/v360/index.m3u8`)); // nothing was left unread after the HEAD
    assert.equal((await c.read()).status, 200);
    assert.equal(proxy.count(`/v/${ID}/v360/seg_00001.m4s`), 1, 'one origin request for a miss and two hits');
  } finally {
    c.close();
  }
});

test('pipelined requests are answered in order on one connection', async () => {
  const c = open();
  try {
    const paths = [`/v/${ID}/v360/seg_00002.m4s`, `/v/${ID}/v360/seg_00002.m4s`, `/v/${ID}/v240/seg_00002.m4s`, `/v/${ID}/v360/init_0.mp4`];
    c.write(paths.map((p) => get(p)).join(''));
    for (const p of paths) {
      const r = await c.read();
      assert.equal(r.status, 200, p);
      assert.ok(r.body.equals(onDisk(p.slice(`/v/${ID}/`.length))), `${p}: body in order`);
    }
  } finally {
    c.close();
  }
});

test('Range, conditional, signed and malformed requests go to node:http on the same connection, which keeps serving', async () => {
  const c = open();
  const seg = `/v/${ID}/v360/seg_00003.m4s`;
  try {
    c.write(get(seg));
    const whole = await c.read();
    c.write(get(seg, 'Range: bytes=10-19\r\n'));
    const part = await c.read();
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 10-19/${whole.body.length}`);
    assert.ok(part.body.equals(whole.body.subarray(10, 20)));
    c.write(get(seg, `If-None-Match: ${whole.headers.etag}\r\n`));
    assert.equal((await c.read(true)).status, 304);
    c.write(get(`/v/${SIGNED}/v360/index.m3u8`));
    const denied = await c.read();
    assert.equal(denied.status, 403, 'a signed asset without a token is refused by the guard');
    c.write(get(seg));
    const again = await c.read();
    assert.equal(again.status, 200);
    assert.ok(again.body.equals(whole.body));
  } finally {
    c.close();
  }
  const bad = open();
  try {
    bad.write(get(`/v/${ID}/v360/nope/../../../etc/passwd`));
    const r = await bad.read();
    assert.equal(r.status, 400);
  } finally {
    bad.close();
  }
  assert.equal(proxy.count(new RegExp(`^/v/${SIGNED}/`)), 0, 'the refused signed request never reached the origin');
});

test('misses on 20 lean connections at once: one origin request, every viewer gets the whole object', async () => {
  const p = `/v/${ID}/v240/seg_00004.m4s`;
  const conns = await Promise.all(Array.from({ length: 20 }, () => open()));
  try {
    for (const c of conns) c.write(get(p));
    const answers = await Promise.all(conns.map((c) => c.read()));
    const expected = onDisk('v240/seg_00004.m4s');
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.ok(a.body.equals(expected));
    }
    assert.equal(proxy.count(p), 1, 'one origin request');
    assert.ok(answers.some((a) => /collapsed/.test(a.headers['cache-status']!)), 'the others joined the fill');
  } finally {
    for (const c of conns) c.close();
  }
});

test('a lean miss forwards the viewer\'s trace id and address chain; a 404 comes from node:http', async () => {
  const trace = '0af7651916cd43dd8448eb211c80319c';
  const c = open();
  try {
    c.write(get(`/v/${ID}/v240/seg_00005.m4s`, `traceparent: 00-${trace}-b7ad6b7169203331-01\r\nX-Forwarded-For: 203.0.113.7\r\n`));
    assert.equal((await c.read()).status, 200);
    const seen = proxy.requests.find((r) => r.target === `/v/${ID}/v240/seg_00005.m4s`)!;
    assert.match(seen.headers.traceparent!, new RegExp(`^00-${trace}-[0-9a-f]{16}-01$`));
    assert.doesNotMatch(seen.headers.traceparent!, /b7ad6b7169203331/, 'the edge is a new parent span');
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.match(seen.headers.via!, /^1\.1 edge-/);
    c.write(get(`/v/${ID}/v240/seg_09999.m4s`));
    const missing = await c.read();
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['cache-control'], 'no-store');
    c.write(get(`/v/${ID}/v240/seg_00005.m4s`));
    assert.equal((await c.read()).status, 200, 'the connection serves on after the 404');
  } finally {
    c.close();
  }
});
