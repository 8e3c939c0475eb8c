/**
 * Restreaming outputs with real parts: ffmpeg publishes to Strom A over RTMP, A pushes the stream
 * to Strom B (and to node-media-server) over RTMP; B plays it back to ffprobe. Destinations that
 * go away, refuse or hang up are retried with backoff; keys never appear in answers or logs.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import { ensureSelfSignedCert } from '../../src/http/tls-self-signed.js';
import { ffmpegPublish, run, sendFrames, startLive, syntheticPublisher, waitUntil, type LiveHarness } from '../helpers/live-fixtures.js';
import { freePort } from '../helpers/free-port.js';
import { startNms } from '../helpers/nms-receiver.js';

const DEST_KEY = 'dst_Zq81xLmw0pQr7734';

interface OutputJson { id: string; url: string; state: string; lastError: string | null; bytesSent: number; reconnects: number; connectedAt: string | null; enabled: boolean; name: string }

/** An API caller for a harness (live:write). */
async function api(h: LiveHarness) {
  const token = await signApiToken(h.strom.config, loadApiSecret(h.strom.config), { scopes: ['live:write'], ttlS: 600 });
  const bodies: string[] = [];
  const call = async (method: string, p: string, json?: unknown) => {
    const res = await fetch(h.httpUrl + p, { method, headers: { authorization: `Bearer ${token}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) }, body: json === undefined ? undefined : JSON.stringify(json) });
    const text = await res.text();
    bodies.push(text);
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> & OutputJson };
  };
  return { call, bodies };
}

/** Codec names ffprobe finds at `url`. */
async function codecs(url: string): Promise<string[]> {
  const { stdout, code, stderr } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'json', url], 20_000).done;
  assert.equal(code, 0, stderr);
  return (JSON.parse(stdout) as { streams: Array<{ codec_name: string }> }).streams.map((s) => s.codec_name).sort();
}

/** Poll an output until `pred` holds (up to `ms`). */
async function until(get: () => Promise<OutputJson>, pred: (o: OutputJson) => boolean, what: string, ms = 20_000): Promise<OutputJson> {
  const end = Date.now() + ms;
  let last = await get();
  while (!pred(last) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    last = await get();
  }
  assert.ok(pred(last), `${what}: ${JSON.stringify(last)}`);
  return last;
}

/** Strom A with a live stream from the API, ffmpeg publishing to it for `seconds`. */
async function publishedA(t: TestContext, seconds: number, overrides = {}) {
  const a = await startLive(overrides);
  t.after(() => a.close());
  const { call, bodies } = await api(a);
  const created = await call('POST', '/api/v1/live-streams', { title: 'source' });
  const stream = created.body as unknown as { id: string; streamKey: string };
  const start = () => {
    const pub = ffmpegPublish(a.rtmpPort, stream.streamKey, seconds);
    t.after(() => pub.child.kill('SIGKILL'));
    return pub;
  };
  return { a, call, bodies, streamId: stream.id, start };
}

test('A pushes to B: live on B, bytes grow, reconnects when B restarts, stops with the publisher; key never shown', async (t) => {
  const bPort = await freePort();
  const startB = () => startLive({ 'rtmp.port': bPort, 'live.staticKeys': `dest1:${DEST_KEY}` });
  let b = await startB();
  t.after(() => b.close());
  const { a, call, bodies, streamId, start } = await publishedA(t, 40);

  const made = await call('POST', `/api/v1/live-streams/${streamId}/outputs`, { url: `rtmp://127.0.0.1:${bPort}/live`, streamKey: DEST_KEY, name: 'B' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.equal(made.body.state, 'idle'); // not live yet
  assert.equal(made.body.url, `rtmp://127.0.0.1:${bPort}/live/••••7734`);
  const get = async () => (await call('GET', `/api/v1/live-streams/${streamId}/outputs/${made.body.id}`)).body;

  const pub = start();
  const live = await until(get, (o) => o.state === 'live', 'output goes live');
  assert.ok(live.connectedAt);
  await waitUntil(() => b.strom.live.registry.active('dest1') !== null, 'B has the stream', 10_000);
  assert.deepEqual(await codecs(`${b.httpUrl}/live/dest1.flv`), ['aac', 'h264']);
  const before = (await get()).bytesSent;
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok((await get()).bytesSent > before, 'bytesSent grows');
  assert.equal(a.strom.live.registry.status(streamId).viewers.total, 0, 'an output is not a viewer');
  assert.equal(a.strom.live.registry.status(streamId).viewers.restream, 1);

  // B goes away: the output retries with the reason; B comes back: live again.
  await b.close();
  const down = await until(get, (o) => o.state === 'reconnecting' && o.lastError !== null, 'output reconnecting');
  assert.ok(down.reconnects >= 1);
  b = await startB();
  await until(get, (o) => o.state === 'live', 'output live again after B restarted', 40_000);
  await waitUntil(() => b.strom.live.registry.active('dest1') !== null, 'B has the stream again', 10_000);

  const metrics = await (await fetch(`${a.httpUrl}/metrics`)).text();
  assert.match(metrics, /strom_live_outputs\{state="live"\} 1/);
  assert.match(metrics, /strom_live_output_reconnects_total [1-9]/);
  assert.match(metrics, /strom_live_output_bytes_sent_total [1-9]/);

  pub.child.kill('SIGKILL');
  const idle = await until(get, (o) => o.state === 'idle', 'output stops with the publisher');
  assert.ok(idle.bytesSent > 0);
  await waitUntil(() => b.strom.live.registry.active('dest1') === null, 'B ends the stream', 10_000);

  const list = await call('GET', `/api/v1/live-streams/${streamId}/outputs`);
  assert.equal((list.body as unknown as { items: unknown[] }).items.length, 1);
  for (const text of bodies) assert.ok(!text.includes(DEST_KEY), `key in an API answer: ${text}`);
  assert.ok(!JSON.stringify(a.logs).includes(DEST_KEY), 'key in the logs');
  assert.ok(a.logs.some((l) => l.msg === 'restream output live' && l.outputId === made.body.id && l.streamId === streamId));
});

test('node-media-server receives the stream', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'strom-nms-'));
  const nms = await startNms(root);
  t.after(async () => {
    await nms.stop();
    rmSync(root, { recursive: true, force: true });
  });
  const { call, streamId, start } = await publishedA(t, 30);
  const made = await call('POST', `/api/v1/live-streams/${streamId}/outputs`, { url: `rtmp://127.0.0.1:${nms.rtmpPort}/live/${DEST_KEY}` });
  assert.equal(made.status, 201);
  assert.equal(made.body.url, `rtmp://127.0.0.1:${nms.rtmpPort}/live/••••7734`);
  start();
  const get = async () => (await call('GET', `/api/v1/live-streams/${streamId}/outputs/${made.body.id}`)).body;
  await until(get, (o) => o.state === 'live', 'output live');
  await waitUntil(() => nms.events.some((e) => e.event === 'postPublish' && e.path === `/live/${DEST_KEY}`), 'node-media-server saw the publish', 10_000);
  assert.deepEqual(await codecs(`http://127.0.0.1:${nms.httpPort}/live/${DEST_KEY}.flv`), ['aac', 'h264']);
  // Disabling stops the push at once.
  const off = await call('PATCH', `/api/v1/live-streams/${streamId}/outputs/${made.body.id}`, { enabled: false });
  assert.equal(off.body.enabled, false);
  assert.equal(off.body.state, 'idle');
  await waitUntil(() => nms.events.some((e) => e.event === 'donePublish'), 'node-media-server saw the end', 10_000);
});

