/**
 * rtmp:// sources: Strom's RTMP play client pulls from Strom (ffmpeg publishing) and from
 * node-media-server; refusals, unreachable and silent servers, TLS and idle sources fail or end
 * with the right catalog error or reason, and nothing stays open after a failed connect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { rtmpConnector } from '../../src/live/pull/sources/rtmp-source.js';
import { ensureSelfSignedCert } from '../../src/http/tls-self-signed.js';
import { isStromError } from '../../src/errors.js';
import { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { aacConfigBody, aacFrameBody, ffmpegPublish, sendFrames, startLive, syntheticPublisher, waitUntil } from '../helpers/live-fixtures.js';
import { freePort } from '../helpers/free-port.js';
import { startNms } from '../helpers/nms-receiver.js';
import { assertLiveUnits, assertSourceError, videoFrames } from '../helpers/pull-checks.js';
import { connectOptions, RecordingSink } from '../helpers/source-sink.js';

/** Client TCP sockets open in this process (Strom's own accepted sockets included). */
function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TLSWrap').length;
}

test('pulls an ffmpeg stream from Strom: config first, keyframe first, rising dts, audio and video, picture size; ends when the publisher stops', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const pub = ffmpegPublish(h.rtmpPort, 'secret', 6);
  t.after(() => pub.child.kill('SIGKILL'));
  await waitUntil(() => h.strom.live.registry.active('cam1') !== null, 'ffmpeg is publishing', 15_000);
  const sink = new RecordingSink();
  const conn = await rtmpConnector.connect(new URL(`rtmp://127.0.0.1:${h.rtmpPort}/live/cam1`), sink, connectOptions());
  await videoFrames(sink, 50);
  assertLiveUnits(sink, 50);
  assert.deepEqual(sink.metas.at(-1), { width: 320, height: 240, framerate: 25 });
  assert.ok(sink.bytes > 10_000, `${sink.bytes} bytes counted`);
  assert.equal(h.strom.live.status('cam1').viewers.rtmp, 1);
  const end = await conn.closed; // ffmpeg stops after 6 s
  assert.equal(end.permanent, false);
  assert.match(end.reason, /source closed the connection|UnpublishNotify/);
  assertLiveUnits(sink, 100);
});

test('pulls from node-media-server (a third-party RTMP server); close() ends it with the given reason', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'strom-pull-nms-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const nms = await startNms(root);
  t.after(() => nms.stop());
  const pub = ffmpegPublish(nms.rtmpPort, 'feed_Zq81xLmw', 20);
  t.after(() => pub.child.kill('SIGKILL'));
  await waitUntil(() => nms.events.some((e) => e.event === 'postPublish'), 'ffmpeg publishes to node-media-server', 15_000);
  const sink = new RecordingSink();
  const conn = await rtmpConnector.connect(new URL(`rtmp://127.0.0.1:${nms.rtmpPort}/live/feed_Zq81xLmw`), sink, connectOptions());
  await videoFrames(sink, 30);
  assertLiveUnits(sink, 30);
  assert.equal(sink.metas.at(-1)?.width, 320);
  assert.equal(sink.metas.at(-1)?.height, 240);
  conn.close('stopped by the test');
  assert.deepEqual(await conn.closed, { reason: 'stopped by the test', permanent: false });
});

