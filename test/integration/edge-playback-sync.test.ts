/**
 * Playback policy sync from an origin to an edge, over real sockets against a real origin
 * (buildStrom with `cluster.secret` on a single node): the snapshot makes the edge synced and its
 * guard decide like the origin's; key additions and revocations, visibility changes and asset
 * invalidations reach it as they happen; the node-to-node header is enforced; a reconnect's
 * snapshot replaces the state (a revocation made while the edge was cut off takes effect); the
 * subscriber bound answers 503 and a subscriber that stops reading is disconnected.
 * The edge reaches the origin through a TCP gate the test can shut (cut and refuse) and open again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingMessage } from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { buildStrom, type Strom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { isStromError } from '../../src/errors.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import type { Scope } from '../../src/auth/scopes.js';
import { signRelayRequest } from '../../src/live/relay/relay-auth.js';
import { OriginPool } from '../../src/edge/origin-pool.js';
import { EdgePlaybackSync } from '../../src/edge/playback-sync.js';
import { metricSample, startGate, type Gate } from '../helpers/edge-node.js';
import { onSseEvents, type SseEvent } from '../helpers/sse.js';
import { until } from '../helpers/until.js';

const SECRET = 'edge-sync-test-secret-0123456789';
const log = createLogger('silent');

let dir: string;
let strom: Strom;
let url: string;
let gate: Gate;
let origins: OriginPool;
let sync: EdgePlaybackSync;
let guardServer: http.Server;
let guardUrl: string;
let apiSecret: Uint8Array;
const registry = new Registry();

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'strom-edge-sync-'));
  strom = await buildStrom(testConfig({ dataDir: dir, 'rtmp.enabled': false, 'cluster.secret': SECRET, 'cluster.maxEdges': 2 }));
  ({ url } = await strom.listen());
  apiSecret = loadApiSecret(strom.config);
  gate = await startGate(Number(new URL(url).port));
  origins = new OriginPool([`http://127.0.0.1:${gate.port}`], { connections: 2, healthIntervalMs: 1_000, timeoutMs: 2_000 }, log);
  sync = new EdgePlaybackSync({ origins, secret: SECRET, nodeId: 'edge-1', config: testConfig({ 'edge.upstreamTimeoutMs': 2_000 }), log });
  sync.register(registry);
  // The edge's guard on real requests: GET /<id>[?token=…] → 200, or the refusal's status and code.
  guardServer = http.createServer((req, res) => {
    const id = new URL(req.url ?? '/', 'http://edge').pathname.slice(1);
    const answer = (status: number, code: string) => res.writeHead(status, { 'content-type': 'text/plain' }).end(code);
    Promise.resolve()
      .then(() => sync.guard(req, id, '', null, res))
      .then(() => answer(200, 'OK'), (err: unknown) => answer(isStromError(err) ? err.statusCode : 500, isStromError(err) ? err.code : String(err)));
  });
  await new Promise<void>((resolve) => guardServer.listen(0, '127.0.0.1', resolve));
  guardUrl = `http://127.0.0.1:${(guardServer.address() as net.AddressInfo).port}`;
});

after(async () => {
  await sync.close();
  await origins.close();
  await new Promise<void>((resolve) => guardServer.close(() => resolve()));
  await gate.close();
  await strom.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The edge guard's verdict for `id` with an optional token: "200" or "<status> <code>". */
async function edge(id: string, token?: string): Promise<string> {
  const r = await fetch(`${guardUrl}/${id}${token ? `?token=${token}` : ''}`);
  const text = await r.text();
  return r.status === 200 ? '200' : `${r.status} ${text}`;
}