test('bad input: precise 4xx; destinations that refuse or hang up are retried without a crash', async (t) => {
  const { a, call, streamId, start } = await publishedA(t, 30, { 'live.maxOutputsPerStream': 4 });
  const base = `/api/v1/live-streams/${streamId}/outputs`;
  const code = (r: { body: Record<string, unknown> }) => (r.body.error as { code: string }).code;
  const bad = await call('POST', base, { url: 'not a url' });
  assert.equal(bad.status, 400);
  assert.equal(code(bad), 'LIVE_OUTPUT_BAD_URL');
  const rist = await call('POST', base, { url: 'rist://127.0.0.1:9000' });
  assert.equal(rist.status, 422);
  assert.equal(code(rist), 'LIVE_OUTPUT_SCHEME_UNSUPPORTED');
  assert.match((rist.body.error as { message: string }).message, /"rist".*rtmp:\/\/, rtmps:\/\/, srt:\/\//);
  const noKey = await call('POST', base, { url: 'rtmp://127.0.0.1/live' });
  assert.equal(noKey.status, 400);
  assert.match((noKey.body.error as { message: string }).message, /no stream key/);
  assert.equal(code(await call('POST', base, { name: 'no url' })), 'VALIDATION_FAILED');
  assert.equal(code(await call('POST', '/api/v1/live-streams/ls_nope/outputs', { url: 'rtmp://x/live/k' })), 'LIVE_STREAM_NOT_FOUND');
  assert.equal(code(await call('GET', `${base}/lo_nope`)), 'LIVE_OUTPUT_NOT_FOUND');

  // Refused: nothing listens. Hang-up: a server that accepts and closes at once.
  const refusedPort = await freePort();
  const hangup = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => hangup.listen(0, '127.0.0.1', r));
  t.after(() => hangup.close());
  const hangPort = (hangup.address() as net.AddressInfo).port;
  const r1 = await call('POST', base, { url: `rtmp://127.0.0.1:${refusedPort}/live`, streamKey: DEST_KEY });
  const r2 = await call('POST', base, { url: `rtmp://127.0.0.1:${hangPort}/live/${DEST_KEY}` });
  const r3 = await call('POST', base, { url: 'rtmp://127.0.0.1:1/live/k3', enabled: false });
  // rtmps: TLS is spoken and the certificate verified (a self-signed one is refused).
  const certDir = mkdtempSync(path.join(tmpdir(), 'strom-restream-tls-'));
  const cert = await ensureSelfSignedCert(certDir, '127.0.0.1');
  const tlsServer = tls.createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, (s) => s.destroy());
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
  t.after(() => {
    tlsServer.close();
    rmSync(certDir, { recursive: true, force: true });
  });
  const r4 = await call('POST', base, { url: `rtmps://127.0.0.1:${(tlsServer.address() as net.AddressInfo).port}/live/${DEST_KEY}` });
  assert.deepEqual([r1.status, r2.status, r3.status, r4.status], [201, 201, 201, 201]);
  const over = await call('POST', base, { url: 'rtmp://127.0.0.1/live/k4' });
  assert.equal(over.status, 409);
  assert.equal(code(over), 'LIVE_OUTPUT_LIMIT');
  assert.match((over.body.error as { message: string }).message, /4 outputs/);

  start();
  const get = (id: string) => async () => (await call('GET', `${base}/${id}`)).body;
  const refused = await until(get(r1.body.id), (o) => o.state === 'reconnecting' && /ECONNREFUSED/.test(o.lastError ?? ''), 'refused → reconnecting');
  const hung = await until(get(r2.body.id), (o) => o.state === 'reconnecting' && o.lastError !== null, 'hang-up → reconnecting');
  await until(get(r4.body.id), (o) => o.state === 'reconnecting' && /self-signed certificate/.test(o.lastError ?? ''), 'rtmps with an untrusted certificate → reconnecting');
  assert.ok(!JSON.stringify([refused, hung]).includes(DEST_KEY));
  assert.equal((await get(r3.body.id)()).state, 'idle', 'a disabled output does not run');
  assert.ok(a.logs.some((l) => l.msg === 'restream output failed; reconnecting' && l.outputId === r1.body.id));

  const renamed = await call('PATCH', `${base}/${r3.body.id}`, { name: 'renamed' });
  assert.equal(renamed.body.name, 'renamed');
  assert.equal(code(await call('PATCH', `${base}/${r3.body.id}`, { url: 'rist://x:1' })), 'LIVE_OUTPUT_SCHEME_UNSUPPORTED');
  assert.equal((await call('DELETE', `${base}/${r1.body.id}`)).status, 204);
  assert.equal((await call('DELETE', `${base}/${r1.body.id}`)).status, 404);
  // Deleting the stream deletes its outputs (and stops them).
  assert.equal((await call('DELETE', `/api/v1/live-streams/${streamId}`)).status, 204);
  assert.equal(await a.strom.control.store.db.selectFrom('live_outputs').select('id').where('stream_id', '=', streamId).execute().then((r) => r.length), 0);
  assert.ok(!JSON.stringify(a.logs).includes(DEST_KEY), 'key in the logs');
});