test('refusals and failures: stream not found, connection refused, a silent server, an untrusted TLS certificate; nothing left open', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const baseline = tcpSockets();
  const settled = () => waitUntil(() => tcpSockets() <= baseline, `sockets back to ${baseline} (now ${tcpSockets()})`, 5000);

  const key = 'missing_Zq81xLmw0pQr';
  await assertSourceError(rtmpConnector.connect(new URL(`rtmp://127.0.0.1:${h.rtmpPort}/live/${key}`), new RecordingSink(), connectOptions()), 'LIVE_SOURCE_REFUSED', /StreamNotFound/, [key]);
  await settled();

  const closedPort = await freePort();
  await assertSourceError(rtmpConnector.connect(new URL(`rtmp://127.0.0.1:${closedPort}/live/cam1`), new RecordingSink(), connectOptions()), 'LIVE_SOURCE_UNREACHABLE', /ECONNREFUSED/);
  await settled();

  const held: net.Socket[] = [];
  const silent = net.createServer((s) => held.push(s.resume())); // accepts, reads, never answers
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.after(() => silent.close());
  const started = Date.now();
  await assertSourceError(rtmpConnector.connect(new URL(`rtmp://127.0.0.1:${(silent.address() as net.AddressInfo).port}/live/cam1`), new RecordingSink(), connectOptions({ timeoutMs: 600 })), 'LIVE_SOURCE_TIMEOUT', /600 ms/);
  assert.ok(Date.now() - started < 3000, 'gave up at the timeout');
  await waitUntil(() => held.length === 1 && held[0]!.destroyed, 'the silent server sees the connection closed', 3000);
  await settled();

  const certDir = mkdtempSync(path.join(tmpdir(), 'strom-pull-tls-'));
  t.after(() => rmSync(certDir, { recursive: true, force: true }));
  const cert = await ensureSelfSignedCert(certDir, '127.0.0.1');
  const tlsServer = tls.createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, (s) => s.destroy());
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
  t.after(() => tlsServer.close());
  await assertSourceError(rtmpConnector.connect(new URL(`rtmps://127.0.0.1:${(tlsServer.address() as net.AddressInfo).port}/live/cam1`), new RecordingSink(), connectOptions()), 'LIVE_SOURCE_REFUSED', /certificate/);
  await settled();
});

test('URL forms: validate refuses a URL without a stream name; the query stays on the stream name; a source that goes silent is ended', async (t) => {
  assert.throws(() => rtmpConnector.validate(new URL('rtmp://example.com/live')), (e: unknown) => isStromError(e, 'LIVE_SOURCE_BAD_URL'));
  rtmpConnector.validate(new URL('rtmps://example.com/app/instance/stream?token=x'));
  const h = await startLive();
  t.after(() => h.close());
  const publisher = await syntheticPublisher(h.rtmpPort);
  t.after(() => publisher.destroy());
  sendFrames(publisher, 0, 19); // the GOP cache hands a new player frames 10–19
  await waitUntil(() => h.strom.live.registry.active('cam1') !== null, 'live', 5000);
  const sink = new RecordingSink();
  const conn = await rtmpConnector.connect(new URL(`rtmp://127.0.0.1:${h.rtmpPort}/live/cam1?token=abc`), sink, connectOptions({ timeoutMs: 1000 }));
  await videoFrames(sink, 10, 5000);
  assert.deepEqual(sink.metas.at(-1), { width: 640, height: 360, framerate: 25 });
  const end = await conn.closed; // the publisher stays connected but sends nothing more
  assert.deepEqual(end, { reason: 'no media from the source for 1000 ms', permanent: false });
});

test('Enhanced RTMP: HEVC (FourCC hvc1) video is pulled as hevc units', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const publisher = await RtmpClient.connect('127.0.0.1', h.rtmpPort, 'live');
  t.after(() => publisher.destroy());
  assert.equal(await publisher.publish('secret'), 'NetStream.Publish.Start');
  const ex = (frameType: number, packetType: number, rest: Buffer) => Buffer.concat([Buffer.from([0x80 | (frameType << 4) | packetType]), Buffer.from('hvc1', 'latin1'), rest]);
  publisher.send(9, 0, ex(1, 0, Buffer.from([1, 1, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 0x5d, 0xf0, 0, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 0])));
  publisher.send(8, 0, aacConfigBody());
  for (let i = 0; i < 10; i++) {
    publisher.send(9, i * 40, ex(i === 0 ? 1 : 2, 1, Buffer.from([0, 0, 0, 0, 0, 0, 4, 0x26, 1, 0xaf, i])));
    publisher.send(8, i * 40, aacFrameBody(30));
  }
  await waitUntil(() => h.strom.live.registry.active('cam1') !== null, 'live', 5000);
  const sink = new RecordingSink();
  const conn = await rtmpConnector.connect(new URL(`rtmp://127.0.0.1:${h.rtmpPort}/live/cam1`), sink, connectOptions());
  await videoFrames(sink, 10, 5000);
  const video = sink.of('video');
  assert.ok(video.every((u) => u.codec === 'hevc'), video.map((u) => u.codec).join());
  assert.equal(video[0]!.config, true);
  assert.equal(video[1]!.keyframe, true);
  assert.deepEqual(video.slice(1).map((u) => u.payload.at(-1)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  conn.close('done');
  await conn.closed;
});
