/** Outputs under load: a slow HTTP-FLV viewer is dropped while a fast one keeps every frame; WS-FLV; RTMP play. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { FlvDemuxer, type FlvTag } from '../../src/live/formats/flv/flv-demuxer.js';
import { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { fail } from '../../src/errors.js';
import { command } from '../../src/live/rtmp/chunk-writer.js';
import { aacFrameBody, avcFrameBody, flvViewer, startLive, syntheticPublisher } from '../helpers/live-fixtures.js';

test('a slow HTTP-FLV viewer skips, then is disconnected; a fast viewer keeps every frame', async (t) => {
  const h = await startLive({ 'live.readerMaxBytes': '1MB', 'live.readerMaxUnits': 256, 'live.slowReaderGraceMs': '200ms' });
  t.after(() => h.close());
  const pub = await syntheticPublisher(h.rtmpPort);
  t.after(() => pub.destroy());
  pub.send(9, 0, avcFrameBody(true, 0, 20_000));
  await sleep(50);

  const fast = flvViewer(`${h.httpUrl}/live/cam1.flv`);
  await fast.res;
  const slow = net.connect(Number(new URL(h.httpUrl).port), '127.0.0.1');
  slow.write('GET /live/cam1.flv HTTP/1.1\r\nHost: x\r\n\r\n');
  slow.pause(); // never read: the kernel buffers fill, then the server's queue
  t.after(() => slow.destroy());
  const slowLeft = h.strom.live.events.next('viewer.leave', (e) => e.reason.includes('behind'));
  let left = false;
  void slowLeft.then(() => (left = true));
  await sleep(100);

  let seq = 1;
  for (; seq < 4000 && !left; seq++) {
    pub.send(9, seq * 40, avcFrameBody(seq % 25 === 0, seq, 20_000));
    if (seq % 2 === 0) pub.send(8, seq * 40, aacFrameBody());
    if (pub.socket.writableNeedDrain) await new Promise((r) => pub.socket.once('drain', r));
    await tick();
  }
  const leave = await slowLeft;
  assert.equal(leave.protocol, 'http-flv');
  assert.ok(leave.drops > 0, `slow viewer drops ${leave.drops}`);
  const sent = seq - 1;
  const videoSeqs = () => fast.tags.filter((x) => x.type === 9 && x.body[1] === 1).map((x) => x.body.readUInt32BE(5));
  const deadline = Date.now() + 15_000;
  while (videoSeqs().at(-1) !== sent && Date.now() < deadline) await sleep(20);
  const seqs = videoSeqs();
  assert.equal(seqs.at(-1), sent, 'fast viewer reached the last frame');
  assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i), 'no gaps for the fast viewer');
  const status = h.strom.live.status('cam1');
  assert.equal(status.viewers.total, 1);
  assert.equal(status.slowDisconnects, 1);
  assert.ok(status.drops >= leave.drops);
  fast.req.destroy();
});

test('WS-FLV: the FLV header, then sequence headers and a keyframe as binary messages', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const pub = await syntheticPublisher(h.rtmpPort);
  t.after(() => pub.destroy());
  pub.send(9, 0, avcFrameBody(true, 0));
  pub.send(9, 40, avcFrameBody(false, 1));
  await sleep(50);
  const ws = new WebSocket(`${h.httpUrl.replace('http', 'ws')}/live/cam1.flv`);
  t.after(() => ws.terminate());
  const demux = new FlvDemuxer();
  const tags: FlvTag[] = [];
  const joined = h.strom.live.events.next('viewer.join');
  ws.on('message', (d: Buffer) => tags.push(...demux.push(d)));
  assert.equal((await joined).protocol, 'ws-flv');
  pub.send(9, 80, avcFrameBody(false, 2));
  while (tags.length < 6) await sleep(10);
  assert.equal(demux.flags, 5);
  assert.deepEqual(tags.map((x) => [x.type, x.timestamp]), [[18, 0], [9, 0], [8, 0], [9, 0], [9, 40], [9, 80]]);
  assert.equal(tags[3]!.body[0], 0x17);
  const left = h.strom.live.events.next('viewer.leave');
  ws.close();
  assert.equal((await left).reason, 'viewer disconnected');

  const missing = new WebSocket(`${h.httpUrl.replace('http', 'ws')}/live/nope.flv`);
  const status = await new Promise<number>((resolve) => missing.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
  assert.equal(status, 404);
});

test('RTMP play with our client: StreamBegin, Play.Start, metadata, configs, keyframe; unknown stream is refused', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const pub = await syntheticPublisher(h.rtmpPort);
  t.after(() => pub.destroy());
  pub.send(9, 0, avcFrameBody(true, 0));
  await sleep(30);
  const player = await RtmpClient.connect('127.0.0.1', h.rtmpPort, 'live');
  t.after(() => player.destroy());
  const got: Array<[number, number]> = [];
  player.onMedia = (m) => got.push([m.typeId, m.payload[0]!]);
  assert.equal(await player.play('cam1'), 'NetStream.Play.Reset');
  pub.send(9, 40, avcFrameBody(false, 1));
  while (got.length < 6) await sleep(10);
  assert.deepEqual(got.slice(0, 6), [[18, 0x02], [18, 0x02], [9, 0x17], [8, 0xaf], [9, 0x17], [9, 0x27]]);
  assert.equal(h.strom.live.status('cam1').viewers.rtmp, 1);
  const other = await RtmpClient.connect('127.0.0.1', h.rtmpPort, 'live');
  assert.equal(await other.play('nope'), 'NetStream.Play.StreamNotFound');
  await other.closed;
});

test('a playback guard refuses HTTP-FLV and WS-FLV viewers with its error and admits the rest', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  h.strom.live.setPlaybackGuard((req, streamId) => {
    if (!(req.url ?? '').includes('token=ok')) throw fail('BAD_REQUEST', `token required for ${streamId}`);
  });
  const pub = await syntheticPublisher(h.rtmpPort);
  t.after(() => pub.destroy());
  const refused = await fetch(`${h.httpUrl}/live/cam1.flv`);
  assert.equal(refused.status, 400);
  assert.match(((await refused.json()) as { error: { message: string } }).error.message, /token required for cam1/);
  const ok = flvViewer(`${h.httpUrl}/live/cam1.flv?token=ok`);
  assert.equal((await ok.res).statusCode, 200);
  await ok.waitTags(3);
  ok.req.destroy();
  const ws = new WebSocket(`${h.httpUrl.replace('http', 'ws')}/live/cam1.flv`);
  const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
  assert.equal(status, 400);
});

test('a second publish on the same RTMP session closes it with a reason instead of taking over itself', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const pub = await syntheticPublisher(h.rtmpPort);
  t.after(() => pub.destroy());
  const stopped = h.strom.live.events.next('publish.stop');
  pub.socket.write(command(1, 4096, 'publish', 0, null, 'secret', 'live'));
  await pub.closed;
  assert.match((await stopped).reason, /already publishing or playing/);
  assert.equal(h.strom.live.status('cam1').state, 'idle');
});