test('a publisher takeover keeps outputs connected; a destination that refuses the key ends failed', async (t) => {
  const b = await startLive({ 'live.staticKeys': `dest1:${DEST_KEY}` });
  t.after(() => b.close());
  const a = await startLive();
  t.after(() => a.close());
  const { call } = await api(a);
  const stream = (await call('POST', '/api/v1/live-streams', { title: 'takeover' })).body as unknown as { id: string; streamKey: string };
  const base = `/api/v1/live-streams/${stream.id}/outputs`;
  const good = (await call('POST', base, { url: `rtmp://127.0.0.1:${b.rtmpPort}/live`, streamKey: DEST_KEY })).body;
  const wrong = (await call('POST', base, { url: `rtmp://127.0.0.1:${b.rtmpPort}/live/wrong_key_0123456789` })).body;
  const get = (id: string) => async () => (await call('GET', `${base}/${id}`)).body;

  const first = await syntheticPublisher(a.rtmpPort, stream.streamKey);
  t.after(() => first.destroy());
  sendFrames(first, 0, 40);
  await until(get(good.id), (o) => o.state === 'live', 'output live');
  await waitUntil(() => b.strom.live.registry.active('dest1') !== null, 'B has the stream', 10_000);
  const before = await get(good.id)();

  const second = await syntheticPublisher(a.rtmpPort, stream.streamKey); // takes over
  t.after(() => second.destroy());
  sendFrames(second, 0, 40);
  await first.closed;
  await new Promise((r) => setTimeout(r, 500));
  const after = await get(good.id)();
  assert.equal(after.state, 'live');
  assert.equal(after.reconnects, before.reconnects, 'no reconnect on a takeover');
  assert.ok(after.bytesSent > before.bytesSent, 'the new publisher\'s units are pushed');
  assert.notEqual(b.strom.live.registry.active('dest1'), null);

  // 5 refusals (backoff 1 + 2 + 4 + 8 s) → failed, and left alone.
  const failed = await until(get(wrong.id), (o) => o.state === 'failed', 'refused output ends failed', 30_000);
  assert.match(failed.lastError ?? '', /refused the stream: publish answered NetStream\.Publish\.BadName/);
  assert.equal(failed.reconnects, 4);
  assert.ok(!JSON.stringify(a.logs).includes('wrong_key_0123456789'), 'key in the logs');
  const off = await call('PATCH', `${base}/${wrong.id}`, { enabled: false });
  assert.equal(off.body.state, 'idle');
  assert.equal((await get(good.id)()).state, 'live', 'the other output is untouched');
});

