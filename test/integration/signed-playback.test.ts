/**
 * Signed playback on the delivery origin: `/v/` of a signed video is 403, `/s/<token>/…` serves
 * every derived URL (master, variant, init, segment, poster) from the same cache; tampered,
 * expired, revoked-key, other-video and wrong-IP tokens are 403; key rotation keeps tokens of
 * active keys valid; the stream alias takes `?token=`/Bearer; the per-token stream cap holds.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT } from 'jose';
import { startApi, type ApiServer } from '../helpers/api-server.js';

function publish(dataDir: string, id: string): void {
  const dir = path.join(dataDir, 'assets', id);
  mkdirSync(path.join(dir, 'v1'), { recursive: true });
  writeFileSync(path.join(dir, 'master.m3u8'), '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000\nv1/index.m3u8\n');
  writeFileSync(path.join(dir, 'v1', 'index.m3u8'), '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:1,\nseg_00001.m4s\n#EXT-X-ENDLIST\n');
  writeFileSync(path.join(dir, 'v1', 'init.mp4'), Buffer.alloc(64, 1));
  writeFileSync(path.join(dir, 'v1', 'seg_00001.m4s'), Buffer.alloc(256, 2));
  writeFileSync(path.join(dir, 'poster.jpg'), Buffer.alloc(32, 3));
  writeFileSync(path.join(dir, 'download.mp4'), Buffer.alloc(512, 4));
}

async function status(url: string, headers: Record<string, string> = {}): Promise<number> {
  const r = await fetch(url, { headers });
  await r.arrayBuffer();
  return r.status;
}

async function playbackToken(s: ApiServer, id: string, body: Record<string, unknown> = {}): Promise<{ token: string; kid: string; playback: Record<string, string> }> {
  const r = await s.call('POST', `/api/v1/videos/${id}/playback-token`, { token: await s.token(['videos:read']), json: body });
  assert.equal(r.status, 200);
  return (await r.json()) as { token: string; kid: string; playback: Record<string, string> };
}

test('signed video: /v/ refused, /s/<token>/ serves every derived URL, bad tokens refused', async (t) => {
  const s = await startApi(t);
  const { store } = s.strom.control;
  const sv = await store.videos.create({ visibility: 'signed' });
  const pub = await store.videos.create();
  publish(s.dataDir, sv.id);
  publish(s.dataDir, pub.id);

  assert.equal(await status(`${s.url}/v/${pub.id}/master.m3u8`), 200, 'public video stays open');
  const refused = await fetch(`${s.url}/v/${sv.id}/master.m3u8`);
  assert.equal(refused.status, 403);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'PLAYBACK_DENIED');

  const { token, playback } = await playbackToken(s, sv.id);
  assert.equal(playback.hls, `/s/${token}/${sv.id}/master.m3u8`);
  for (const rel of ['master.m3u8', 'v1/index.m3u8', 'v1/init.mp4', 'v1/seg_00001.m4s', 'poster.jpg']) {
    assert.equal(await status(`${s.url}/s/${token}/${sv.id}/${rel}`), 200, rel);
  }
  // A second round is served from the verified-token cache and the object cache.
  assert.equal(s.strom.control.tokens.cacheSize(), 1);
  const body = await (await fetch(`${s.url}/s/${token}/${sv.id}/v1/seg_00001.m4s`)).arrayBuffer();
  assert.equal(body.byteLength, 256);
  assert.equal(await status(`${s.url}/v/${sv.id}/master.m3u8?token=${token}`), 200, '?token= works too');
  // Caching: /s/<token>/ URLs carry the token in the cache key and stay shareable; a signed asset
  // reached at its token-less /v/ URL (token in query or header) must never be stored by a CDN.
  const viaPath = await fetch(`${s.url}/s/${token}/${sv.id}/v1/seg_00001.m4s`);
  assert.equal(viaPath.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  const privateCases: Array<[string, Record<string, string>]> = [
    [`${s.url}/v/${sv.id}/v1/seg_00001.m4s?token=${token}`, {}],
    [`${s.url}/v/${sv.id}/v1/seg_00001.m4s`, { authorization: `Bearer ${token}` }],
  ];
  for (const [url, headers] of privateCases) {
    const res = await fetch(url, { headers });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'private, no-store', url);
  }
  assert.equal((await fetch(`${s.url}/v/${pub.id}/v1/seg_00001.m4s`)).headers.get('cache-control'), 'public, max-age=31536000, immutable');

  const other = await playbackToken(s, pub.id);
  assert.equal(await status(`${s.url}/s/${other.token}/${sv.id}/master.m3u8`), 403, 'token of another video');
  const [h, p, sig] = token.split('.');
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, exp: (claims.exp as number) + 86400 })).toString('base64url')}.${sig}`;
  assert.equal(await status(`${s.url}/s/${forged}/${sv.id}/master.m3u8`), 403, 'tampered');
  assert.equal(await status(`${s.url}/s/garbage/${sv.id}/master.m3u8`), 403, 'not a JWT');
  const secret = Buffer.from((await store.signingKeys.get(other.kid))!.secret, 'base64url');
  const now = Math.floor(Date.now() / 1000);
  const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: other.kid }).setSubject(sv.id).setExpirationTime(now - 5).sign(secret);
  assert.equal(await status(`${s.url}/s/${expired}/${sv.id}/master.m3u8`), 403, 'expired');
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: other.kid })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: sv.id, exp: now + 60 })).toString('base64url')}.`;
  assert.equal(await status(`${s.url}/s/${none}/${sv.id}/master.m3u8`), 403, 'alg none');

  const bound = await playbackToken(s, sv.id, { ip: '10.9.8.7' });
  assert.equal(await status(`${s.url}/s/${bound.token}/${sv.id}/master.m3u8`), 403, 'bound to another IP');
  const mine = await playbackToken(s, sv.id, { ip: '127.0.0.1', referrer: 'https://shop.example/' });
  assert.equal(await status(`${s.url}/s/${mine.token}/${sv.id}/master.m3u8`, { referer: 'https://shop.example/watch/1' }), 200, 'matching IP and Referer');
  assert.equal(await status(`${s.url}/s/${mine.token}/${sv.id}/master.m3u8`, { referer: 'https://evil.example/' }), 403, 'wrong Referer');

  // Flipping visibility through the API takes effect at once.
  const write = await s.token(['videos:write']);
  assert.equal((await s.call('PATCH', `/api/v1/videos/${sv.id}`, { token: write, json: { visibility: 'public' } })).status, 200);
  assert.equal(await status(`${s.url}/v/${sv.id}/master.m3u8`), 200);
});

test('key rotation keeps tokens of active keys valid; revoking a key refuses its tokens at once', async (t) => {
  const s = await startApi(t);
  const sv = await s.strom.control.store.videos.create({ visibility: 'signed' });
  publish(s.dataDir, sv.id);
  const old = await playbackToken(s, sv.id);
  const admin = await s.token(['admin']);
  const k2 = (await (await s.call('POST', '/api/v1/signing-keys', { token: admin })).json()) as { kid: string };
  const fresh = await playbackToken(s, sv.id);
  assert.equal(fresh.kid, k2.kid, 'the newest key signs');
  assert.notEqual(old.kid, k2.kid);
  assert.equal(await status(`${s.url}/s/${old.token}/${sv.id}/master.m3u8`), 200, 'old key still active');
  assert.equal(await status(`${s.url}/s/${fresh.token}/${sv.id}/master.m3u8`), 200);
  assert.equal((await s.call('DELETE', `/api/v1/signing-keys/${old.kid}`, { token: admin })).status, 200);
  assert.equal(await status(`${s.url}/s/${old.token}/${sv.id}/v1/init.mp4`), 403, 'revoked key (even though the token was cached)');
  assert.equal(await status(`${s.url}/s/${fresh.token}/${sv.id}/v1/init.mp4`), 200);
});

test('signed playback survives a restart: keys and policy come back from the store', async (t) => {
  const s = await startApi(t);
  const sv = await s.strom.control.store.videos.create({ visibility: 'signed' });
  publish(s.dataDir, sv.id);
  const { token } = await playbackToken(s, sv.id);
  await s.strom.close();
  const again = await startApi(t, {}, s.dataDir);
  assert.equal(await status(`${again.url}/v/${sv.id}/master.m3u8`), 403);
  assert.equal(await status(`${again.url}/s/${token}/${sv.id}/master.m3u8`), 200);
});

test('stream alias /api/v1/video/stream/:id follows the playback policy (?token= or Bearer playback token)', async (t) => {
  const s = await startApi(t);
  const sv = await s.strom.control.store.videos.create({ visibility: 'signed' });
  publish(s.dataDir, sv.id);
  const { token, playback } = await playbackToken(s, sv.id);
  assert.equal(await status(`${s.url}/api/v1/video/stream/${sv.id}`), 403);
  assert.equal(await status(`${s.url}${playback.stream}`), 200);
  assert.equal(await status(`${s.url}/api/v1/video/stream/${sv.id}`, { authorization: `Bearer ${token}` }), 200);
  assert.equal(await status(`${s.url}${playback.mp4}`), 200);
});

test('concurrent media responses per playback token are capped', async (t) => {
  const s = await startApi(t, { 'rateLimit.maxStreamsPerToken': 2 });
  const sv = await s.strom.control.store.videos.create({ visibility: 'signed' });
  publish(s.dataDir, sv.id);
  const { token } = await playbackToken(s, sv.id);
  const cap = s.strom.control.streamCap;
  // Two fake long-lived responses hold the token's slots; a third request is refused.
  const { EventEmitter } = await import('node:events');
  const held = [new EventEmitter(), new EventEmitter()];
  for (const r of held) cap.acquire(token, r);
  const r = await fetch(`${s.url}/s/${token}/${sv.id}/poster.jpg`);
  assert.equal(r.status, 429);
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'TOO_MANY_STREAMS');
  held[0]!.emit('close');
  assert.equal(await status(`${s.url}/s/${token}/${sv.id}/poster.jpg`), 200, 'a slot freed');
  assert.equal(cap.count(token), 1, 'finished responses release their slot');
});
