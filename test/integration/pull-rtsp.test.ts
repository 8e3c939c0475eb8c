/**
 * Strom pulling RTSP (src/live/pull/sources/rtsp-source.ts) from a camera nobody here wrote —
 * GStreamer's RTSP server library (test/fixtures/rtsp-camera.py): H.264 + Opus and H.265 + AAC,
 * over UDP and TCP, over TLS (rtsps://), with Digest credentials, refusing UDP (461) and with UDP
 * blackholed (no RTP: TCP fallback); from Strom's own RTSP server (ffmpeg publishes H.264 with
 * B-frames + AAC, the pull reads it back with the Basic password of a guarded stream); and from
 * fake servers written here: hostile ones (never answering, a redirect loop, a lying interleaved
 * length, garbage, an oversized body, 404, no usable track, a frame past the buffer bound), one
 * checking keep-alives and TEARDOWN, and one playing camera realities (no IDR at start, RTP
 * timestamp wrap, SSRC change, resolution change). Nothing may stay open after any of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { fail, isStromError } from '../../src/errors.js';
import { ensureSelfSignedCert } from '../../src/http/tls-self-signed.js';
import { rtspConnector } from '../../src/live/pull/sources/rtsp-source.js';
import type { SourceConnection, SourceMeta, SourceSink } from '../../src/live/pull/connector/source-connector.js';
import { interleavedFrame, RtspReader, type RtspRequest } from '../../src/live/rtsp/rtsp-message.js';
import { packetizeH264 } from '../../src/live/rtp/h264-packetizer.js';
import { serializeRtp } from '../../src/live/rtp/rtp-packet.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { run, startLive } from '../helpers/live-fixtures.js';
import { until, within } from '../helpers/until.js';
import { camera, cameraMissing } from '../helpers/rtsp-camera.js';

const gstMissing = cameraMissing;
const ffmpegMissing = spawnSync('ffmpeg', ['-version']).status !== 0 ? 'needs ffmpeg (apt-get install ffmpeg)' : false;

/** A sink that keeps what it gets. */
function collector() {
  const units: MediaUnit[] = [];
  const metas: SourceMeta[] = [];
  let bytes = 0;
  const sink: SourceSink = { unit: (u) => units.push(u), meta: (m) => metas.push(m), received: (n) => { bytes += n; } };
  return { sink, units, metas, bytes: () => bytes, video: () => units.filter((u) => u.kind === 'video') };
}

/** A logger whose lines are kept (to see which transport was used). */
function logger() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _e, cb) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>); cb(); } }));
  return { log, lines, text: () => lines.map((l) => JSON.stringify(l)).join('\n') };
}

const opts = (log: pino.Logger, timeoutMs = 5_000) => ({ timeoutMs, maxBufferBytes: 8 * 1024 * 1024, log });

/** Handles that must not leak: sockets (TCP, TLS, UDP). */
function openSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'UDPWrap' || r === 'TLSWrap').length;
}

/** Check a pulled H.264 stream: config first, then a keyframe, dts increasing, picture size. */
function checkVideo(c: ReturnType<typeof collector>, width: number, height: number): void {
  const v = c.video();
  assert.ok(v[0]?.config, 'the first video unit is the decoder configuration');
  const frames = v.filter((u) => !u.config);
  assert.ok(frames[0]?.keyframe, 'the first frame is a keyframe');
  for (let i = 1; i < frames.length; i++) assert.ok(frames[i]!.dts > frames[i - 1]!.dts, `dts increases (${frames[i - 1]!.dts} → ${frames[i]!.dts})`);
  for (const f of frames) assert.ok(f.pts >= f.dts, 'pts ≥ dts');
  assert.deepEqual(c.metas.at(-1), { width, height });
}

async function pull(url: string, log = logger(), timeoutMs = 5_000) {
  const c = collector();
  const conn = await rtspConnector.connect(new URL(url), c.sink, opts(log.log, timeoutMs));
  return { c, conn, log };
}

