/**
 * Strom's DTLS server answers the first ClientHello with its ServerHello flight at once, without
 * the HelloVerifyRequest cookie round trip (RFC 6347 §4.2.1).
 *
 * The cookie exchange keeps a server from amplifying traffic towards a spoofed source address.
 * WebRTC already has that proof: DTLS runs only on a candidate pair that passed ICE connectivity
 * checks signed with the SDP's credentials (RFC 8445 §7.2.5, consent freshness RFC 7675), so §4.2.1
 * lets the server skip it ("MAY be configured not to perform a cookie exchange"), and BoringSSL's
 * DTLS server, the one in every Chromium, never sends one. Skipping it saves one round trip of
 * every WHEP join and WHIP publish.
 *
 * werift has no switch for it, so this drives its server from outside, through the handshake
 * callback it exposes (werift's DtlsServer; its classes are internal). For the first ClientHello:
 * werift's flight-2 step runs with its HelloVerifyRequest swallowed (it picks the curve, cipher
 * suite and SRTP profile and makes the key pair and cookie), then its flight-4 step runs on the
 * same message, shown the cookie only for its check and recorded without it, because the
 * Finished MACs cover the ClientHello as the client sent it; and its ServerHello numbered 0, the
 * server's first handshake message (RFC 6347 §4.2.2), not 1 as after a HelloVerifyRequest.
 * A repeated ClientHello (the client's retransmission timer) gets flight 4 again while the
 * handshake waits for the client's next flight, and is dropped after that: werift would otherwise
 * make a fresh key pair that no longer matches the ServerKeyExchange the client is using.
 */

/** A reassembled DTLS handshake message as werift hands it to its flights. */
export interface HandshakeMessage {
  msg_type: number;
  length: number;
  fragment_length: number;
  fragment: Buffer;
}

/** What this needs of werift's DtlsServer (werift/lib/dtls/src/server.ts). */
export interface WeriftDtlsServer {
  onHandleHandshakes: (assembled: HandshakeMessage[]) => Promise<void>;
  transport: { send: (buf: Buffer) => unknown };
  dtls: { flight: number; cookie?: Buffer; sequenceNumber: number; lastMessage: Buffer[] };
}

const CLIENT_HELLO = 1;
/** werift's `dtls.flight` while it waits for the client's flight 5 after sending flight 4. */
const FLIGHT_4 = 4;

/** Where a ClientHello body's cookie length byte is (RFC 6347 §4.2.1: version, random, session id, cookie). */
function cookieOffset(body: Buffer): number {
  return 2 + 32 + 1 + (body[34] ?? 0);
}

/** Whether a ClientHello body carries a cookie. */
export function clientHelloHasCookie(body: Buffer): boolean {
  const at = cookieOffset(body);
  return body.length > at && body[at]! > 0;
}

/** A cookieless ClientHello body with `cookie` written in. */
function withCookie(body: Buffer, cookie: Buffer): Buffer {
  const at = cookieOffset(body);
  return Buffer.concat([body.subarray(0, at), Buffer.from([cookie.length]), cookie, body.subarray(at + 1)]);
}

/** Make werift's DTLS `server` answer a ClientHello without a HelloVerifyRequest (see the header). */
export function skipCookieExchange(server: WeriftDtlsServer): void {
  const handle = server.onHandleHandshakes;
  let answered = false;
  server.onHandleHandshakes = (assembled) => {
    const rest: HandshakeMessage[] = [];
    let flight4: Promise<void> | null = null;
    for (const m of assembled) {
      if (m.msg_type !== CLIENT_HELLO) rest.push(m);
      else if (answered) resendFlight4(server);
      else if (clientHelloHasCookie(m.fragment)) rest.push(m); // not ours to answer differently
      else {
        answered = true;
        flight4 = answerAtOnce(server, handle, m);
      }
    }
    const others = rest.length > 0 ? handle(rest) : Promise.resolve();
    return flight4 === null ? others : Promise.all([flight4, others]).then(() => undefined);
  };
}

/** Flight 4 again for a retransmitted ClientHello, while the server still waits for flight 5. */
function resendFlight4(server: WeriftDtlsServer): void {
  if (server.dtls.flight !== FLIGHT_4) return;
  for (const buf of server.dtls.lastMessage) server.transport.send(buf);
}

/**
 * werift's flight 2 without its datagram, then its flight 4 on the same ClientHello. Both run
 * synchronously up to flight 4's first send, so the temporary changes below are undone before
 * anything else can see them.
 */
function answerAtOnce(server: WeriftDtlsServer, handle: WeriftDtlsServer['onHandleHandshakes'], hello: HandshakeMessage): Promise<void> {
  const { transport, dtls } = server;
  const send = transport.send;
  transport.send = () => undefined; // the HelloVerifyRequest
  let flight2: Promise<void>;
  try {
    flight2 = handle([hello]);
  } finally {
    transport.send = send;
  }
  const cookie = dtls.cookie;
  if (cookie === undefined) return flight2; // werift did not take it: nothing more to do here
  const original = { fragment: hello.fragment, length: hello.length, fragment_length: hello.fragment_length };
  const shown = withCookie(hello.fragment, cookie);
  Object.assign(hello, { fragment: shown, length: shown.length, fragment_length: shown.length });
  // Flight 4 numbers its messages from 1 (a HelloVerifyRequest took 0); the first set becomes 0.
  let seq = dtls.sequenceNumber;
  let renumber = true;
  Object.defineProperty(dtls, 'sequenceNumber', {
    configurable: true, enumerable: true,
    get: () => seq,
    set: (v: number) => {
      seq = renumber && v === 1 ? 0 : v;
      renumber = false;
    },
  });
  let flight4: Promise<void>;
  try {
    flight4 = handle([hello]);
  } finally {
    Object.assign(hello, original); // the transcript keeps the ClientHello as sent
    Object.defineProperty(dtls, 'sequenceNumber', { configurable: true, enumerable: true, writable: true, value: seq });
  }
  return Promise.all([flight2, flight4]).then(() => undefined);
}
