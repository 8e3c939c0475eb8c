/**
 * Early DTLS datagrams: a browser's ClientHello that reaches Strom before werift's DTLS server
 * exists is held and handed to the server once it starts, instead of being dropped (which made the
 * handshake wait for the browser's retransmission). The transport here is a stand-in for werift's
 * RTCDtlsTransport built on werift's own Event class, driven through the states werift goes through;
 * the DTLS answer role is checked on real SDP. The DTLS server without a cookie exchange is tested
 * against real werift peers in test/integration/webrtc-handshake.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Event } from 'werift';
import { EARLY_DTLS_MAX_PACKETS, holdEarlyDtls, type EarlyDtlsTransport } from '../../src/live/webrtc/early-dtls.js';
import { clientHelloHasCookie, type WeriftDtlsServer } from '../../src/live/webrtc/dtls-no-cookie.js';
import { dtlsServerRole } from '../../src/live/webrtc/negotiate.js';

type State = 'new' | 'connecting' | 'connected' | 'failed' | 'closed';

/** A transport in state 'new' whose ICE data and state changes the test drives. */
function transport(role: 'server' | 'client' = 'server') {
  const onData = new Event<[Buffer]>();
  const onStateChange = new Event<[State]>();
  const t: { state: State; role: string; onStateChange: typeof onStateChange; iceTransport: object; dtls?: Handshaker } = { state: 'new', role, onStateChange, iceTransport: { connection: { onData } } };
  const serverGot: Buffer[] = [];
  return {
    t: t as unknown as EarlyDtlsTransport,
    onData,
    serverGot,
    /** Change state as werift does; on 'connecting' the DTLS server is built and listens in the same turn. */
    set(state: State) {
      t.state = state;
      onStateChange.execute(state);
      if (state === 'connecting') {
        t.dtls = { onHandleHandshakes: async () => undefined, transport: { send: () => undefined }, dtls: { flight: 0, sequenceNumber: 0, lastMessage: [] } };
        onData.subscribe((b) => serverGot.push(b));
      }
    },
  };
}

type Handshaker = WeriftDtlsServer;

/** A ClientHello body: version, random, session id, cookie, then the rest (RFC 6347 §4.2.1). */
function helloBody(sessionId: number, cookie: number): Buffer {
  return Buffer.concat([Buffer.from([0xfe, 0xfd]), Buffer.alloc(32, 7), Buffer.from([sessionId]), Buffer.alloc(sessionId, 1), Buffer.from([cookie]), Buffer.alloc(cookie, 9), Buffer.from([0, 2, 0xc0, 0x2b])]);
}

const clientHello = (n: number) => Buffer.from([22, 0xfe, 0xfd, n]); // handshake record, DTLS 1.2
const rtp = Buffer.from([0x80, 96, 0, 1]);
const nextTurn = () => new Promise((r) => setImmediate(r));

test('a ClientHello that arrives before the DTLS server starts is replayed to it, once', async () => {
  const x = transport();
  let replayed = 0;
  holdEarlyDtls(x.t, (n) => (replayed += n));
  x.onData.execute(clientHello(1));
  x.onData.execute(rtp); // not DTLS (RFC 7983): not held
  x.onData.execute(clientHello(2)); // the browser's retransmission
  x.set('connecting');
  assert.deepEqual(x.serverGot, [], 'not replayed before the server is built');
  await nextTurn();
  assert.deepEqual(x.serverGot.map((b) => b[3]), [1, 2]);
  assert.equal(replayed, 2);
  x.onData.execute(clientHello(3)); // from now on the server hears it directly, nothing is held
  x.set('connected');
  await nextTurn();
  assert.deepEqual(x.serverGot.map((b) => b[3]), [1, 2, 3]);
  assert.equal(replayed, 2);
});

test('at most EARLY_DTLS_MAX_PACKETS are held', async () => {
  const x = transport();
  holdEarlyDtls(x.t);
  for (let i = 0; i < EARLY_DTLS_MAX_PACKETS + 5; i++) x.onData.execute(clientHello(i));
  x.set('connecting');
  await nextTurn();
  assert.equal(x.serverGot.length, EARLY_DTLS_MAX_PACKETS);
});

test('nothing is replayed when Strom is the DTLS client, or when the transport fails or closes first', async () => {
  for (const [role, end] of [['client', 'connecting'], ['server', 'failed'], ['server', 'closed']] as const) {
    const x = transport(role);
    let replayed = 0;
    holdEarlyDtls(x.t, (n) => (replayed += n));
    x.onData.execute(clientHello(1));
    x.set(end);
    await nextTurn();
    assert.equal(replayed, 0, `${role} → ${end}`);
    assert.equal(x.serverGot.length, 0, `${role} → ${end}: nothing handed on`);
  }
});

test('the transport closing between the state change and the replay drops the held datagrams', async () => {
  const x = transport();
  let replayed = 0;
  holdEarlyDtls(x.t, (n) => (replayed += n));
  x.onData.execute(clientHello(1));
  x.set('connecting');
  x.set('closed');
  await nextTurn();
  assert.equal(replayed, 0);
});

test('a transport past "new" is left alone', () => {
  const x = transport();
  x.set('connecting');
  holdEarlyDtls(x.t);
  x.onData.execute(clientHello(1));
  assert.equal(x.serverGot.length, 1, 'only the server got it');
});

test('ClientHello cookie detection reads past the session id', () => {
  assert.equal(clientHelloHasCookie(helloBody(0, 0)), false);
  assert.equal(clientHelloHasCookie(helloBody(0, 20)), true);
  assert.equal(clientHelloHasCookie(helloBody(32, 0)), false);
  assert.equal(clientHelloHasCookie(helloBody(32, 1)), true);
  assert.equal(clientHelloHasCookie(Buffer.alloc(10)), false, 'truncated');
});

test('the answer takes the DTLS server role only when the offer lets it choose (RFC 8842 §5.3)', () => {
  const answer = 'v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=setup:active\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=setup:active\r\n';
  const passive = dtlsServerRole('v=0\r\na=setup:actpass\r\n', answer);
  assert.equal(passive.match(/a=setup:passive\r\n/g)?.length, 2, passive);
  assert.doesNotMatch(passive, /a=setup:active/);
  assert.equal(dtlsServerRole('v=0\r\na=setup:passive\r\n', answer), answer, 'an offerer that insists on being the server keeps it');
  assert.equal(dtlsServerRole('v=0\na=setup:actpass\n', 'a=setup:active\n'), 'a=setup:passive\n', 'bare LF line ends');
});
