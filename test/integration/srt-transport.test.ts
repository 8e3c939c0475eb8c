/**
 * Strom's SRT transport end to end on loopback UDP: its caller against its listener, with losses
 * from a relay, encryption, refusals, the idle timeout and seeded garbage. (Interoperability with
 * libsrt itself is srt-libsrt.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { callSrt, type CallOptions } from '../../src/live/srt/protocol/caller.js';
import type { SrtConnection } from '../../src/live/srt/protocol/connection.js';
import { buildHandshake, HS_TYPE } from '../../src/live/srt/protocol/handshake.js';
import { SrtListener, type AcceptDecision } from '../../src/live/srt/protocol/listener.js';
import { CTRL, controlPacket } from '../../src/live/srt/protocol/packet.js';
import { seededRandom } from '../../bench/netem/model.js';
import { startUdpRelay } from '../../bench/netem/udp-relay.js';
import { until } from '../helpers/until.js';

interface Server {
  listener: SrtListener;
  port: number;
  conns: SrtConnection[];
  received: Buffer[];
  refusals: Array<{ code: number; reason: string }>;
}

async function server(decision: AcceptDecision = { accept: true, passphrase: null }, opts: { maxConnections?: number; idleMs?: number } = {}): Promise<Server> {
  const s: Server = { conns: [], received: [], refusals: [], port: 0, listener: null as unknown as SrtListener };
  s.listener = new SrtListener({
    host: '127.0.0.1', port: 0, latencyMs: 120, windowPackets: 4096, peerIdleTimeoutMs: opts.idleMs ?? 5000, maxConnections: opts.maxConnections ?? 10,
    decide: async () => decision,
    accepted: (conn) => {
      s.conns.push(conn);
      conn.onData = (p) => s.received.push(p);
    },
    refused: (_peer, reason, code) => s.refusals.push({ code, reason }),
  });
  s.port = await s.listener.listen();
  return s;
}

/** Data packets, ACKs, NAKs and ACKACKs: what a lossy link costs; handshakes and SHUTDOWN pass (the test ends on the latter). */
function dataAckNak(d: Buffer): boolean {
  if ((d[0]! & 0x80) === 0) return true;
  const type = d.readUInt16BE(0) & 0x7fff;
  return type === 2 || type === 3 || type === 6;
}