async function api(method: string, p: string, scopes: Scope[], json?: unknown): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${await signApiToken(strom.config, apiSecret, { scopes, ttlS: 600 })}` };
  if (json !== undefined) headers['content-type'] = 'application/json';
  return fetch(url + p, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
}

async function newKey(): Promise<string> {
  const r = await api('POST', '/api/v1/signing-keys', ['admin']);
  assert.equal(r.status, 201);
  return ((await r.json()) as { kid: string }).kid;
}

async function playbackToken(id: string): Promise<{ token: string; kid: string }> {
  const r = await api('POST', `/api/v1/videos/${id}/playback-token`, ['videos:read'], {});
  assert.equal(r.status, 200);
  return (await r.json()) as { token: string; kid: string };
}

async function setVisibility(id: string, visibility: 'public' | 'signed'): Promise<void> {
  assert.equal((await api('PATCH', `/api/v1/videos/${id}`, ['videos:write'], { visibility })).status, 200);
}

/** Value of a metric sample in exposition text (labels as written), or NaN. */
async function sample(reg: Registry, series: string): Promise<number> {
  return metricSample(await reg.metrics(), series);
}

const originSubscribers = () => sample(strom.obs.metrics.registry, 'strom_edge_sync_subscribers');
const edgeKids = () => sync.tokens.activeKeys().map((k) => k.kid);

/** Ids and tokens shared by the tests, in order. */
const s = { signed: '', pub: '', live: '', kid1: '', kid2: '', token1: '', token2: '', pubToken: '' };

test('an edge refuses playback until the snapshot; then its guard decides like the origin\'s', async () => {
  assert.equal(await edge('anything'), '503 EDGE_NOT_SYNCED');
  assert.equal(sync.synced(), false);
  s.kid1 = await newKey();
  const { store } = strom.control;
  s.signed = (await store.videos.create({ visibility: 'signed' })).id;
  s.pub = (await store.videos.create()).id;
  s.live = (await store.liveStreams.create({ visibility: 'signed' })).id;

  sync.start();
  await until(() => sync.synced(), 'the first snapshot');
  assert.equal(sync.policy.isSigned(s.signed), true);
  assert.equal(sync.policy.isSigned(s.live), true, 'live streams are in the signed set too');
  assert.equal(sync.policy.isSigned(s.pub), false);
  assert.deepEqual(edgeKids(), [s.kid1]);

  ({ token: s.token1 } = await playbackToken(s.signed));
  ({ token: s.pubToken } = await playbackToken(s.pub));
  assert.equal(await edge(s.signed, s.token1), '200', 'a valid token');
  assert.equal(await edge(s.signed), '403 PLAYBACK_DENIED', 'no token');
  assert.equal(await edge(s.signed, s.pubToken), '403 PLAYBACK_DENIED', 'a token of another video');
  assert.equal(await edge(s.signed, 'garbage'), '403 PLAYBACK_DENIED', 'not a JWT');
  assert.equal(await edge(s.pub), '200', 'a public video needs no token');

  assert.equal(await sample(registry, 'strom_edge_sync_connected'), 1);
  assert.equal(await sample(registry, 'strom_edge_sync_snapshots_total'), 1);
  assert.equal(await sample(registry, 'strom_edge_sync_signed_ids'), 2);
  assert.ok((await sample(registry, 'strom_edge_sync_age_seconds')) >= 0);
  assert.equal(await originSubscribers(), 1);
});

test('keys added and revoked, visibility changes and invalidations reach the edge as they happen', async () => {
  s.kid2 = await newKey();
  await until(() => edgeKids().includes(s.kid2), 'key-added at the edge');
  const second = await playbackToken(s.signed);
  assert.equal(second.kid, s.kid2, 'the newest key signs');
  s.token2 = second.token;
  assert.equal(await edge(s.signed, s.token2), '200');

  assert.equal((await api('DELETE', `/api/v1/signing-keys/${s.kid1}`, ['admin'])).status, 200);
  await until(async () => (await edge(s.signed, s.token1)) === '403 PLAYBACK_DENIED', 'the revoked key refused at the edge', 5_000);
  assert.equal(await edge(s.signed, s.token2), '200', 'other keys stay valid');

  await setVisibility(s.signed, 'public');
  await until(async () => (await edge(s.signed)) === '200', 'signed → public at the edge', 5_000);
  await setVisibility(s.signed, 'signed');
  await until(async () => (await edge(s.signed)) === '403 PLAYBACK_DENIED', 'public → signed at the edge', 5_000);

  const invalidated: Array<string | null> = [];
  sync.onInvalidate((id) => invalidated.push(id));
  const gone = (await strom.control.store.videos.create({ visibility: 'signed' })).id;
  await until(() => sync.policy.isSigned(gone), 'a new signed video at the edge', 5_000);
  assert.equal((await api('DELETE', `/api/v1/videos/${gone}`, ['videos:write'])).status, 204);
  await until(() => invalidated.includes(gone), 'the deleted video invalidated at the edge', 5_000);
  assert.equal(sync.policy.isSigned(gone), false, 'a deleted video leaves the signed set');
  strom.delivery.catalog.invalidateAll(); // what a cluster node does after a resync
  await until(() => invalidated.includes(null), 'invalidate-everything at the edge', 5_000);

  assert.ok((await sample(registry, 'strom_edge_sync_deltas_total{type="key-revoked"}')) >= 1);
  assert.ok((await sample(registry, 'strom_edge_sync_deltas_total{type="visibility"}')) >= 2);
  assert.ok((await sample(registry, 'strom_edge_sync_deltas_total{type="invalidate"}')) >= 2);
});

test('the sync endpoint needs the node-to-node header: 401 without, 403 with a wrong secret', async () => {
  const code = async (authorization?: string) => {
    const r = await fetch(`${url}/internal/edge/sync`, { headers: authorization ? { authorization } : {} });
    return `${r.status} ${((await r.json()) as { error: { code: string } }).error.code}`;
  };
  assert.equal(await code(), '401 CLUSTER_AUTH_REQUIRED');
  assert.equal(await code('Bearer abc'), '401 CLUSTER_AUTH_REQUIRED');
  assert.equal(await code(signRelayRequest('not-the-secret-0123456789', 'edge-x', 'edge-sync')), '403 CLUSTER_AUTH_FAILED');
  assert.equal(await code(signRelayRequest(SECRET, 'edge-x', 'cam1')), '403 CLUSTER_AUTH_FAILED', 'a live relay header is not an edge sync header');
  assert.equal(await code(signRelayRequest(SECRET, 'edge-x', 'edge-sync', Date.now() - 60_000)), '403 CLUSTER_AUTH_FAILED', 'too old');

  // An edge with the wrong secret never syncs and keeps refusing playback.
  const pool = new OriginPool([url], { connections: 1, healthIntervalMs: 1_000, timeoutMs: 2_000 }, log);
  const wrong = new EdgePlaybackSync({ origins: pool, secret: 'not-the-secret-0123456789', nodeId: 'edge-bad', config: testConfig(), log });
  wrong.start();
  try {
    await until(() => (wrong.status().lastError ?? '').includes('403 CLUSTER_AUTH_FAILED'), 'the refusal seen by the edge', 5_000);
    assert.equal(wrong.synced(), false);
    const req = { url: `/${s.pub}`, headers: {}, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
    assert.throws(() => wrong.guard(req, s.pub, ''), (err: unknown) => isStromError(err, 'EDGE_NOT_SYNCED') && err.statusCode === 503);
  } finally {
    await wrong.close();
    await pool.close();
  }
});

test('after a cut the edge keeps its last state, reconnects, and the new snapshot replaces it', async () => {
  let resyncs = 0;
  sync.onResync(() => resyncs++);
  const reconnectsBefore = await sample(registry, 'strom_edge_sync_reconnects_total');
  gate.shut();
  await until(() => !sync.status().connected, 'the edge sees the cut', 5_000);
  await until(async () => (await originSubscribers()) === 0, 'the origin sees the cut', 5_000);
  assert.equal(await sample(registry, 'strom_edge_sync_connected'), 0);

  // Changed at the origin while the edge cannot hear it.
  assert.equal((await api('DELETE', `/api/v1/signing-keys/${s.kid2}`, ['admin'])).status, 200);
  await setVisibility(s.pub, 'signed');
  assert.equal(await edge(s.signed, s.token2), '200', 'the last known state stays in force while disconnected');
  assert.equal(await edge(s.pub), '200');
  assert.equal(sync.synced(), true);

  gate.open();
  await until(() => resyncs > 0, 'a reconnect and its snapshot');
  assert.equal(await edge(s.signed, s.token2), '403 PLAYBACK_DENIED', 'the revocation missed while cut off took effect');
  assert.equal(await edge(s.pub), '403 PLAYBACK_DENIED', 'and so did the visibility change');
  assert.deepEqual(edgeKids(), [], 'no key left: both were revoked');
  assert.equal(await sample(registry, 'strom_edge_sync_connected'), 1);
  assert.ok((await sample(registry, 'strom_edge_sync_reconnects_total')) > reconnectsBefore);
  assert.ok((await sample(registry, 'strom_edge_sync_snapshots_total')) >= 2);
});

/** Open a raw subscription as node `nodeId`; resolves with the response and its first event. */
function subscribe(nodeId: string): Promise<{ res: IncomingMessage; first: SseEvent }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/internal/edge/sync`, { headers: { authorization: signRelayRequest(SECRET, nodeId, 'edge-sync') } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
      let done = false;
      onSseEvents(res, (e) => {
        if (!done) resolve({ res, first: e });
        done = true;
      });
    });
    req.on('error', reject);
  });
}