test('srt:// output: A pushes to B\'s SRT listener with a passphrase; a wrong one is refused with 1010; reconnects when B restarts', async (t) => {
  const pass = 'correct-horse-battery-9';
  const wrongPass = 'not-the-passphrase-42';
  const settingsB = { 'srt.enabled': 'true', 'srt.passphrase': pass, 'live.staticKeys': `dest1:${DEST_KEY}` };
  let b = await startLive(settingsB);
  t.after(() => b.close());
  const srtPort = b.strom.live.srt!.port()!;
  const { a, call, bodies, streamId, start } = await publishedA(t, 40);
  const base = `/api/v1/live-streams/${streamId}/outputs`;

  const good = await call('POST', base, { url: `srt://127.0.0.1:${srtPort}?passphrase=${pass}&pbkeylen=32&latency=200000`, streamKey: DEST_KEY, name: 'B over SRT' });
  assert.equal(good.status, 201, JSON.stringify(good.body));
  assert.equal(good.body.url, `srt://127.0.0.1:${srtPort}?streamid=••••7734&passphrase=••••&pbkeylen=32&latency=200000`);
  // The stream id written unencoded in the URL, as ffmpeg users do.
  const wrong = await call('POST', base, { url: `srt://127.0.0.1:${srtPort}?streamid=#!::r=${DEST_KEY},m=publish&passphrase=${wrongPass}` });
  assert.equal(wrong.status, 201, JSON.stringify(wrong.body));
  assert.equal(wrong.body.url, `srt://127.0.0.1:${srtPort}?streamid=••••7734&passphrase=••••`);
  const get = (id: string) => async () => (await call('GET', `${base}/${id}`)).body;

  const pub = start();
  await until(get(good.body.id), (o) => o.state === 'live', 'srt output goes live');
  await waitUntil(() => b.strom.live.registry.active('dest1') !== null, 'B has the stream', 10_000);
  assert.deepEqual(await codecs(`${b.httpUrl}/live/dest1.flv`), ['aac', 'h264']);
  const before = (await get(good.body.id)()).bytesSent;
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok((await get(good.body.id)()).bytesSent > before, 'bytesSent grows');
  const refused = await until(get(wrong.body.id), (o) => (o.state === 'reconnecting' || o.state === 'failed') && o.lastError !== null, 'wrong passphrase → refused');
  assert.match(refused.lastError!, /refused the stream: SRT rejection 1010 \(wrong passphrase\)/);

  // B goes away: the output retries; B comes back on the same port: live again.
  await b.close();
  const down = await until(get(good.body.id), (o) => o.state === 'reconnecting' && o.lastError !== null, 'srt output reconnecting');
  assert.ok(down.reconnects >= 1);
  b = await startLive({ ...settingsB, 'srt.port': srtPort });
  await until(get(good.body.id), (o) => o.state === 'live', 'srt output live again after B restarted', 20_000);
  await waitUntil(() => b.strom.live.registry.active('dest1') !== null, 'B has the stream again', 10_000);

  pub.child.kill('SIGKILL');
  await until(get(good.body.id), (o) => o.state === 'idle', 'output stops with the publisher');
  for (const text of bodies) for (const secret of [DEST_KEY, pass, wrongPass]) assert.ok(!text.includes(secret), `secret in an API answer: ${text}`);
  for (const secret of [DEST_KEY, pass, wrongPass]) assert.ok(!JSON.stringify(a.logs).includes(secret), 'secret in the logs');
});

