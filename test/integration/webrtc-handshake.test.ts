/**
 * How a WebRTC session connects, with real werift peers over loopback UDP: a werift viewer offers
 * as Chromium does (actpass), Strom's own negotiation answers (passive, so Strom is the DTLS
 * server), and the datagrams Strom sends are read off the viewer's ICE connection. Strom's DTLS
 * server skips the HelloVerifyRequest (src/live/webrtc/dtls-no-cookie.ts) and its ICE agent asks
 * no STUN server unless one is configured (werift's default is Google's). Chromium (BoringSSL)
 * against the same server is covered by test/e2e/webrtc-whip-whep.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import type { RTCPeerConnection } from 'werift';
import { loadConfig } from '../../src/config.js';
import { createPeer, withoutDefaultStun } from '../../src/live/webrtc/peer-factory.js';
import { negotiate } from '../../src/live/webrtc/negotiate.js';
import { WebRtcStats } from '../../src/live/webrtc/webrtc-metrics.js';

const defaults = loadConfig({ env: {} });

/** A DTLS handshake record's first message: its type and message_seq (RFC 6347 §4.1, §4.2.2); null for other records. */
function handshakeOf(buf: Buffer): { type: number; seq: number } | null {
  if (buf.length < 25 || buf[0] !== 22) return null; // content type 22 = handshake
  if (buf.readUInt16BE(3) !== 0) return null; // epoch 0: the plaintext part of the handshake
  return { type: buf[13]!, seq: buf.readUInt16BE(17) };
}

const HELLO_VERIFY_REQUEST = 3;
const SERVER_HELLO = 2;
const CLIENT_HELLO = 1;

function connected(pc: RTCPeerConnection): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`not connected within 10 s (${pc.connectionState})`)), 10_000);
    pc.connectionStateChange.subscribe((s) => {
      if (s === 'connected') {
        clearTimeout(t);
        resolve();
      } else if (s === 'failed') reject(new Error('connection failed'));
    });
  });
}

/**
 * A werift viewer joins through Strom's negotiation; `tamper` may change the viewer's outgoing
 * datagrams. Resolves once both sides are connected, with the handshake messages Strom sent.
 */
async function join(t: { after: (fn: () => Promise<void>) => void }, tamper?: (buf: Buffer, send: (b: Buffer) => Promise<void>) => Promise<void>, config = defaults): Promise<Array<{ type: number; seq: number }>> {
  const viewer = createPeer(config.webrtc);
  const strom = createPeer(config.webrtc);
  t.after(async () => {
    await viewer.close();
    await strom.close();
  });
  viewer.addTransceiver('video', { direction: 'recvonly' });
  viewer.addTransceiver('audio', { direction: 'recvonly' });
  withoutDefaultStun(viewer, config.webrtc); // the viewer stands for a browser: only Strom's lookups count
  await viewer.setLocalDescription(await viewer.createOffer());
  const fromStrom: Array<{ type: number; seq: number }> = [];
  const ice = viewer.dtlsTransports[0]!.iceTransport.connection;
  ice.onData.subscribe((buf) => {
    const h = handshakeOf(buf);
    if (h !== null) fromStrom.push(h);
  });
  if (tamper !== undefined) {
    const send = ice.send.bind(ice);
    ice.send = (buf: Buffer) => tamper(buf, send);
  }
  const offer = viewer.localDescription!.sdp;
  assert.match(offer, /a=setup:actpass/);
  const answer = await negotiate(strom, offer, 'sendonly', config.webrtc, new WebRtcStats());
  assert.match(answer, /a=setup:passive/);
  await Promise.all([connected(viewer), connected(strom), viewer.setRemoteDescription({ type: 'answer', sdp: answer })]);
  return fromStrom;
}

test('Strom answers the ClientHello with its ServerHello flight at once: no HelloVerifyRequest, messages numbered from 0', async (t) => {
  const sent = await join(t);
  assert.equal(sent.filter((h) => h.type === HELLO_VERIFY_REQUEST).length, 0, 'no HelloVerifyRequest');
  const hello = sent.find((h) => h.type === SERVER_HELLO);
  assert.ok(hello, `a ServerHello among ${JSON.stringify(sent)}`);
  assert.equal(hello.seq, 0, 'the server\'s first handshake message has message_seq 0 (RFC 6347 §4.2.2)');
});

test('a retransmitted ClientHello gets the same flight again and the handshake still completes', async (t) => {
  let copies = 0;
  const sent = await join(t, async (buf, send) => {
    await send(buf);
    if (handshakeOf(buf)?.type === CLIENT_HELLO && copies === 0) {
      copies++;
      await send(buf); // as if the viewer's retransmission timer fired before the answer came
    }
  });
  assert.equal(copies, 1, 'the viewer sent its ClientHello once and the copy');
  const serverHellos = sent.filter((h) => h.type === SERVER_HELLO);
  assert.equal(serverHellos.length, 2, 'flight 4 resent for the copy');
  assert.deepEqual(serverHellos.map((h) => h.seq), [0, 0], 'resent as it was, not renumbered');
  assert.equal(sent.filter((h) => h.type === HELLO_VERIFY_REQUEST).length, 0);
});

test('no STUN server is asked unless one is configured (werift would ask Google\'s on every session)', async (t) => {
  const looked: string[] = [];
  const lookup = dns.promises.lookup;
  // werift resolves a STUN server's name through node:dns's promises API before its binding request.
  dns.promises.lookup = ((host: string, ...rest: []) => {
    looked.push(host);
    return lookup(host, ...rest);
  }) as typeof lookup;
  t.after(() => void (dns.promises.lookup = lookup));
  await join(t);
  assert.equal(looked.length, 0, `no STUN lookup with webrtc.stunServers empty (looked up: ${looked.join(', ')})`);
  // The same lookup is seen when a STUN server is configured: the spy sees what werift resolves.
  const withStun = loadConfig({ env: {}, flags: { 'webrtc.stunServers': 'stun:stun.strom-test.invalid:3478' } });
  await join(t, undefined, withStun).catch(() => undefined);
  assert.ok(looked.includes('stun.strom-test.invalid'), `a configured STUN server is resolved (${looked.join(', ')})`);
});
