/**
 * WHIP/WHEP HTTP protocol (RFC 9725, draft-ietf-wish-whep) over real sockets against a listening
 * Strom: content types (415), Bearer stream keys (401/403), bad SDP (400) and unsupported codecs
 * (422), resource lifecycle (201 + Location + strong ETag + Link, PATCH with If-Match: 428/412/204,
 * ICE restart refused, DELETE → publish.stop and resources freed, 404 afterwards), CORS preflight,
 * the session limit (503 + Retry-After) and the connect timeout. Offers are Chromium-shaped SDP
 * texts; no media flows here (the e2e test does that).
 */
import { test } from 'node:test';
import dgram from 'node:dgram';
import { readdirSync } from 'node:fs';
import assert from 'node:assert/strict';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import { startLive, syntheticPublisher, type LiveHarness } from '../helpers/live-fixtures.js';

const FP = Array.from({ length: 32 }, (_, i) => (i * 7 % 256).toString(16).padStart(2, '0').toUpperCase()).join(':');

/** A Chromium-like offer: H.264 (pm=1 and pm=0) video + Opus audio, or the codecs given. */
function offer(o: { video?: string[]; ufrag?: string; dir?: string } = {}): string {
  const dir = o.dir ?? 'sendonly';
  const ufrag = o.ufrag ?? 'AbCd';
  const video = o.video ?? ['102 H264/90000', 'fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f', '104 H264/90000', 'fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f'];
  const pts = video.filter((l) => !l.startsWith('fmtp')).map((l) => l.split(' ')[0]).join(' ');
  const common = (mid: string) => [`c=IN IP4 0.0.0.0`, `a=rtcp:9 IN IP4 0.0.0.0`, `a=ice-ufrag:${ufrag}`, 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=ice-options:trickle', `a=fingerprint:sha-256 ${FP}`, 'a=setup:actpass', `a=mid:${mid}`, `a=${dir}`, 'a=rtcp-mux'];
  return [
    'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1', 'a=msid-semantic: WMS',
    `m=video 9 UDP/TLS/RTP/SAVPF ${pts}`, ...common('0'), ...video.map((l) => (l.startsWith('fmtp') ? `a=${l}` : `a=rtpmap:${l}`)), 'a=ssrc:1111 cname:x',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', ...common('1'), 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1', 'a=ssrc:2222 cname:x',
    '',
  ].join('\r\n');
}

async function post(h: LiveHarness, path: string, body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${h.httpUrl}${path}`, { method: 'POST', headers, body });
}
const whip = (h: LiveHarness, body: string, key: string | null = 'secret', type = 'application/sdp') =>
  post(h, '/whip', body, { 'Content-Type': type, ...(key === null ? {} : { Authorization: `Bearer ${key}` }) });
const code = async (r: Response) => ((await r.json()) as { error: { code: string } }).error.code;

async function waitUntil(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  for (const until = Date.now() + ms; !cond() && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
  assert.ok(cond(), what);
}

test('webrtc.announcedAddresses (NAT 1:1): the answer names the announced address on the bound port', async (t) => {
  const h = await startLive({ 'webrtc.announcedAddresses': '203.0.113.7' });
  t.after(() => h.close());
  const r = await whip(h, offer());
  assert.equal(r.status, 201);
  const answer = await r.text();
  const hosts = [...answer.matchAll(/a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host/g)];
  assert.ok(hosts.length > 0, answer);
  assert.deepEqual([...new Set(hosts.map((m) => m[1]))], ['203.0.113.7']);
  assert.ok(hosts.every((m) => Number(m[2]) >= 40000 && Number(m[2]) <= 40999), 'the bound port, unchanged');
  assert.doesNotMatch(answer, /127\.0\.0\.1 \d+ typ host/);
});

test('WHIP refuses bad requests with precise 4xx and keeps no session', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  let r = await whip(h, offer(), 'secret', 'text/plain');
  assert.equal(r.status, 415);
  assert.equal(await code(r), 'UNSUPPORTED_MEDIA_TYPE');
  r = await whip(h, offer(), null);
  assert.equal(r.status, 401);
  assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
  r = await whip(h, offer(), 'nope-not-a-key');
  assert.equal(r.status, 403);
  assert.equal(await code(r), 'LIVE_BAD_KEY');
  r = await whip(h, 'hello, this is not SDP');
  assert.equal(r.status, 400);
  assert.equal(await code(r), 'WEBRTC_BAD_SDP');
  r = await whip(h, offer().replace(/a=fingerprint:[^\r]+\r\n/g, ''));
  assert.equal(r.status, 400);
  r = await whip(h, offer({ dir: 'recvonly' }));
  assert.equal(r.status, 400, 'a WHIP offer that only receives');
  assert.match(await r.text(), /no m= section sends media/);
  r = await whip(h, offer({ video: ['96 VP8/90000'] }));
  assert.equal(r.status, 422);
  const body = await r.text();
  assert.match(body, /WEBRTC_UNSUPPORTED_CODEC/);
  assert.match(body, /VP8/);
  r = await whip(h, offer({ video: ['104 H264/90000', 'fmtp:104 packetization-mode=0;profile-level-id=42e01f'] }));
  assert.equal(r.status, 422, 'packetization-mode=0 only is not supported');
  // WHEP: unknown stream, wrong type.
  r = await post(h, '/live/cam1/whep', offer({ dir: 'recvonly' }), { 'Content-Type': 'application/sdp' });
  assert.equal(r.status, 404);
  assert.equal(await code(r), 'LIVE_STREAM_NOT_FOUND');
  r = await post(h, '/live/cam1/whep', '{}', { 'Content-Type': 'application/json' });
  assert.equal(r.status, 415);
  // Unknown resources.
  r = await fetch(`${h.httpUrl}/whip/AAAAAAAAAAAAAAAAAAAAAA`, { method: 'DELETE' });
  assert.equal(r.status, 404);
  assert.equal(await code(r), 'WEBRTC_SESSION_NOT_FOUND');
  r = await fetch(`${h.httpUrl}/whep/AAAAAAAAAAAAAAAAAAAAAA`, { method: 'PATCH', headers: { 'Content-Type': 'application/trickle-ice-sdpfrag', 'If-Match': '*' }, body: 'a=end-of-candidates\r\n' });
  assert.equal(r.status, 404);
  assert.equal(h.strom.live.webrtc.table.sessions.size, 0);
  assert.equal(h.strom.live.webrtc.table.pending, 0);
  assert.equal(h.strom.live.status('cam1').state, 'idle');
});

test('WHIP resource: 201 with answer, Location, ETag, Link; PATCH needs If-Match; DELETE ends the publish', async (t) => {
  const h = await startLive({ 'webrtc.stunServers': 'stun:127.0.0.1:3478', 'webrtc.turnServers': 'turn:127.0.0.1:3478?transport=udp', 'webrtc.turnUsername': 'u', 'webrtc.turnCredential': 'p"w' });
  t.after(() => h.close());
  const pre = await fetch(`${h.httpUrl}/whip`, { method: 'OPTIONS', headers: { Origin: 'http://example.test', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' } });
  assert.equal(pre.status, 204);
  assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
  assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Authorization/);
  const started = h.strom.live.events.next('publish.start');
  const r = await whip(h, offer());
  assert.equal(r.status, 201, await r.clone().text());
  assert.equal(r.headers.get('content-type'), 'application/sdp');
  const answer = await r.text();
  assert.match(answer, /^v=0\r\n/);
  assert.match(answer, /a=rtpmap:102 H264\/90000/);
  assert.doesNotMatch(answer, /a=rtpmap:104 /, 'packetization-mode=0 is not answered');
  assert.match(answer, /a=recvonly/);
  assert.match(answer, /a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/);
  const hostIps = [...answer.matchAll(/a=candidate:\S+ 1 udp \d+ (\S+) \d+ typ host/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(hostIps)], ['127.0.0.1'], 'only webrtc.hostAddresses are advertised');
  const location = r.headers.get('location')!;
  assert.match(location, /^\/whip\/[A-Za-z0-9_-]{22}$/);
  const etag = r.headers.get('etag')!;
  assert.match(etag, /^"[^"]+"$/, 'strong ETag');
  const link = r.headers.get('link') ?? '';
  assert.match(link, /<stun:127\.0\.0\.1:3478>; rel="ice-server"/);
  assert.match(link, /<turn:127\.0\.0\.1:3478\?transport=udp>; rel="ice-server"; username="u"; credential="p\\"w"; credential-type="password"/);
  assert.match(r.headers.get('access-control-expose-headers') ?? '', /Location.*ETag.*Link/);
  const start = await started;
  assert.equal(start.streamId, 'cam1');
  assert.equal(h.strom.live.status('cam1').state, 'active');

  const url = `${h.httpUrl}${location}`;
  const frag = 'a=ice-ufrag:AbCd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\r\n';
  const patch = (headers: Record<string, string>, body = frag) => fetch(url, { method: 'PATCH', headers: { 'Content-Type': 'application/trickle-ice-sdpfrag', ...headers }, body });
  let p = await patch({});
  assert.equal(p.status, 428);
  assert.equal(await code(p), 'WEBRTC_PRECONDITION_REQUIRED');
  p = await patch({ 'If-Match': '"not-the-etag"' });
  assert.equal(p.status, 412);
  p = await fetch(url, { method: 'PATCH', headers: { 'Content-Type': 'application/sdp', 'If-Match': etag }, body: frag });
  assert.equal(p.status, 415);
  p = await patch({ 'If-Match': etag });
  assert.equal(p.status, 204, await p.clone().text());
  assert.equal(p.headers.get('etag'), etag);
  p = await patch({ 'If-Match': etag }, frag.replace('AbCd', 'NewU'));
  assert.equal(p.status, 422, 'ICE restart is refused');
  assert.equal(await code(p), 'WEBRTC_ICE_RESTART');
  p = await patch({ 'If-Match': etag }, 'x=garbage\r\n');
  assert.equal(p.status, 400);

  const stopped = h.strom.live.events.next('publish.stop');
  const d = await fetch(url, { method: 'DELETE' });
  assert.equal(d.status, 200);
  const stop = await stopped;
  assert.equal(stop.reason, 'DELETE by the client');
  assert.equal(h.strom.live.status('cam1').state, 'idle');
  assert.equal(h.strom.live.webrtc.table.sessions.size, 0);
  assert.ok(h.logs.some((l) => l.msg === 'webrtc session closed' && l.reason === 'DELETE by the client' && l.streamId === 'cam1'));
  assert.equal((await fetch(url, { method: 'DELETE' })).status, 404);
  assert.equal((await patch({ 'If-Match': etag })).status, 404);
});

test('over webrtc.maxSessions → 503 with Retry-After; a session that never connects is closed after the timeout', async (t) => {
  const h = await startLive({ 'webrtc.maxSessions': 1, 'webrtc.sessionTimeoutMs': 1500 });
  t.after(() => h.close());
  const first = await whip(h, offer());
  assert.equal(first.status, 201);
  const second = await whip(h, offer(), 'other');
  assert.equal(second.status, 503);
  assert.equal(second.headers.get('retry-after'), '5');
  assert.equal(await code(second), 'WEBRTC_OVERLOADED');
  const stop = await h.strom.live.events.next('publish.stop');
  assert.match(stop.reason, /did not connect within 1500 ms/);
  await waitUntil(() => h.strom.live.webrtc.table.sessions.size === 0, 'timed-out session removed');
  const third = await whip(h, offer(), 'other');
  assert.equal(third.status, 201, 'the slot is free again');
  await h.close(); // shutdown closes the open session
  assert.equal(h.strom.live.webrtc.table.sessions.size, 0);
});

test('WHEP applies the live playback guard: a signed stream needs a playback token', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const jwt = await signApiToken(h.strom.config, loadApiSecret(h.strom.config), { scopes: ['admin'], ttlS: 600, sub: 'webrtc-int' });
  const auth = { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' };
  const r = await fetch(`${h.httpUrl}/api/v1/live-streams`, { method: 'POST', headers: auth, body: JSON.stringify({ title: 'signed', visibility: 'signed' }) });
  assert.equal(r.status, 201);
  const s = (await r.json()) as { id: string; playback: { whep: string } };
  const body = offer({ dir: 'recvonly' });
  const noToken = await post(h, s.playback.whep, body, { 'Content-Type': 'application/sdp' });
  assert.ok(noToken.status === 401 || noToken.status === 403, `without a token: ${noToken.status}`);
  const tok = await fetch(`${h.httpUrl}/api/v1/live-streams/${s.id}/playback-token`, { method: 'POST', headers: auth, body: '{}' });
  assert.equal(tok.status, 200);
  const { playback } = (await tok.json()) as { playback: { whep: string } };
  assert.match(playback.whep, /\/whep\?token=/);
  const withToken = await post(h, playback.whep, body, { 'Content-Type': 'application/sdp' });
  assert.equal(withToken.status, 404, 'the token passes the guard; the stream is not live');
  assert.equal(await code(withToken), 'LIVE_STREAM_NOT_FOUND');
});

test('sessions created and deleted leave no sockets behind', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const fds = () => readdirSync('/proc/self/fd').length;
  const cycle = async () => {
    const r = await whip(h, offer());
    assert.equal(r.status, 201);
    assert.equal((await fetch(`${h.httpUrl}${r.headers.get('location')!}`, { method: 'DELETE' })).status, 200);
  };
  await cycle(); // warm-up: lazily opened handles (sqlite, loaders) are not leaks
  const before = fds();
  for (let i = 0; i < 8; i++) await cycle();
  await waitUntil(() => fds() <= before + 2, `fds ${fds()} vs ${before} before 8 sessions`);
  assert.equal(h.strom.live.webrtc.table.sessions.size, 0);
});

test('WHIP ?backup=1 while an RTMP primary is live: accepted as standby, also under live.takeover=reject', async (t) => {
  const h = await startLive({ 'live.takeover': 'reject' });
  t.after(() => h.close());
  const primary = await syntheticPublisher(h.rtmpPort);
  t.after(() => primary.destroy());
  const refused = await whip(h, offer());
  assert.equal(refused.status, 409, 'a second primary is refused');
  const r = await post(h, '/whip?backup=1', offer(), { 'Content-Type': 'application/sdp', Authorization: 'Bearer secret' });
  assert.equal(r.status, 201);
  const st = h.strom.live.registry.status('cam1');
  assert.equal(st.standby?.role, 'backup');
  assert.equal(st.standby?.sessionId, r.headers.get('location')!.split('/').at(-1));
  assert.notEqual(st.publisher?.sessionId, st.standby?.sessionId);
  const again = await post(h, '/whip?backup=1', offer({ ufrag: 'EfGh' }), { 'Content-Type': 'application/sdp', Authorization: 'Bearer secret' });
  assert.equal(again.status, 409, 'the standby slot is taken');
});

test('no free UDP port for ICE → 503 WEBRTC_NO_CANDIDATE with Retry-After, not an answer that can never connect', async (t) => {
  const port = 47_000 + Math.floor(Math.random() * 2000);
  const taken = await Promise.all([port, port + 1].map((p) => new Promise<dgram.Socket>((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(p, '127.0.0.1', () => resolve(s));
  })));
  const h = await startLive({ 'webrtc.udpPortMin': port, 'webrtc.udpPortMax': port + 1 });
  t.after(async () => {
    for (const s of taken) await new Promise<void>((r) => s.close(() => r()));
    await h.close();
  });
  const refused = await whip(h, offer());
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get('retry-after'), '5');
  assert.equal(await code(refused), 'WEBRTC_NO_CANDIDATE');
  assert.equal(h.strom.live.webrtc.table.sessions.size, 0, 'the refused session is not kept');
  assert.equal(h.strom.live.status('cam1').state, 'idle', 'nothing published');
  await new Promise<void>((r) => taken.pop()!.close(() => r()));
  const accepted = await whip(h, offer());
  assert.equal(accepted.status, 201, 'a port is free again');
  assert.match(await accepted.text(), new RegExp(`^a=candidate:.* ${port + 1} typ host`, 'm'));
});