test('srt:// output to libsrt: srt-live-transmit listening with AES-256 receives the stream as MPEG-TS (h264 + aac)', async (t) => {
  const pass = 'correct-horse-battery-9';
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-restream-srt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'out.ts');
  const fd = openSync(file, 'w');
  const receiver = spawn('srt-live-transmit', ['-q', `srt://127.0.0.1:${port}?mode=listener&passphrase=${pass}&pbkeylen=32`, 'file://con'], { stdio: ['ignore', fd, 'ignore'] });
  t.after(() => receiver.kill('SIGKILL'));
  const { call, streamId, start } = await publishedA(t, 30);
  const made = await call('POST', `/api/v1/live-streams/${streamId}/outputs`, { url: `srt://127.0.0.1:${port}?streamid=${DEST_KEY}&passphrase=${pass}&pbkeylen=32&latency=200` });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  start();
  const get = async () => (await call('GET', `/api/v1/live-streams/${streamId}/outputs/${made.body.id}`)).body;
  await until(get, (o) => o.state === 'live', 'output live to srt-live-transmit');
  await waitUntil(() => statSync(file).size > 100_000, 'srt-live-transmit wrote the stream', 10_000);
  const exited = new Promise((resolve) => receiver.once('exit', resolve));
  receiver.kill('SIGINT');
  await exited;
  closeSync(fd);
  assert.deepEqual(await codecs(file), ['aac', 'h264']);
});