test('the snapshot carries only what verification needs; more subscribers than cluster.maxEdges → 503', async () => {
  const k3 = await newKey();
  await until(async () => (await originSubscribers()) === 1, 'only the edge subscribed', 5_000);
  const raw = await subscribe('edge-raw');
  try {
    assert.equal(raw.first.event, 'snapshot');
    const keys = raw.first.data.keys as Array<Record<string, unknown>>;
    assert.deepEqual(keys.map((k) => Object.keys(k).sort()), [['alg', 'kid', 'secret']]);
    assert.equal(keys[0]!.kid, k3);
    assert.equal(keys[0]!.alg, 'HS256');
    assert.deepEqual(new Set(raw.first.data.signed as string[]), new Set([s.signed, s.pub, s.live]));
    assert.equal(await originSubscribers(), 2);

    const third = await fetch(`${url}/internal/edge/sync`, { headers: { authorization: signRelayRequest(SECRET, 'edge-3', 'edge-sync') } });
    assert.equal(third.status, 503);
    assert.equal(((await third.json()) as { error: { code: string } }).error.code, 'EDGE_SYNC_FULL');
    assert.equal(await sample(strom.obs.metrics.registry, 'strom_edge_sync_refused_total'), 1);
  } finally {
    raw.res.destroy();
  }
  await until(async () => (await originSubscribers()) === 1, 'the raw subscriber gone', 5_000);
});

test('a subscriber that stops reading is disconnected once its backlog outgrows the bound', async () => {
  const raw = await subscribe('edge-stalled');
  raw.res.pause();
  raw.res.socket.pause();
  const dropped = () => sample(strom.obs.metrics.registry, 'strom_edge_sync_slow_disconnects_total');
  const pad = 'x'.repeat(200);
  let n = 0;
  while ((await dropped()) === 0) {
    // Changes go to every subscriber: the stalled one's queue grows, the reading edge keeps up.
    let last = '';
    for (let i = 0; i < 1_000; i++) strom.control.policy.set((last = `${pad}${n++}`), 'signed');
    await until(() => sync.policy.isSigned(last), 'the reading edge caught up', 10_000, 1);
    assert.ok(n < 500_000, 'the stalled subscriber was never disconnected');
  }
  assert.equal(await dropped(), 1, 'only the stalled subscriber was dropped');
  assert.equal(await originSubscribers(), 1);
  assert.equal(sync.status().connected, true, 'the edge that reads stays connected');
  assert.equal(await sample(registry, 'strom_edge_sync_reconnects_total'), 1, 'and was not dropped (its one reconnect is the cut above)');
  raw.res.destroy();
});
