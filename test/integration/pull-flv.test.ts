/**
 * Pulled HTTP-FLV sources: Strom's own `/live/<id>.flv` of an ffmpeg-RTMP-published stream read by
 * flvConnector (config units first, then keyframes and increasing timestamps per track, metadata);
 * a 404 is refused (permanent), a server answering something else than FLV is a protocol error,
 * and the secret of the URL never shows in an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isStromError } from '../../src/errors.js';
import { flvConnector } from '../../src/live/pull/sources/flv-source.js';
import { ffmpegPublish, startLive } from '../helpers/live-fixtures.js';
import { connectOptions, RecordingSink } from '../helpers/source-sink.js';
import { until, within } from '../helpers/until.js';

/** A server answering every request with `handler`; its URL. */
async function serve(t: { after(fn: () => unknown): void }, handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('flvConnector pulls Strom’s own HTTP-FLV of an ffmpeg publish', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const started = h.strom.live.events.next('publish.start');
  const pub = ffmpegPublish(h.rtmpPort, 'secret', 8);
  t.after(() => pub.child.kill('SIGKILL'));
  await within(started, 'publish.start');
  const sink = new RecordingSink();
  const url = new URL(`${h.httpUrl}/live/cam1.flv?token=hush`);
  assert.equal(flvConnector.accepts!(url), true);
  const conn = await flvConnector.connect(url, sink, connectOptions());
  await until(() => sink.of('video').filter((u) => !u.config).length > 40 && sink.of('audio').length > 40, 'video and audio units', 20_000);
  conn.close('test done');
  const end = await within(conn.closed, 'closed');
  assert.equal(end.reason, 'test done');
  for (const kind of ['video', 'audio'] as const) {
    const units = sink.of(kind);
    assert.equal(units[0]!.config, true, `${kind}: config first`);
    const frames = units.filter((u) => !u.config);
    for (let i = 1; i < frames.length; i++) assert.ok(frames[i]!.dts >= frames[i - 1]!.dts, `${kind} dts increases`);
  }
  assert.equal(sink.of('video')[0]!.codec, 'avc');
  assert.equal(sink.of('audio')[0]!.codec, 'aac');
  assert.ok(sink.of('video').some((u) => u.keyframe && !u.config), 'a keyframe');
  assert.ok(sink.metas.some((m) => m.width === 320 && m.height === 240), JSON.stringify(sink.metas));
  assert.ok(sink.bytes > 10_000);
});

test('flvConnector: 404 refused, garbage a protocol error, secrets masked, nothing left open', async (t) => {
  let open = 0;
  const base = await serve(t, (req, res) => {
    open++;
    res.on('close', () => open--);
    if (req.url!.startsWith('/missing')) return void res.writeHead(404).end('no');
    if (req.url!.startsWith('/loop')) return void res.writeHead(302, { location: req.url }).end();
    res.writeHead(200, { 'content-type': 'video/x-flv' });
    res.write(Buffer.from('<html>this is not an FLV stream at all</html>'));
  });
  const sink = new RecordingSink();
  const missing = await flvConnector.connect(new URL(`${base}/missing.flv?token=hush`), sink, connectOptions()).then(() => null, (e: unknown) => e);
  assert.ok(isStromError(missing, 'LIVE_SOURCE_REFUSED'), String(missing));
  assert.match(missing.message, /404/);
  assert.doesNotMatch(missing.message, /hush/);
  const garbage = await flvConnector.connect(new URL(`${base}/live.flv?token=hush`), sink, connectOptions()).then(() => null, (e: unknown) => e);
  assert.ok(isStromError(garbage, 'LIVE_SOURCE_PROTOCOL'), String(garbage));
  assert.doesNotMatch(garbage.message, /hush/);
  const loop = await flvConnector.connect(new URL(`${base}/loop.flv`), sink, connectOptions()).then(() => null, (e: unknown) => e);
  assert.ok(isStromError(loop, 'LIVE_SOURCE_PROTOCOL'), String(loop));
  assert.match(loop.message, /redirects/);
  const slow = await serve(t, () => undefined);
  const timeout = await flvConnector.connect(new URL(`${slow}/x.flv`), sink, connectOptions({ timeoutMs: 300 })).then(() => null, (e: unknown) => e);
  assert.ok(isStromError(timeout, 'LIVE_SOURCE_TIMEOUT'), String(timeout));
  await until(() => open === 0, 'every connection closed');
  assert.equal(sink.units.length, 0);
});
