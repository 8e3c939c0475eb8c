/** RTMP chunk stream: writer → reader round trips in every split, header types 0–3, limits, AMF0. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkReader, type RtmpMessage } from '../../src/live/rtmp/chunk-reader.js';
import { chunkMessage } from '../../src/live/rtmp/chunk-writer.js';
import { decodeAmf0, encodeAmf0, encodeAmf0EcmaArray } from '../../src/live/rtmp/amf0.js';
import { isStromError } from '../../src/errors.js';

const limits = { maxMessageBytes: 1 << 20, maxChunkStreams: 8 };

function collect(chunkSize = 128, l = limits): { r: ChunkReader; out: RtmpMessage[] } {
  const out: RtmpMessage[] = [];
  const r = new ChunkReader(l, (m) => out.push({ ...m, payload: Buffer.from(m.payload) }));
  r.chunkSize = chunkSize;
  return { r, out };
}

test('messages survive chunking and arbitrary read splits, including 2- and 3-byte csids and extended timestamps', () => {
  const payloads = [Buffer.alloc(0), Buffer.from('x'), Buffer.alloc(128, 1), Buffer.alloc(129, 2), Buffer.alloc(1000, 3)];
  const cases = [
    { csid: 3, ts: 0 }, { csid: 63, ts: 1000 }, { csid: 64, ts: 0xfffffe }, { csid: 319, ts: 0xffffff }, { csid: 320, ts: 0x12345678 }, { csid: 65599, ts: 7 },
  ];
  const wire: Buffer[] = [];
  const expected: Array<[number, number, Buffer]> = [];
  for (const c of cases) for (const p of payloads) {
    wire.push(chunkMessage(c.csid, 9, 1, c.ts, p, 128));
    expected.push([c.csid, c.ts, p]);
  }
  const all = Buffer.concat(wire);
  for (const step of [1, 7, 128, 4096]) {
    const { r, out } = collect(128, { maxMessageBytes: 1 << 20, maxChunkStreams: 100 });
    for (let i = 0; i < all.length; i += step) r.push(all.subarray(i, i + step));
    assert.equal(out.length, expected.length, `split ${step}`);
    out.forEach((m, i) => {
      const [csid, ts, p] = expected[i]!;
      assert.deepEqual([m.csid, m.timestamp, m.typeId, m.streamId], [csid, ts, 9, 1], `message ${i} split ${step}`);
      assert.ok(m.payload.equals(p), `payload ${i} split ${step}`);
    });
  }
});

test('type 1, 2 and 3 headers reuse length/type/stream and accumulate timestamp deltas', () => {
  const { r, out } = collect();
  const fmt0 = Buffer.from([0x04, 0, 0, 10, 0, 0, 2, 8, 1, 0, 0, 0, 0xaa, 0xbb]); // csid 4, ts 10, len 2, audio, stream 1
  const fmt1 = Buffer.from([0x44, 0, 0, 20, 0, 0, 1, 9, 0xcc]); // delta 20, len 1, video
  const fmt2 = Buffer.from([0x84, 0, 0, 5, 0xdd]); // delta 5
  const fmt3 = Buffer.from([0xc4, 0xee]); // same delta again
  r.push(Buffer.concat([fmt0, fmt1, fmt2, fmt3]));
  assert.deepEqual(out.map((m) => [m.timestamp, m.typeId, m.streamId, m.payload.toString('hex')]), [
    [10, 8, 1, 'aabb'], [30, 9, 1, 'cc'], [35, 9, 1, 'dd'], [40, 9, 1, 'ee'],
  ]);
});

test('chunk size changes apply to the next chunk; abort drops a partial message', () => {
  const { r, out } = collect(128);
  const big = Buffer.alloc(300, 5);
  r.push(chunkMessage(5, 9, 1, 0, big, 128).subarray(0, 12 + 128)); // first chunk only
  r.abort(5);
  r.chunkSize = 4096;
  r.push(chunkMessage(5, 9, 1, 40, big, 4096));
  assert.equal(out.length, 1);
  assert.equal(out[0]!.timestamp, 40);
  assert.equal(out[0]!.payload.length, 300);
});

test('oversized messages and too many chunk streams throw RTMP_LIMIT before allocating', () => {
  const { r } = collect(128, { maxMessageBytes: 1000, maxChunkStreams: 3 });
  const header = Buffer.from([0x04, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0]); // 16 MiB declared
  assert.throws(() => r.push(header), (e: unknown) => isStromError(e, 'RTMP_LIMIT') && e.message.includes('message length'));
  const b = collect(128, { maxMessageBytes: 1000, maxChunkStreams: 3 });
  assert.throws(() => {
    for (let csid = 3; csid < 10; csid++) b.r.push(chunkMessage(csid, 9, 1, 0, Buffer.from('a'), 128));
  }, (e: unknown) => isStromError(e, 'RTMP_LIMIT') && e.message.includes('chunk stream count'));
  const c = collect();
  assert.throws(() => c.r.push(Buffer.from([0xc7])), (e: unknown) => isStromError(e, 'RTMP_PROTOCOL'));
});

test('AMF0 round-trips commands and metadata and rejects truncated or deeply nested input', () => {
  const cmd = encodeAmf0('connect', 1, { app: 'live', n: 2.5, ok: true, nested: { a: null } }, null, undefined, [1, 'two'], new Date(5000));
  assert.deepEqual(decodeAmf0(cmd), ['connect', 1, { app: 'live', n: 2.5, ok: true, nested: { a: null } }, null, undefined, [1, 'two'], new Date(5000)]);
  assert.deepEqual(decodeAmf0(encodeAmf0EcmaArray({ width: 640, encoder: 'x' })), [{ width: 640, encoder: 'x' }]);
  assert.throws(() => decodeAmf0(cmd.subarray(0, 5)), (e: unknown) => isStromError(e, 'RTMP_PROTOCOL'));
  assert.throws(() => decodeAmf0(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff])), (e: unknown) => isStromError(e, 'RTMP_PROTOCOL'));
  const deep = Buffer.concat([...Array.from({ length: 40 }, () => Buffer.from([0x0a, 0, 0, 0, 1])), Buffer.from([0x05])]);
  assert.throws(() => decodeAmf0(deep), (e: unknown) => isStromError(e, 'RTMP_PROTOCOL') && e.message.includes('deep'));
  assert.throws(() => decodeAmf0(Buffer.from([0x11])), /unsupported AMF0 marker/);
});
