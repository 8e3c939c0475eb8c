/** SRT wire formats and the receiver/sender state machines, without sockets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHandshake, EXT, HS_TYPE, parseHandshake } from '../../src/live/srt/protocol/handshake.js';
import { KEY, newKeyMaterial, openKeyMaterial, PacketCipher, sealKeyMaterial } from '../../src/live/srt/protocol/crypto.js';
import { CTRL, USER_SUBTYPE, controlPacket, lossListCif, parseLossList, parsePacket, writeDataHeader } from '../../src/live/srt/protocol/packet.js';
import { monotonicMs, SrtConnection } from '../../src/live/srt/protocol/connection.js';
import { SrtReceiver } from '../../src/live/srt/protocol/receiver.js';
import { SrtSender } from '../../src/live/srt/protocol/sender.js';
import { MAX_SEQ, seqAdd, seqLt, seqOff } from '../../src/live/srt/protocol/seq.js';
import { parseStreamId } from '../../src/live/srt/stream-id.js';
import { seededRandom } from '../../bench/netem/model.js';

test('sequence numbers wrap at 2^31', () => {
  assert.equal(seqAdd(MAX_SEQ, 1), 0);
  assert.equal(seqAdd(0, -1), MAX_SEQ);
  assert.equal(seqOff(MAX_SEQ - 1, 2), 4);
  assert.ok(seqLt(MAX_SEQ, 3));
  assert.ok(!seqLt(3, MAX_SEQ));
});

test('data header: fields survive a round trip; the R flag is bit 26', () => {
  const b = Buffer.alloc(20);
  writeDataHeader(b, 123456, 77, KEY.ODD, true, 0xfffffff0, 0x01020304);
  const p = parsePacket(b);
  assert.ok(p && !p.control);
  assert.deepEqual([p.seq, p.msgNo, p.keyFlags, p.retransmitted, p.position, p.timestamp, p.destId, p.payload.length], [123456, 77, 2, true, 3, 0xfffffff0, 0x01020304, 4]);
  assert.equal(parsePacket(Buffer.alloc(15)), null);
});

test('loss lists: singles and ranges, across the wrap; a backwards range ends the list; bounded', () => {
  const ranges: Array<[number, number]> = [[5, 5], [MAX_SEQ - 1, 2], [10, 20]];
  assert.deepEqual(parseLossList(lossListCif(ranges)), ranges);
  const bad = Buffer.alloc(16);
  bad.writeUInt32BE((0x80000000 | 50) >>> 0, 0);
  bad.writeUInt32BE(10, 4);
  bad.writeUInt32BE(7, 8);
  assert.deepEqual(parseLossList(bad), []);
  assert.deepEqual(parseLossList(lossListCif([[0, 1_000_000]]), 100), [[0, 99]]);
});

test('handshake: extensions round trip; the stream id is word-swapped on the wire (handshake.md "STREAM" example)', () => {
  const cif = buildHandshake({
    version: 5, extensionField: 5, initialSeq: 42, type: HS_TYPE.CONCLUSION, socketId: 9, cookie: 7, peerAddress: '127.0.0.1',
    hsreq: { version: 0x010501, flags: 0x3f, rcvLatencyMs: 550, sndLatencyMs: 250 }, streamId: 'STREAM',
  });
  const sidAt = cif.length - 8;
  assert.equal(cif.readUInt16BE(sidAt - 4), EXT.SID);
  assert.equal(cif.subarray(sidAt).toString('latin1'), 'ERTS\0\0MA');
  assert.deepEqual(cif.subarray(32, 36), Buffer.from([1, 0, 0, 127]), 'IPv4 as libsrt writes it');
  const h = parseHandshake(cif)!;
  assert.equal(h.streamId, 'STREAM');
  assert.deepEqual(h.hs, { version: 0x010501, flags: 0x3f, rcvLatencyMs: 550, sndLatencyMs: 250 });
  assert.equal(h.cookie, 7);
  assert.equal(parseHandshake(cif.subarray(0, 47)), null, 'shorter than the legacy structure');
  const overrun = Buffer.from(cif);
  overrun.writeUInt16BE(200, sidAt - 2);
  assert.equal(parseHandshake(overrun), null, 'an extension longer than the datagram');
});

test('key material: sealed and opened with the passphrase; a wrong one is a bad secret; CTR is its own inverse', () => {
  for (const len of [16, 24, 32] as const) {
    const km = newKeyMaterial(len);
    const sealed = sealKeyMaterial(km, 'correct horse battery');
    const opened = openKeyMaterial(sealed, 'correct horse battery');
    assert.ok(typeof opened !== 'string');
    assert.deepEqual(opened.even, km.even);
    assert.equal(openKeyMaterial(sealed, 'wrong horse battery'), 'bad-secret');
    const c = new PacketCipher(opened);
    const plain = Buffer.from('G'.repeat(1316));
    const enc = c.apply(99, KEY.EVEN, plain)!;
    assert.notDeepEqual(enc, plain);
    assert.deepEqual(c.apply(99, KEY.EVEN, enc), plain);
    assert.notDeepEqual(c.apply(100, KEY.EVEN, enc), plain, 'the packet index is part of the counter');
    assert.equal(c.apply(99, KEY.ODD, enc), null, 'no odd key announced');
  }
  assert.equal(openKeyMaterial(Buffer.alloc(8), 'x'.repeat(10)), 'malformed');
});

test('receiver: in order at once, a gap NAKed and filled, too-late drop after the window, duplicates and beyond-window ignored', () => {
  const out: string[] = [];
  const r = new SrtReceiver(MAX_SEQ - 1, 100, 64, (p) => out.push(p.toString()));
  const p = (s: string) => Buffer.from(s);
  assert.equal(r.receive(MAX_SEQ - 1, p('a'), 0), null);
  assert.deepEqual(out, ['a']);
  assert.deepEqual(r.receive(2, p('d'), 10), [MAX_SEQ, 1], 'packets MAX_SEQ, 0, 1 missing');
  assert.equal(r.ackSeq(), MAX_SEQ);
  r.receive(0, p('c0'), 20);
  assert.deepEqual(out, ['a']);
  r.receive(MAX_SEQ, p('b'), 30);
  assert.deepEqual(out, ['a', 'b', 'c0']);
  assert.equal(r.stats.recovered, 2);
  assert.deepEqual(r.lossRanges(10), [[1, 1]]);
  r.dropTooLate(100);
  assert.deepEqual(out, ['a', 'b', 'c0'], 'the packet after the gap arrived at 10: wait until 110');
  r.dropTooLate(111);
  assert.deepEqual(out, ['a', 'b', 'c0', 'd']);
  assert.equal(r.stats.dropped, 1);
  assert.equal(r.receive(2, p('d'), 120), null);
  assert.equal(r.stats.duplicates, 1);
  r.receive(3 + 64, p('far'), 130);
  assert.equal(r.stats.beyondWindow, 1);
  assert.equal(r.ackSeq(), 3);
});

test('sender: keeps packets until acknowledged, marks retransmissions, drops too-late ones, bounded ring', () => {
  const s = new SrtSender(10, 4, 1000);
  const sent = [0, 1, 2].map((i) => s.packetize(Buffer.from([i]), 0, i, 5, i));
  assert.equal((parsePacket(sent[0]!) as { retransmitted: boolean }).retransmitted, false);
  const again = s.retransmission(11)!;
  assert.equal((parsePacket(again) as { retransmitted: boolean; seq: number }).seq, 11);
  assert.equal((parsePacket(again) as { retransmitted: boolean }).retransmitted, true);
  s.acknowledge(12);
  assert.equal(s.retransmission(11), null, 'acknowledged: forgotten');
  assert.equal(s.inFlight(), 1);
  for (let i = 3; i < 8; i++) s.packetize(Buffer.from([i]), 0, i, 5, i);
  assert.ok(s.stats.dropped >= 2, `ring of 4 overflowed: ${s.stats.dropped}`);
  assert.ok(s.inFlight() <= 4);
  const dropped = s.dropTooLate(2000);
  assert.ok(dropped !== null);
  assert.equal(s.inFlight(), 0);
});

test('stream ids: access-control, publish:/read:, bare keys, backup=1; errors name the problem', () => {
  assert.deepEqual(parseStreamId('#!::r=key1,m=publish'), { mode: 'publish', name: 'key1', token: null, backup: false });
  assert.deepEqual(parseStreamId('#!::u=bob,r=cam,token=abc'), { mode: 'request', name: 'cam', token: 'abc', backup: false });
  assert.deepEqual(parseStreamId('read:cam?token=t1'), { mode: 'request', name: 'cam', token: 't1', backup: false });
  assert.deepEqual(parseStreamId('publish:key2'), { mode: 'publish', name: 'key2', token: null, backup: false });
  assert.deepEqual(parseStreamId('plainkey'), { mode: 'publish', name: 'plainkey', token: null, backup: false });
  assert.deepEqual(parseStreamId('#!::r=key1,m=publish,backup=1'), { mode: 'publish', name: 'key1', token: null, backup: true });
  assert.deepEqual(parseStreamId('publish:key2?backup=1'), { mode: 'publish', name: 'key2', token: null, backup: true });
  assert.equal((parseStreamId('#!::r=x,m=bidirectional') as { code: number }).code, 1405);
  assert.match((parseStreamId('#!::m=publish') as { error: string }).error, /r=<resource>/);
  assert.match((parseStreamId('') as { error: string }).error, /no stream id/);
  assert.match((parseStreamId('#!::garbage') as { error: string }).error, /garbage/);
});

test('rekeying: a KMREQ with the next (odd) key is answered with KMRSP and odd-key packets decrypt; a bad one gets BADSECRET', () => {
  const pass = 'rekey passphrase';
  const km = newKeyMaterial(16);
  const sent: Buffer[] = [];
  const conn = new SrtConnection({
    localId: 1, peerId: 2, peer: 'test', initialSeq: 100, rcvLatencyMs: 120, sndLatencyMs: 120, windowPackets: 64, peerIdleTimeoutMs: 5000,
    startMs: monotonicMs(), cipher: new PacketCipher({ ...km }), passphrase: pass, transmit: (b) => sent.push(b),
  });
  const got: string[] = [];
  conn.onData = (p) => got.push(p.toString());
  const next = { salt: km.salt, keyLength: 16, even: km.even, odd: newKeyMaterial(16).even } as const;
  const kmreq = sealKeyMaterial(next, pass);
  const asPacket = (b: Buffer) => parsePacket(b)!;
  conn.handle(asPacket(controlPacket(CTRL.USER, USER_SUBTYPE.KMREQ, 0, 0, 1, kmreq)));
  const rsp = sent.map(asPacket).find((p) => p.control && p.type === CTRL.USER && p.subtype === USER_SUBTYPE.KMRSP);
  assert.ok(rsp && rsp.control);
  assert.deepEqual(rsp.cif, kmreq, 'KMRSP echoes the key material');
  const data = (seq: number, key: number, text: string) => {
    const enc = new PacketCipher({ ...next }).apply(seq, key, Buffer.from(text))!;
    const b = Buffer.alloc(16 + enc.length);
    writeDataHeader(b, seq, 1, key, false, 0, 1);
    enc.copy(b, 16);
    return asPacket(b);
  };
  conn.handle(data(100, KEY.EVEN, 'even'));
  conn.handle(data(101, KEY.ODD, 'odd'));
  assert.deepEqual(got, ['even', 'odd']);
  sent.length = 0;
  conn.handle(asPacket(controlPacket(CTRL.USER, USER_SUBTYPE.KMREQ, 0, 0, 1, sealKeyMaterial(next, 'another passphrase'))));
  const bad = sent.map(asPacket).find((p) => p.control && p.subtype === USER_SUBTYPE.KMRSP);
  assert.ok(bad && bad.control);
  assert.equal(bad.cif.readUInt32BE(0), 4, 'SRT_KM_S_BADSECRET');
  conn.close('done', false);
});

test('seeded fuzz: the packet, handshake, loss-list and key-material parsers never throw and stay bounded', () => {
  const rnd = seededRandom(20261207);
  const byte = () => Math.floor(rnd() * 256);
  const base = buildHandshake({ version: 5, extensionField: 7, initialSeq: 1, type: HS_TYPE.CONCLUSION, socketId: 3, cookie: 4, hsreq: { version: 0x10501, flags: 0x3f, rcvLatencyMs: 120, sndLatencyMs: 120 }, kmreq: sealKeyMaterial(newKeyMaterial(16), 'fuzz passphrase'), streamId: '#!::r=key,m=publish' });
  for (let i = 0; i < 20_000; i++) {
    let b: Buffer;
    if (i % 2 === 0) b = Buffer.from(Array.from({ length: Math.floor(rnd() * 300) }, byte));
    else {
      b = Buffer.from(base.subarray(0, Math.floor(rnd() * (base.length + 1))));
      for (let k = 0; k < 1 + Math.floor(rnd() * 6); k++) if (b.length > 0) b[Math.floor(rnd() * b.length)] = byte();
    }
    parsePacket(b);
    const h = parseHandshake(b);
    if (h?.streamId !== undefined) assert.ok(h.streamId.length <= 512 * 4);
    assert.ok(parseLossList(b, 1000).reduce((n, [a, z]) => n + seqOff(a, z) + 1, 0) <= 1000);
    if (h?.km) openKeyMaterial(h.km, 'fuzz passphrase');
    openKeyMaterial(b, 'fuzz passphrase');
    parseStreamId(b.toString('latin1'));
  }
});
