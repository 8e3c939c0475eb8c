/**
 * The edge's incremental SSE parser and the edge sync's message decoder: events survive any cut
 * of the byte stream (inside CRLF, inside a UTF-8 sequence), every line ending of the spec is
 * read, comments are skipped, an overlong line and malformed messages are refused with their code.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { SseReader } from '../../src/edge/sse-reader.js';
import { decodeSyncMessage, frame, type SyncMessage } from '../../src/http/internal/edge-sync-protocol.js';
import { isStromError } from '../../src/errors.js';

function parse(text: string, cuts: number[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const r = new SseReader((t, d) => out.push([t, d]), 'http://origin');
  const bytes = Buffer.from(text, 'utf8');
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    r.push(bytes.subarray(at, c));
    at = c;
  }
  return out;
}

test('events come out whole wherever the stream is cut', () => {
  const text = 'retry: 1000\r\n: hello\r\nevent: snapshot\r\ndata: {"signed":["é"]}\r\n\r\nevent: visibility\rdata: a\rdata: b\r\rdata: plain\n\n';
  const want: Array<[string, string]> = [['snapshot', '{"signed":["é"]}'], ['visibility', 'a\nb'], ['message', 'plain']];
  const bytes = Buffer.byteLength(text);
  for (let cut = 1; cut < bytes; cut++) assert.deepEqual(parse(text, [cut]), want, `cut at ${cut}`);
  const every = Array.from({ length: bytes - 1 }, (_, i) => i + 1);
  assert.deepEqual(parse(text, every), want, 'one byte at a time');
});

test('an overlong line is refused', () => {
  const r = new SseReader(() => undefined, 'http://origin', 100);
  assert.throws(() => r.push(Buffer.from(`data: ${'x'.repeat(200)}`)), (err: unknown) => isStromError(err, 'EDGE_SYNC_MALFORMED'));
});

test('messages round-trip through frame and decode; malformed ones are refused, unknown types ignored', () => {
  const messages: SyncMessage[] = [
    { type: 'snapshot', keys: [{ kid: 'k1', secret: 's1', alg: 'HS256' }], signed: ['v1', 'l1'] },
    { type: 'key-added', key: { kid: 'k2', secret: 's2', alg: 'HS256' } },
    { type: 'key-revoked', kid: 'k1' },
    { type: 'visibility', id: 'v1', signed: false },
    { type: 'invalidate', assetId: null },
    { type: 'invalidate', assetId: 'v1' },
  ];
  for (const m of messages) {
    const [, event, data] = /^event: (.+)\ndata: (.+)\n\n$/.exec(frame(m))!;
    assert.deepEqual(decodeSyncMessage(event!, data!, 'o'), m);
  }
  assert.equal(decodeSyncMessage('something-new', '{}', 'o'), null);
  for (const [event, data] of [['snapshot', '{"keys":[]}'], ['key-added', '{"kid":"k"}'], ['visibility', '{"id":"v","signed":"yes"}'], ['invalidate', '{}'], ['key-revoked', 'not json']]) {
    assert.throws(() => decodeSyncMessage(event!, data!, 'o'), (err: unknown) => isStromError(err, 'EDGE_SYNC_MALFORMED'), `${event} ${data}`);
  }
});