async function stop(conn: SourceConnection): Promise<void> {
  conn.close('test done');
  const end = await within(conn.closed, 'closed to resolve', 5_000);
  assert.equal(end.permanent, false);
}

test('GStreamer camera: H.264 over UDP and H.264 + Opus over TCP', { skip: gstMissing }, async () => {
  const before = openSockets();
  const cam = await camera(['--audio', 'opus']);
  try {
    const udp = await pull(`rtsp://127.0.0.1:${cam.port}/cam`);
    await until(() => udp.c.video().filter((u) => !u.config).length >= 30, 'video frames over UDP', 20_000);
    await stop(udp.conn);
    checkVideo(udp.c, 320, 240);
    assert.match(udp.log.text(), /avc\/udp/);
    assert.ok(udp.c.bytes() > 10_000, 'received bytes are counted');

    const tcp = await pull(`rtsp://127.0.0.1:${cam.port}/cam?transport=tcp`);
    await until(() => tcp.c.video().filter((u) => !u.config).length >= 30 && tcp.c.units.some((u) => u.codec === 'opus' && !u.config), 'video and audio over TCP', 20_000);
    await stop(tcp.conn);
    checkVideo(tcp.c, 320, 240);
    assert.match(tcp.log.text(), /avc\/tcp/);
    const audio = tcp.c.units.filter((u) => u.kind === 'audio');
    assert.ok(audio[0]!.config && audio[0]!.codec === 'opus', 'the Opus head comes first');
  } finally {
    cam.child.kill('SIGKILL');
  }
  await until(() => openSockets() <= before, 'sockets closed', 5_000);
});

test('GStreamer camera: H.265 + AAC (mpeg4-generic) over UDP', { skip: gstMissing || (spawnSync('gst-inspect-1.0', ['x265enc']).status !== 0 ? 'needs the GStreamer x265enc element (gstreamer1.0-plugins-bad)' : false) }, async () => {
  const cam = await camera(['--codec', 'h265', '--audio', 'aac']);
  try {
    const p = await pull(`rtsp://127.0.0.1:${cam.port}/cam`);
    await until(() => p.c.video().filter((u) => !u.config).length >= 30 && p.c.units.some((u) => u.codec === 'aac' && !u.config), 'H.265 and AAC frames', 20_000);
    await stop(p.conn);
    checkVideo(p.c, 320, 240);
    assert.equal(p.c.video()[0]!.codec, 'hevc');
    const audio = p.c.units.filter((u) => u.kind === 'audio');
    assert.ok(audio[0]!.config && audio[0]!.codec === 'aac', 'the AudioSpecificConfig comes first');
    assert.match(p.log.text(), /hevc\/udp.*aac\/udp/);
  } finally {
    cam.child.kill('SIGKILL');
  }
});