function payload(i: number): Buffer {
  const b = Buffer.alloc(1316, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

function assertInOrder(got: Buffer[], n: number): void {
  assert.equal(got.length, n, `received ${got.length} of ${n}`);
  got.forEach((b, i) => assert.equal(b.readUInt32BE(0), i, `payload ${i} in place`));
}

async function call(o: Partial<CallOptions> & { port: number }) {
  return callSrt({ host: '127.0.0.1', connectTimeoutMs: 2000, ...o });
}

test('caller → listener: 3,000 payloads in order through 5 % loss each way (data, ACKs and NAKs), none lost', async (t) => {
  const s = await server();
  const relay = await startUdpRelay({ targetHost: '127.0.0.1', targetPort: s.port, up: { loss: 0.05 }, down: { loss: 0.05 }, seed: 11, droppable: dataAckNak });
  t.after(async () => {
    await relay.close();
    await s.listener.close();
  });
  const { conn } = await call({ port: relay.port, latencyMs: 200 });
  for (let i = 0; i < 3000; i++) {
    conn.send(payload(i));
    if (i % 30 === 29) await sleep(2); // ~15 Mbit/s, paced like a live encoder
  }
  await until(() => s.received.length === 3000, '3000 payloads delivered', 15_000);
  assertInOrder(s.received, 3000);
  const st = s.conns[0]!.receiver.stats;
  assert.ok(relay.stats.up.dropped > 50, `relay dropped ${relay.stats.up.dropped} upstream`);
  assert.ok(st.recovered > 50, `recovered ${st.recovered}`);
  assert.equal(st.dropped, 0);
  assert.ok(conn.sender.stats.retransmitted >= relay.stats.up.dropped * 0.5, `retransmitted ${conn.sender.stats.retransmitted}`);
  conn.close('done');
  await until(() => s.conns[0]!.closed, 'connection closed', 2000);
  assert.equal(s.conns[0]!.closeReason, 'peer shut the connection down');
});

test('listener → caller (a reader): in order through loss; AES-256 both ways with the caller\'s key', async (t) => {
  const s = await server({ accept: true, passphrase: 'a good passphrase' });
  const relay = await startUdpRelay({ targetHost: '127.0.0.1', targetPort: s.port, down: { loss: 0.03 }, seed: 5, droppable: (d) => (d[0]! & 0x80) === 0 });
  t.after(async () => {
    await relay.close();
    await s.listener.close();
  });
  const { conn } = await call({ port: relay.port, passphrase: 'a good passphrase', keyLength: 32 });
  const got: Buffer[] = [];
  conn.onData = (p) => got.push(p);
  await until(() => s.conns.length === 1, 'server accepted', 2000);
  const serverSide = s.conns[0]!;
  assert.ok(serverSide.params.cipher !== null);
  for (let i = 0; i < 1500; i++) {
    serverSide.send(payload(i));
    if (i % 30 === 29) await sleep(2);
  }
  conn.send(payload(0)); // and the other way on the same key
  await until(() => got.length === 1500 && s.received.length === 1, 'both directions delivered', 5000).catch((e: unknown) => { console.log('DEBUG', got.length, s.received.length, serverSide.sender.stats, conn.receiver.stats, relay.stats, serverSide.sender.inFlight()); throw e; });
  assertInOrder(got, 1500);
  assert.deepEqual(s.received[0], payload(0));
  assert.ok(relay.stats.down.dropped > 10 && serverSide.sender.stats.retransmitted > 10, `dropped ${relay.stats.down.dropped}, retransmitted ${serverSide.sender.stats.retransmitted}`);
  assert.equal(conn.undecryptable + serverSide.undecryptable, 0);
  conn.close('done');
});

test('refusals: wrong passphrase 1010, unencrypted caller of an encrypted stream 1011, encrypted caller of a clear one 1011, application 1403, limit 1003', async (t) => {
  const enc = await server({ accept: true, passphrase: 'the right passphrase' });
  const clear = await server({ accept: true, passphrase: null }, { maxConnections: 1 });
  const denied = await server({ accept: false, code: 1403, reason: 'unknown stream key' });
  t.after(async () => {
    for (const s of [enc, clear, denied]) await s.listener.close();
  });
  await assert.rejects(call({ port: enc.port, passphrase: 'the wrong passphrase' }), /rejected with code 1010/);
  assert.match(enc.refusals[0]!.reason, /wrong passphrase/);
  await assert.rejects(call({ port: enc.port }), /rejected with code 1011/);
  await assert.rejects(call({ port: clear.port, passphrase: 'some passphrase' }), /rejected with code 1011/);
  await assert.rejects(call({ port: denied.port, streamId: 'nope' }), /rejected with code 1403/);
  const first = await call({ port: clear.port });
  await assert.rejects(call({ port: clear.port }), /rejected with code 1003/);
  first.conn.close('done');
  assert.equal(enc.conns.length + denied.conns.length, 0, 'no connection was made for a refusal');
});

test('a caller that vanishes is closed after the idle timeout; the listener then holds nothing', async (t) => {
  const s = await server({ accept: true, passphrase: null }, { idleMs: 1000 });
  t.after(() => s.listener.close());
  const { socket } = await call({ port: s.port });
  await until(() => s.listener.connections() === 1, 'listener holds the connection', 2000);
  socket.removeAllListeners('message');
  socket.close(); // no SHUTDOWN: the network went away
  await until(() => s.conns[0]!.closed, 'idle close', 3000);
  assert.match(s.conns[0]!.closeReason, /peer idle for 1000 ms/);
  assert.equal(s.listener.connections(), 0);
});

test('seeded garbage, truncated and mutated handshakes, forged cookies: counted and dropped, the listener keeps accepting', async (t) => {
  const s = await server();
  t.after(() => s.listener.close());
  const sock = dgram.createSocket('udp4');
  t.after(() => sock.close());
  const rnd = seededRandom(1234);
  const valid = controlPacket(CTRL.HANDSHAKE, 0, 0, 0, 0, buildHandshake({ version: 5, extensionField: 5, initialSeq: 1, type: HS_TYPE.CONCLUSION, socketId: 77, cookie: 1234, hsreq: { version: 0x10501, flags: 0x3f, rcvLatencyMs: 120, sndLatencyMs: 120 }, streamId: 'x' }));
  for (let i = 0; i < 3000; i++) {
    let d: Buffer;
    const kind = i % 3;
    if (kind === 0) d = Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)));
    else {
      d = Buffer.from(valid.subarray(0, kind === 1 ? Math.floor(rnd() * valid.length) : valid.length));
      for (let k = 0; k < 4; k++) if (d.length > 0) d[Math.floor(rnd() * d.length)] = Math.floor(rnd() * 256);
    }
    sock.send(d, s.port, '127.0.0.1');
    if (i % 100 === 0) await sleep(1);
  }
  await sleep(200);
  const st = s.listener.stats;
  assert.ok(st.garbage + st.stray > 1000, JSON.stringify(st));
  assert.ok(s.refusals.every((r) => r.code === 1004 || r.code === 1008 || r.code === 1014), JSON.stringify(s.refusals.slice(0, 3)));
  assert.equal(s.conns.length, 0, 'nothing forged got a connection');
  const { conn } = await call({ port: s.port });
  conn.send(payload(0));
  await until(() => s.received.length === 1, 'one payload after garbage', 2000);
  conn.close('done');
});
