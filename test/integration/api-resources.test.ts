/**
 * The control API's resources and request handling: videos (pagination, filter, patch, delete
 * with files and jobs), live streams (shape, key rotation, lookup by key), signing keys,
 * OpenAPI, 400 naming the field, invalid JSON and oversized bodies, SQL metacharacters stored
 * verbatim, API and media rate limits, request deadlines and client-disconnect cancellation.
 * The resources kept in the metadata store run on SQLite and on a private PostgreSQL.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { startApi } from '../helpers/api-server.js';
import { forEachDialect } from '../helpers/postgres.js';
import { EventEmitter } from 'node:events';
import { tmpdir } from 'node:os';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

type Json = Record<string, unknown> & { error?: { code: string; message: string } };

// The resources that live in the metadata store run on SQLite and on PostgreSQL.
forEachDialect((d) => {
  test('videos: list with cursor pagination and status filter, get, patch, delete with files and jobs', async (t) => {
    const s = await startApi(t, await d.settings());
    const { store } = s.strom.control;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await store.videos.create({ title: `v${i}`, status: i % 2 ? 'ready' : 'queued' })).id);
    const read = await s.token(['videos:read']);
    const write = await s.token(['videos:write']);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : '';
      const r = await s.call('GET', `/api/v1/videos?limit=2${q}`, { token: read });
      assert.equal(r.status, 200);
      const page = (await r.json()) as { items: Array<{ id: string }>; nextCursor: string | null };
      assert.ok(page.items.length <= 2);
      seen.push(...page.items.map((v) => v.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual([...seen].sort(), [...ids].sort(), 'every video exactly once');
    const ready = (await (await s.call('GET', '/api/v1/videos?status=ready', { token: read })).json()) as { items: Array<{ status: string }> };
    assert.equal(ready.items.length, 2);
    assert.ok(ready.items.every((v) => v.status === 'ready'));
    assert.equal((await s.call('GET', '/api/v1/videos?cursor=Zm9vYmFy', { token: read })).status, 400);

    const one = (await (await s.call('GET', `/api/v1/videos/${ids[0]}`, { token: read })).json()) as Json;
    assert.deepEqual(one.playback, { hls: `/v/${ids[0]}/master.m3u8`, dash: `/v/${ids[0]}/manifest.mpd`, mp4: `/v/${ids[0]}/download.mp4`, poster: `/v/${ids[0]}/poster.jpg` });
    assert.equal(one.error, null);
    assert.equal((await s.call('GET', '/api/v1/videos/v_missing', { token: read })).status, 404);

    const patched = await s.call('PATCH', `/api/v1/videos/${ids[0]}`, { token: write, json: { description: 'd', metadata: { a: [1, { b: null }] }, visibility: 'signed' } });
    assert.equal(patched.status, 200);
    const pv = (await patched.json()) as Json;
    assert.deepEqual([pv.description, pv.metadata, pv.visibility], ['d', { a: [1, { b: null }] }, 'signed']);
    assert.equal(s.strom.control.policy.isSigned(ids[0]!), true, 'the delivery policy map heard the change');

    const victim = ids[1]!;
    mkdirSync(path.join(s.dataDir, 'assets', victim), { recursive: true });
    writeFileSync(path.join(s.dataDir, 'assets', victim, 'poster.jpg'), 'jpg');
    const job = await store.jobs.enqueue({ kind: 'transcode', videoId: victim });
    assert.equal((await fetch(`${s.url}/v/${victim}/poster.jpg`)).status, 200);
    assert.equal((await s.call('DELETE', `/api/v1/videos/${victim}`, { token: write })).status, 204);
    assert.equal(existsSync(path.join(s.dataDir, 'assets', victim)), false, 'files removed');
    assert.equal((await store.jobs.get(job.id))?.state, 'cancelled', 'jobs cancelled');
    assert.equal(await store.videos.get(victim), undefined);
    assert.equal((await fetch(`${s.url}/v/${victim}/poster.jpg`)).status, 404, 'delivery cache invalidated');
    assert.equal((await s.call('DELETE', `/api/v1/videos/${victim}`, { token: write })).status, 404);
  });

  test('400 names the bad field; invalid JSON is 400; an oversized body is 413; SQL metacharacters are stored verbatim', async (t) => {
    const s = await startApi(t, await d.settings());
    const v = await s.strom.control.store.videos.create();
    const write = await s.token(['videos:write', 'videos:read']);
    const bad = await s.call('PATCH', `/api/v1/videos/${v.id}`, { token: write, json: { visibility: 'everyone' } });
    assert.equal(bad.status, 400);
    const e = ((await bad.json()) as Json).error!;
    assert.equal(e.code, 'VALIDATION_FAILED');
    assert.match(e.message, /visibility/);
    const long = await s.call('PATCH', `/api/v1/videos/${v.id}`, { token: write, json: { title: 'x'.repeat(501) } });
    assert.match(((await long.json()) as Json).error!.message, /title/);
    const badJson = await s.call('PATCH', `/api/v1/videos/${v.id}`, { token: write, body: '{"title": "x",', headers: { 'content-type': 'application/json' } });
    assert.equal(badJson.status, 400);
    const huge = await s.call('PATCH', `/api/v1/videos/${v.id}`, { token: write, json: { description: 'x'.repeat(1024 * 1024 + 10) } });
    assert.equal(huge.status, 413);
    assert.equal(((await huge.json()) as Json).error!.code, 'PAYLOAD_TOO_LARGE');

    let nasty = `Robert'); DROP TABLE videos;-- "%_\\ \u0000 ☃ \${x} OR 1=1`;
    if (d.name === 'postgres') {
      // PostgreSQL text cannot hold U+0000: refused as a bad field rather than a failed statement.
      const nul = await s.call('PATCH', `/api/v1/videos/${v.id}`, { token: write, json: { title: nasty } });
      assert.equal(nul.status, 400);
      assert.match(((await nul.json()) as Json).error!.message, /title/);
      nasty = nasty.replace('\u0000', '');
    }
    const r = await s.call('PATCH', `/api/v1/videos/${v.id}`, { token: write, json: { title: nasty, metadata: { "k'\"": "v; DELETE FROM jobs" } } });
    assert.equal(r.status, 200);
    const got = (await (await s.call('GET', `/api/v1/videos/${v.id}`, { token: write })).json()) as Json;
    assert.equal(got.title, nasty);
    assert.deepEqual(got.metadata, { "k'\"": 'v; DELETE FROM jobs' });
    const list = (await (await s.call('GET', '/api/v1/videos', { token: write })).json()) as { items: unknown[] };
    assert.equal(list.items.length, 1, 'the table is intact');
  });

  test('live streams: create returns key, full RTMP URL and playback paths; rotate, patch, lookup by key, delete', async (t) => {
    const s = await startApi(t, { ...(await d.settings()), 'live.rtmpPublicUrl': 'rtmp://media.example:1935/live' });
    const tok = await s.token(['live:write']);
    const r = await s.call('POST', '/api/v1/live-streams', { token: tok, json: { title: 'cam', visibility: 'signed', record: true } });
    assert.equal(r.status, 201);
    const ls = (await r.json()) as { id: string; streamKey: string; ingest: { rtmp: string }; playback: Record<string, string>; visibility: string; record: boolean; status: string };
    assert.match(ls.id, /^ls_[A-Za-z0-9]{16}$/);
    assert.match(ls.streamKey, /^sk_[A-Za-z0-9]{32}$/);
    assert.equal(ls.ingest.rtmp, `rtmp://media.example:1935/live/${ls.streamKey}`);
    assert.deepEqual(ls.playback, { flv: `/live/${ls.id}.flv`, hls: `/live/${ls.id}/index.m3u8`, dash: `/live/${ls.id}/manifest.mpd`, whep: `/live/${ls.id}/whep`, thumbnail: `/live/${ls.id}/thumbnail.jpg` });
    assert.deepEqual([ls.visibility, ls.record, ls.status], ['signed', true, 'idle']);
    const repo = s.strom.control.store.liveStreams;
    assert.equal((await repo.findLiveStreamByKey(ls.streamKey))?.id, ls.id);
    const rotated = (await (await s.call('POST', `/api/v1/live-streams/${ls.id}/rotate-key`, { token: tok })).json()) as { streamKey: string };
    assert.notEqual(rotated.streamKey, ls.streamKey);
    assert.equal(await repo.findLiveStreamByKey(ls.streamKey), undefined, 'the old key stops working');
    assert.equal((await repo.findLiveStreamByKey(rotated.streamKey))?.id, ls.id);
    const p = (await (await s.call('PATCH', `/api/v1/live-streams/${ls.id}`, { token: tok, json: { visibility: 'public' } })).json()) as { visibility: string };
    assert.equal(p.visibility, 'public');
    const list = (await (await s.call('GET', '/api/v1/live-streams', { token: tok })).json()) as { items: Array<{ id: string }> };
    assert.deepEqual(list.items.map((i) => i.id), [ls.id]);
    assert.equal((await s.call('DELETE', `/api/v1/live-streams/${ls.id}`, { token: tok })).status, 204);
    assert.equal((await s.call('GET', `/api/v1/live-streams/${ls.id}`, { token: tok })).status, 404);
  });

  test('signing keys: create shows the secret once, list hides it, revoke marks it', async (t) => {
    const s = await startApi(t, await d.settings());
    const admin = await s.token(['admin']);
    const k = (await (await s.call('POST', '/api/v1/signing-keys', { token: admin })).json()) as { kid: string; secret?: string; revokedAt: string | null };
    assert.match(k.secret ?? '', /^[A-Za-z0-9_-]{43}$/);
    const list = (await (await s.call('GET', '/api/v1/signing-keys', { token: admin })).json()) as { items: Array<{ kid: string; secret?: string }> };
    assert.equal(list.items[0]!.kid, k.kid);
    assert.equal(list.items[0]!.secret, undefined);
    const revoked = (await (await s.call('DELETE', `/api/v1/signing-keys/${k.kid}`, { token: admin })).json()) as { revokedAt: string | null };
    assert.ok(revoked.revokedAt);
    assert.equal((await s.call('DELETE', '/api/v1/signing-keys/k_nope', { token: admin })).status, 404);
  });
});

test('OpenAPI 3 document and docs page are open and list the routes and aliases', async (t) => {
  const s = await startApi(t);
  const r = await s.call('GET', '/api/v1/openapi.json');
  assert.equal(r.status, 200);
  const doc = (await r.json()) as { openapi: string; paths: Record<string, Record<string, { security?: unknown }>> };
  assert.match(doc.openapi, /^3\./);
  for (const p of ['/api/v1/videos', '/api/v1/videos/{id}', '/api/v1/live-streams', '/api/v1/signing-keys/{kid}', '/api/v1/video/stream/{id}', '/api/v1/video/upload']) assert.ok(doc.paths[p], p);
  assert.deepEqual(doc.paths['/api/v1/videos']!.get!.security, [{ bearer: [] }]);
  const docs = await s.call('GET', '/api/v1/docs');
  assert.equal(docs.status, 200);
  assert.match(await docs.text(), /\/api\/v1\/live-streams/);
});

test('API rate limit: 429 with Retry-After and RateLimit headers at the configured rate, per token subject', async (t) => {
  const s = await startApi(t, { 'rateLimit.api.perMinute': 3 });
  const a = await s.token(['videos:read'], 600, 'alice');
  const b = await s.token(['videos:read'], 600, 'bob');
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await s.call('GET', '/api/v1/videos', { token: a });
    statuses.push(r.status);
    if (i === 0) {
      assert.equal(r.headers.get('ratelimit-limit'), '3');
      assert.equal(r.headers.get('ratelimit-remaining'), '2');
    }
    if (r.status === 429) {
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
      assert.equal(r.headers.get('ratelimit-remaining'), '0');
      assert.equal(((await r.json()) as Json).error!.code, 'RATE_LIMITED');
    } else await r.body?.cancel();
  }
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  assert.equal((await s.call('GET', '/api/v1/videos', { token: b })).status, 200, 'another key has its own budget');
  assert.equal((await s.call('GET', '/healthz')).status, 200, 'health is not rate limited');
});

test('media rate limit: token bucket per IP on /v/ at the configured rate', async (t) => {
  const s = await startApi(t, { 'rateLimit.media.perMinute': 5 });
  mkdirSync(path.join(s.dataDir, 'assets', 'm1'), { recursive: true });
  writeFileSync(path.join(s.dataDir, 'assets', 'm1', 'poster.jpg'), 'jpg');
  const statuses: number[] = [];
  let last: Response | undefined;
  for (let i = 0; i < 6; i++) {
    last = await fetch(`${s.url}/v/m1/poster.jpg`);
    statuses.push(last.status);
    if (i < 5) await last.body?.cancel();
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
  assert.ok(Number(last!.headers.get('retry-after')) >= 1);
  assert.equal(last!.headers.get('ratelimit-limit'), '5');
  assert.equal(((await last!.json()) as Json).error!.code, 'RATE_LIMITED');
  assert.equal(s.strom.control.mediaLimiter.limited, 1);
});

test('deadlines: an unanswered API request gets 504 and its signal aborts; a disconnect aborts the signal', async (t) => {
  const reasons: string[] = [];
  const s2 = await startApiWithSlowRoute(t, reasons);
  const r = await fetch(`${s2.url}/api/v1/test/slow`);
  assert.equal(r.status, 504);
  assert.equal(((await r.json()) as Json).error!.code, 'DEADLINE_EXCEEDED');
  assert.deepEqual(reasons, ['FST_ERR_HANDLER_TIMEOUT']);

  const req = http.get(`${s2.url}/api/v1/test/slow`);
  req.on('error', () => undefined);
  await new Promise((res) => setTimeout(res, 40));
  req.destroy();
  await once(s2.events, 'aborted');
  assert.equal(reasons[1], 'AbortError', 'client disconnect aborted the work');
});


/** A server with a test route that waits for its signal and records why it aborted. */
async function startApiWithSlowRoute(t: import('node:test').TestContext, reasons: string[]) {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-deadline-'));
  const strom = await buildStrom(testConfig({ dataDir: dir, 'rtmp.enabled': false, 'timeouts.requestDeadlineMs': 150 }));
  const events = new EventEmitter();
  strom.app.get('/api/v1/test/slow', { config: { scope: 'none' } }, async (req) => {
    await new Promise<void>((resolve) => req.signal.addEventListener('abort', () => resolve(), { once: true }));
    const reason = req.signal.reason as { code?: unknown; name?: string };
    reasons.push(typeof reason.code === 'string' ? reason.code : String(reason.name));
    events.emit('aborted');
    return { never: true };
  });
  const { url } = await strom.listen();
  t.after(async () => {
    await strom.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { url, events };
}

test('live stream ingest URL names the RTMP port actually bound', async (t) => {
  const s = await startApi(t, { 'rtmp.enabled': true, 'rtmp.port': 0 });
  const port = s.strom.live.rtmp.port();
  assert.ok(port && port > 0);
  const r = await s.call('POST', '/api/v1/live-streams', { token: await s.token(['live:write']), json: {} });
  const ls = (await r.json()) as { streamKey: string; ingest: { rtmp: string } };
  assert.equal(ls.ingest.rtmp, `rtmp://127.0.0.1:${port}/live/${ls.streamKey}`);
});
