/**
 * Robustness of the RTMP server against hostile input: random and mutated chunk streams (bounded in
 * count and time, seeded so a failure is reproducible), oversized declared lengths, chunk stream id
 * floods. The process must not crash, every session must end with a logged reason, allocation must
 * follow bytes received, and a valid publisher must still work afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { chunkMessage, command, setChunkSize } from '../../src/live/rtmp/chunk-writer.js';
import { encodeAmf0 } from '../../src/live/rtmp/amf0.js';
import { clientHello, HANDSHAKE_SIZE } from '../../src/live/rtmp/handshake.js';
import { aacConfigBody, avcConfigBody, avcFrameBody, flvViewer, startLive, syntheticPublisher } from '../helpers/live-fixtures.js';

/** Small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** A valid publisher's bytes after the handshake: connect, createStream, publish, media. */
function validSession(): Buffer {
  return Buffer.concat([
    setChunkSize(4096),
    command(0, 4096, 'connect', 1, { app: 'live', tcUrl: 'rtmp://x/live' }),
    command(0, 4096, 'releaseStream', 2, null, 'secret'),
    command(0, 4096, 'createStream', 3, null),
    command(1, 4096, 'publish', 0, null, 'secret', 'live'),
    chunkMessage(5, 18, 1, 0, encodeAmf0('@setDataFrame', 'onMetaData', { width: 10 }), 4096),
    chunkMessage(6, 9, 1, 0, avcConfigBody(), 4096),
    chunkMessage(4, 8, 1, 0, aacConfigBody(), 4096),
    ...Array.from({ length: 20 }, (_, i) => chunkMessage(6, 9, 1, i * 40, avcFrameBody(i % 10 === 0, i, 300 + i * 100), 128)),
  ]);
}

/** Send `bytes` on a fresh connection; wait until the server closes it or `ms` pass. */
async function feed(port: number, bytes: Buffer, ms = 150): Promise<boolean> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  s.resume();
  const closed = new Promise<boolean>((resolve) => s.once('close', () => resolve(true)));
  s.write(bytes);
  const result = await Promise.race([closed, sleep(ms).then(() => false)]);
  s.destroy();
  return result;
}

test('random and mutated chunk streams never crash the server; sessions close with a reason', async (t) => {
  const h = await startLive({ 'rtmp.maxMessageBytes': '1MB', 'rtmp.handshakeTimeoutMs': '1s' });
  t.after(() => h.close());
  const rand = prng(0x5eed);
  const hello = () => Buffer.concat([clientHello(), Buffer.alloc(HANDSHAKE_SIZE, 7)]);
  const valid = validSession();
  const started = Date.now();
  let closedByServer = 0;
  let cases = 0;
  for (; cases < 240 && Date.now() - started < 20_000; cases++) {
    let bytes: Buffer;
    const kind = cases % 4;
    if (kind === 0) bytes = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 4000) }, () => Math.floor(rand() * 256)));
    else if (kind === 1) bytes = Buffer.concat([hello(), Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 3000) }, () => Math.floor(rand() * 256)))]);
    else {
      const m = Buffer.from(valid);
      const flips = 1 + Math.floor(rand() * (kind === 2 ? 4 : 40));
      for (let i = 0; i < flips; i++) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
      const cut = kind === 3 ? Math.floor(rand() * m.length) : m.length;
      bytes = Buffer.concat([hello(), m.subarray(0, cut)]);
    }
    if (await feed(h.rtmpPort, bytes)) closedByServer++;
  }
  assert.ok(cases >= 100, `ran ${cases} cases`);
  assert.ok(closedByServer > cases / 4, `server closed ${closedByServer} of ${cases} sessions itself`);
  const deadline = Date.now() + 5000;
  while (h.strom.live.rtmp.sessions() > 0 && Date.now() < deadline) await sleep(20);
  assert.equal(h.strom.live.rtmp.sessions(), 0, 'no session left behind');
  const reasons = h.logs.filter((l) => l.msg === 'rtmp session closed').map((l) => String(l.reason));
  assert.ok(reasons.length >= cases, `${reasons.length} closes logged for ${cases} cases`);
  assert.ok(reasons.some((r) => r.includes('RTMP protocol error')), 'protocol errors are named');
  assert.ok(reasons.every((r) => r.length > 0));

  // The server still serves a real publisher and viewer.
  const pub = await syntheticPublisher(h.rtmpPort);
  t.after(() => pub.destroy());
  pub.send(9, 0, avcFrameBody(true, 0));
  const v = flvViewer(`${h.httpUrl}/live/cam1.flv`);
  await v.waitTags(4);
  v.req.destroy();
});

test('declared lengths and chunk stream floods are capped before allocation', async (t) => {
  const h = await startLive({ 'rtmp.maxMessageBytes': '1MB', 'rtmp.maxChunkStreams': 16 });
  t.after(() => h.close());
  const hello = Buffer.concat([clientHello(), Buffer.alloc(HANDSHAKE_SIZE)]);
  // 16 MiB declared on one chunk stream: refused at the header.
  const huge = Buffer.from([0x06, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0, 1, 2, 3]);
  assert.equal(await feed(h.rtmpPort, Buffer.concat([hello, huge]), 2000), true);
  // Partial 1 MiB messages on many chunk streams: memory follows bytes received; the 17th csid is refused.
  const before = process.memoryUsage().arrayBuffers;
  const partials = Array.from({ length: 40 }, (_, i) => Buffer.concat([Buffer.from([0, 10 + i, 0, 0, 0, 0x0f, 0xff, 0xff, 9, 1, 0, 0, 0]), Buffer.alloc(128)]));
  assert.equal(await feed(h.rtmpPort, Buffer.concat([hello, ...partials]), 2000), true);
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.ok(grown < 8 * 1024 * 1024, `arrayBuffers grew ${grown} bytes`);
  await sleep(50);
  const reasons = h.logs.filter((l) => l.msg === 'rtmp session closed').map((l) => String(l.reason));
  assert.ok(reasons.some((r) => r.includes('message length 16777215 exceeds the limit of 1048576')), reasons.join('; '));
  assert.ok(reasons.some((r) => r.includes('chunk stream count 17 exceeds the limit of 16')), reasons.join('; '));
});