test('rtsps:// (RTSP over TLS): an untrusted certificate is refused; a trusted one plays, interleaved', { skip: gstMissing }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-rtsps-'));
  const cam = await camera();
  const cert = await ensureSelfSignedCert(dir, '127.0.0.1');
  // TLS in front of the camera, as a camera with RTSPS on port 322 would be.
  const proxy = tls.createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, (client) => {
    const up = net.connect(cam.port, '127.0.0.1');
    client.pipe(up).pipe(client);
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
    client.on('close', () => up.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const url = `rtsps://127.0.0.1:${(proxy.address() as net.AddressInfo).port}/cam`;
  try {
    const err = await rtspConnector.connect(new URL(url), collector().sink, opts(logger().log)).then(() => null, (e: unknown) => e);
    assert.ok(isStromError(err, 'LIVE_SOURCE_UNREACHABLE'), String(err));
    assert.match(err.message, /SELF_SIGNED|certificate/i);
    // Trust is process-wide (NODE_EXTRA_CA_CERTS is read at start): a child process pulls with the certificate trusted.
    const script = `import { rtspConnector } from './src/live/pull/sources/rtsp-source.js'; import pino from 'pino';
      const conn = await rtspConnector.connect(new URL(${JSON.stringify(url)}), { unit(u) { if (u.kind === 'video' && u.keyframe && !u.config) { console.log('KEYFRAME'); conn.close('done'); } }, meta() {}, received() {} }, { timeoutMs: 5000, maxBufferBytes: 1 << 23, log: pino({ level: 'info' }) });
      console.log((await conn.closed).reason);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: cert.cert }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await within(new Promise<number | null>((r) => child.on('close', r)), 'the rtsps pull', 30_000);
    assert.equal(code, 0, out);
    assert.match(out, /KEYFRAME/);
    assert.match(out, /avc\/tcp/, 'rtsps interleaves');
  } finally {
    cam.child.kill('SIGKILL');
    proxy.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('GStreamer camera with Digest credentials: the right password plays, a wrong one is refused (permanent)', { skip: gstMissing }, async () => {
  const before = openSockets();
  const cam = await camera(['--user', 'admin', '--password', 'Circle of Life']);
  try {
    const ok = await pull(`rtsp://admin:Circle%20of%20Life@127.0.0.1:${cam.port}/cam?transport=tcp`);
    await until(() => ok.c.video().some((u) => u.keyframe && !u.config), 'a keyframe with Digest', 20_000);
    await stop(ok.conn);
    const l = logger();
    const err = await rtspConnector.connect(new URL(`rtsp://admin:wrong@127.0.0.1:${cam.port}/cam`), collector().sink, opts(l.log)).then(() => null, (e: unknown) => e);
    assert.ok(isStromError(err, 'LIVE_SOURCE_REFUSED'), String(err));
    assert.doesNotMatch(err.message + l.text(), /wrong|Circle/, 'no secret in the error or the log');
    const none = await rtspConnector.connect(new URL(`rtsp://127.0.0.1:${cam.port}/cam`), collector().sink, opts(l.log)).then(() => null, (e: unknown) => e);
    assert.ok(isStromError(none, 'LIVE_SOURCE_REFUSED'), String(none));
  } finally {
    cam.child.kill('SIGKILL');
  }
  await until(() => openSockets() <= before, 'sockets closed', 5_000);
});

test('UDP refused (461) falls back to TCP per track; UDP blackholed (no RTP in 3 s) falls back to TCP', { skip: gstMissing }, async () => {
  const before = openSockets();
  const tcpOnly = await camera(['--tcp-only']);
  const cam = await camera();
  // A proxy in front of the camera that rewrites SETUP's client_port to a port nobody reads: the camera's RTP goes nowhere.
  const proxy = net.createServer((client) => {
    const up = net.connect(cam.port, '127.0.0.1');
    client.on('data', (d: Buffer) => up.write(d.toString('latin1').replace(/client_port=\d+-\d+/g, 'client_port=9-10'), 'latin1'));
    up.pipe(client);
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
    client.on('close', () => up.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  try {
    const a = await pull(`rtsp://127.0.0.1:${tcpOnly.port}/cam`);
    await until(() => a.c.video().some((u) => u.keyframe && !u.config), 'a keyframe after 461', 20_000);
    await stop(a.conn);
    assert.match(a.log.text(), /refused UDP \(461\)/);
    assert.match(a.log.text(), /avc\/tcp/);

    const started = Date.now();
    const b = await pull(`rtsp://127.0.0.1:${(proxy.address() as net.AddressInfo).port}/cam`);
    assert.match(b.log.text(), /avc\/udp/, 'UDP was tried first');
    await until(() => b.c.video().some((u) => u.keyframe && !u.config), 'a keyframe after the fallback', 20_000);
    await stop(b.conn);
    assert.match(b.log.text(), /falling back to TCP/);
    assert.ok(Date.now() - started >= 3_000, 'the fallback waited for RTP first');
    checkVideo(b.c, 320, 240);
  } finally {
    tcpOnly.child.kill('SIGKILL');
    cam.child.kill('SIGKILL');
    proxy.close();
  }
  await until(() => openSockets() <= before, 'sockets closed', 5_000);
});

test('Strom\'s own RTSP server: ffmpeg publishes H.264 + AAC, the pull reads it with the Basic password; a wrong one is refused', { skip: ffmpegMissing }, async () => {
  const h = await startLive({ 'rtsp.enabled': 'true', 'live.staticKeys': 'cam1:secret' });
  const port = h.strom.live.rtsp!.port()!;
  h.strom.live.setPlaybackGuard((req, streamId) => {
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
    if (token !== 'good') throw fail('PLAYBACK_DENIED', streamId, token === null ? 'a playback token is required' : 'bad token');
  });
  const pub = run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-bf', '2', '-c:a', 'aac', '-t', '30', '-f', 'rtsp', '-rtsp_transport', 'tcp', `rtsp://127.0.0.1:${port}/live/secret`], 50_000);
  try {
    await until(() => { const t = h.strom.live.registry.active('cam1')?.tracks; return t?.video !== undefined && t.audio !== undefined; }, 'the RTSP publisher\'s tracks', 15_000);
    const p = await pull(`rtsp://viewer:good@127.0.0.1:${port}/live/cam1`);
    await until(() => p.c.video().filter((u) => !u.config).length >= 40 && p.c.units.some((u) => u.codec === 'aac' && !u.config), 'H.264 and AAC from Strom', 20_000);
    await stop(p.conn);
    checkVideo(p.c, 320, 240);
    assert.ok(p.c.video().some((u) => u.pts > u.dts), 'B-frames keep pts ahead of dts');
    const err = await rtspConnector.connect(new URL(`rtsp://viewer:bad@127.0.0.1:${port}/live/cam1`), collector().sink, opts(logger().log)).then(() => null, (e: unknown) => e);
    assert.ok(isStromError(err, 'LIVE_SOURCE_REFUSED'), String(err));
    const missing = await rtspConnector.connect(new URL(`rtsp://viewer:good@127.0.0.1:${port}/live/nosuch`), collector().sink, opts(logger().log)).then(() => null, (e: unknown) => e);
    assert.ok(isStromError(missing, 'LIVE_SOURCE_REFUSED'), String(missing));
  } finally {
    pub.child.kill('SIGKILL');
    await h.close();
  }
});

/** A fake RTSP server: `answer` gets each request and writes what it likes. */
async function fakeServer(answer: (req: RtspRequest, s: net.Socket, port: number) => void): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    const reader = new RtspReader({ maxHeaderBytes: 8192, maxBodyBytes: 8192 });
    s.on('data', (d: Buffer) => {
      for (const item of reader.push(d)) if (item.type === 'request') answer(item.request, s, port);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { port, close() { for (const s of sockets) s.destroy(); server.close(); } };
}

const SDP = (encoding = 'H264/90000') => `v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 ${encoding}\r\na=control:trackID=0\r\n`;
const reply = (req: RtspRequest, status: string, headers: string[] = [], body = '') =>
  `RTSP/1.0 ${status}\r\nCSeq: ${req.headers.get('cseq')}\r\n${headers.map((h) => `${h}\r\n`).join('')}${body ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n${body}`;

/** Answers OPTIONS, DESCRIBE (the SDP), SETUP over TCP, PLAY and keep-alives; `played` runs after PLAY. */
function camLike(played: (s: net.Socket) => void, sdp = SDP(), timeoutS = 60, seen: string[] = []) {
  return (req: RtspRequest, s: net.Socket) => {
    seen.push(req.method);
    if (req.method === 'OPTIONS') s.write(reply(req, '200 OK', ['Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER']));
    else if (req.method === 'DESCRIBE') s.write(reply(req, '200 OK', ['Content-Type: application/sdp'], sdp));
    else if (req.method === 'SETUP') s.write(reply(req, '200 OK', [`Session: 1234;timeout=${timeoutS}`, 'Transport: RTP/AVP/TCP;unicast;interleaved=0-1']));
    else if (req.method === 'PLAY') {
      s.write(reply(req, '200 OK', ['Session: 1234']));
      played(s);
    } else s.write(reply(req, '200 OK', ['Session: 1234']));
  };
}

async function refused(url: string, timeoutMs = 1_500): Promise<{ code: string; message: string; ms: number }> {
  const t0 = Date.now();
  const err = await rtspConnector.connect(new URL(url), collector().sink, opts(logger().log, timeoutMs)).then(() => null, (e: unknown) => e);
  assert.ok(isStromError(err), `rejected with a catalog error: ${String(err)}`);
  return { code: err.code, message: err.message, ms: Date.now() - t0 };
}

test('hostile servers: silence, redirect loop, lying interleaved length, garbage, 404, no usable track; nothing leaks', async () => {
  const before = openSockets();
  const silent = await fakeServer(() => {});
  const loop = await fakeServer((req, s, port) => s.write(reply(req, '302 Found', [`Location: rtsp://127.0.0.1:${port}/${req.uri.endsWith('/a') ? 'b' : 'a'}`])));
  const garbage = await fakeServer((_req, s) => s.write(Buffer.alloc(20_000, 0x41)));
  const notFound = await fakeServer((req, s) => s.write(reply(req, '404 Not Found')));
  const jpeg = await fakeServer(camLike(() => {}, SDP('JPEG/90000')));
  const liar = await fakeServer(camLike((s) => s.write(Buffer.from([0x24, 0, 0xff, 0xff, 1, 2, 3]))));
  const huge = await fakeServer((req, s) => s.write(`RTSP/1.0 200 OK\r\nCSeq: ${req.headers.get('cseq')}\r\nContent-Length: 99999999\r\n\r\nv=0`));
  const afterLie = await fakeServer(camLike((s) => setTimeout(() => s.write(Buffer.concat([Buffer.from([0x24, 0, 0, 4, 1, 2, 3, 4]), Buffer.from('NOT RTSP AT ALL\r\n'.repeat(2000))])), 300)));
  try {
    const t = await refused(`rtsp://127.0.0.1:${silent.port}/x`);
    assert.equal(t.code, 'LIVE_SOURCE_TIMEOUT');
    assert.ok(t.ms < 3_000, `gave up after ${t.ms} ms`);
    const r = await refused(`rtsp://user:pw@127.0.0.1:${loop.port}/start`);
    assert.equal(r.code, 'LIVE_SOURCE_PROTOCOL');
    assert.match(r.message, /redirect/);
    assert.doesNotMatch(r.message, /pw/);
    assert.equal((await refused(`rtsp://127.0.0.1:${garbage.port}/x`)).code, 'LIVE_SOURCE_PROTOCOL');
    assert.equal((await refused(`rtsp://127.0.0.1:${notFound.port}/x`)).code, 'LIVE_SOURCE_REFUSED');
    const big = await refused(`rtsp://127.0.0.1:${huge.port}/x`);
    assert.equal(big.code, 'LIVE_SOURCE_PROTOCOL');
    assert.match(big.message, /body bytes/);
    const j = await refused(`rtsp://127.0.0.1:${jpeg.port}/x`);
    assert.equal(j.code, 'LIVE_SOURCE_PROTOCOL');
    assert.match(j.message, /JPEG/);
    const closedPort = await fakeServer(() => {});
    closedPort.close();
    assert.equal((await refused(`rtsp://127.0.0.1:${closedPort.port}/x`)).code, 'LIVE_SOURCE_UNREACHABLE');

    // Accepted, then a frame header announcing 65535 bytes that never come: the idle limit ends it.
    const lied = await rtspConnector.connect(new URL(`rtsp://127.0.0.1:${liar.port}/x?transport=tcp`), collector().sink, opts(logger().log, 2_000));
    const end = await within(lied.closed, 'the lying source to be ended', 6_000);
    assert.match(end.reason, /no media/);
    assert.equal(end.permanent, false);
    // Garbage after a frame: a framing error ends it at once.
    const bad = await rtspConnector.connect(new URL(`rtsp://127.0.0.1:${afterLie.port}/x?transport=tcp`), collector().sink, opts(logger().log, 2_000));
    const end2 = await within(bad.closed, 'the garbage source to be ended', 6_000);
    assert.match(end2.reason, /cannot use|header|malformed/);
  } finally {
    for (const s of [silent, loop, garbage, notFound, huge, jpeg, liar, afterLie]) s.close();
  }
  await sleep(100);
  await until(() => openSockets() <= before, `sockets closed (${openSockets()} open, ${before} before)`, 5_000);
});

test('keep-alives at half the Session timeout (GET_PARAMETER when listed), TEARDOWN on close', async () => {
  const seen: string[] = [];
  const server = await fakeServer(camLike(() => {}, SDP(), 2, seen));
  try {
    const p = await pull(`rtsp://127.0.0.1:${server.port}/x?transport=tcp`);
    await sleep(2_600);
    await stop(p.conn);
    await until(() => seen.includes('TEARDOWN'), 'TEARDOWN', 2_000);
    assert.deepEqual(seen.slice(0, 4), ['OPTIONS', 'DESCRIBE', 'SETUP', 'PLAY']);
    const keepAlives = seen.filter((m) => m === 'GET_PARAMETER').length;
    assert.ok(keepAlives >= 2 && keepAlives <= 3, `${keepAlives} keep-alives in 2.6 s with timeout=2`);
  } finally {
    server.close();
  }
});

test('a frame past a quarter of maxBufferBytes ends the connection as a protocol error', async () => {
  const sps = Buffer.from('Z0LAFdoFB+wFqDAwNSgAAAMACAAAAwGUeLF1', 'base64');
  const pps = Buffer.from('aM48gA==', 'base64');
  const huge = Buffer.concat([Buffer.from([0x65]), Buffer.alloc(40_000, 0x5a)]); // one 40 kB IDR slice
  const server = await fakeServer(camLike((s) => {
    let seq = 1;
    for (const p of packetizeH264([sps, pps, huge])) s.write(interleavedFrame(0, serializeRtp({ payloadType: 96, marker: p.marker, sequenceNumber: seq++, timestamp: 9000, ssrc: 7, payload: p.payload })));
  }));
  try {
    const conn = await rtspConnector.connect(new URL(`rtsp://127.0.0.1:${server.port}/x?transport=tcp`), collector().sink, { timeoutMs: 5_000, maxBufferBytes: 64 * 1024, log: logger().log });
    const end = await within(conn.closed, 'the connection to end', 5_000);
    assert.match(end.reason, /cannot use: a frame larger than 16384 bytes/);
    assert.equal(end.permanent, false);
  } finally {
    server.close();
  }
});

/** H.264 access units (NAL units without start codes) of a short ffmpeg test pattern, one AUD each. */
async function accessUnits(size: string, frames: number): Promise<Buffer[][]> {
  const r = await new Promise<Buffer>((resolve, reject) => {
    const c = spawn('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `testsrc=size=${size}:rate=25`, '-frames:v', String(frames), '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-g', '5', '-x264-params', 'aud=1', '-f', 'h264', '-'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const parts: Buffer[] = [];
    c.stdout.on('data', (d: Buffer) => parts.push(d));
    c.on('close', (code) => (code === 0 ? resolve(Buffer.concat(parts)) : reject(new Error(`ffmpeg exited ${code}`))));
  });
  const nalus: Buffer[] = [];
  let start = -1;
  for (let i = 0; i + 2 < r.length; i++) {
    if (r[i] === 0 && r[i + 1] === 0 && r[i + 2] === 1) {
      if (start >= 0) nalus.push(r.subarray(start, i > 0 && r[i - 1] === 0 ? i - 1 : i));
      start = i + 3;
      i += 2;
    }
  }
  nalus.push(r.subarray(start));
  const aus: Buffer[][] = [];
  for (const n of nalus) {
    if ((n[0]! & 0x1f) === 9) aus.push([]);
    aus.at(-1)?.push(n);
  }
  return aus;
}

test('camera realities: no IDR at start (dropped, PLI sent), RTP timestamp wrap, SSRC change, resolution change mid-stream', { skip: ffmpegMissing }, async () => {
  const small = await accessUnits('320x240', 10);
  const large = await accessUnits('640x480', 10);
  const sps = small[0]!.find((n) => (n[0]! & 0x1f) === 7)!;
  const pps = small[0]!.find((n) => (n[0]! & 0x1f) === 8)!;
  const sdp = SDP().replace('a=control:trackID=0', `a=fmtp:96 packetization-mode=1;sprop-parameter-sets=${sps.toString('base64')},${pps.toString('base64')}\r\na=control:trackID=0`);
  let plis = 0;
  const server = await fakeServer(camLike((s) => {
    // P-frames first (no IDR yet), then a GOP near the 32-bit timestamp wrap, then the camera restarts: new SSRC, new size.
    const plan = [...small.slice(1, 3).map((au) => ({ au, ssrc: 1 })), ...small.map((au) => ({ au, ssrc: 1 })), ...large.map((au) => ({ au, ssrc: 2 }))];
    let seq = 65_530;
    let ts = 0xffffffff - 3600 * 4;
    const send = (i: number) => {
      const step = plan[i];
      if (step === undefined || s.destroyed) return;
      if (i > 0 && step.ssrc !== plan[i - 1]!.ssrc) {
        seq = 100;
        ts = 123_456_789;
      }
      for (const p of packetizeH264(step.au)) s.write(interleavedFrame(0, serializeRtp({ payloadType: 96, marker: p.marker, sequenceNumber: seq++ & 0xffff, timestamp: ts >>> 0, ssrc: step.ssrc, payload: p.payload })));
      ts = (ts + 3600) >>> 0;
      setTimeout(() => send(i + 1), 40);
    };
    send(0);
    const frames = new RtspReader({ maxHeaderBytes: 8192, maxBodyBytes: 8192 });
    s.on('data', (d: Buffer) => {
      try {
        for (const item of frames.push(d)) if (item.type === 'data' && item.channel === 1 && item.data.includes(Buffer.from([0x81, 206]))) plis++;
      } catch { /* requests are read by fakeServer */ }
    });
  }, sdp));
  try {
    const p = await pull(`rtsp://127.0.0.1:${server.port}/x?transport=tcp`);
    await until(() => p.c.video().filter((u) => !u.config).length >= 20, '20 frames', 10_000);
    await stop(p.conn);
    const v = p.c.video();
    assert.equal(v.filter((u) => !u.config).length, 20, 'the two P-frames before the first IDR were dropped');
    checkVideo(p.c, 640, 480);
    assert.equal(v.filter((u) => u.config).length, 2, 'a new configuration unit for the new SPS');
    assert.ok(v[11]!.config, 'the second configuration comes before the first 640x480 frame');
    assert.deepEqual(p.c.metas, [{ width: 320, height: 240 }, { width: 640, height: 480 }]);
    const frames = v.filter((u) => !u.config);
    for (let i = 1; i < frames.length; i++) assert.ok(frames[i]!.dts - frames[i - 1]!.dts < 1_000, `no leap across the wrap or the SSRC change (${frames[i - 1]!.dts} → ${frames[i]!.dts})`);
    assert.ok(plis >= 1, 'a PLI asked for a keyframe');
  } finally {
    server.close();
  }
});
