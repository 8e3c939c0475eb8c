/**
 * Keep a browser's first DTLS flight when it arrives before werift listens for DTLS.
 *
 * Strom answers offers, so its ICE agent is the controlled one (RFC 8445 §6.1.1) and sees the
 * connection as usable about one round trip after the browser does. The browser starts DTLS the
 * moment its own side is usable (it is the DTLS client: Strom answers `a=setup:passive`, see
 * negotiate.ts), while werift creates its DTLS server only when its ICE side connects and drops
 * every datagram before that. The browser's ClientHello was then lost, and the handshake waited for
 * its retransmission timer: 150–480 ms of a WHEP join on a 40 ms link. Held here instead, at most a
 * few datagrams for at most a few seconds, and handed to the DTLS server as soon as it exists.
 * The server then answers that ClientHello without a cookie round trip (dtls-no-cookie.ts).
 */
import type { RTCDtlsTransport, RTCPeerConnection } from 'werift';
import { skipCookieExchange, type WeriftDtlsServer } from './dtls-no-cookie.js';

/** Datagrams held per transport: a ClientHello flight is one or two; a browser retransmits it a few times. */
export const EARLY_DTLS_MAX_PACKETS = 8;
/** How long datagrams are held without DTLS starting (ICE failing, say) before they are let go. */
const EARLY_DTLS_MAX_AGE_MS = 10_000;

/** DTLS record content types 20–63 (RFC 7983 §7 demultiplexing). */
function isDtlsRecord(buf: Buffer): boolean {
  return buf.length > 0 && buf[0]! >= 20 && buf[0]! <= 63;
}

/** What holding needs of a werift DTLS transport: its state and role, and its ICE connection's datagrams. */
export type EarlyDtlsTransport = Pick<RTCDtlsTransport, 'state' | 'role' | 'onStateChange'> & {
  iceTransport: { connection: Pick<RTCDtlsTransport['iceTransport']['connection'], 'onData'> };
  /** werift's DTLS socket, built when the state turns 'connecting'. */
  dtls?: WeriftDtlsServer;
};

/** Hold DTLS datagrams that reach `pc` before its DTLS server starts; replay them once it has. Call after setLocalDescription. */
export function keepEarlyDtls(pc: RTCPeerConnection, onReplayed?: (packets: number) => void): void {
  for (const transport of new Set(pc.dtlsTransports)) holdEarlyDtls(transport as EarlyDtlsTransport, onReplayed);
}

/**
 * Hold the DTLS datagrams `transport` receives while still 'new'; once it turns 'connecting' as
 * the DTLS server, have it skip the cookie exchange and replay the held datagrams.
 */
export function holdEarlyDtls(transport: EarlyDtlsTransport, onReplayed?: (packets: number) => void): void {
  if (transport.state !== 'new') return;
  const ice = transport.iceTransport.connection;
  const held: Buffer[] = [];
  const listening = ice.onData.subscribe((buf) => {
    if (isDtlsRecord(buf) && held.length < EARLY_DTLS_MAX_PACKETS) held.push(buf);
  });
  const giveUp = setTimeout(() => stop(), EARLY_DTLS_MAX_AGE_MS);
  giveUp.unref();
  const states = transport.onStateChange.subscribe((state) => {
    if (state === 'new') return;
    const packets = held.splice(0);
    stop();
    if (state !== 'connecting' || transport.role !== 'server') return;
    // 'connecting' is set just before werift builds its DTLS server, synchronously, in the same
    // call; the server's transport subscribes to the ICE data as it is built. A microtask runs
    // right after that call and before any other datagram is taken: a later turn (setImmediate)
    // can come after the handshake has moved on, and a ClientHello replayed then restarts it.
    queueMicrotask(() => {
      if (transport.state !== 'connecting' || transport.dtls === undefined) return;
      skipCookieExchange(transport.dtls);
      for (const p of packets) ice.onData.execute(p);
      if (packets.length > 0) onReplayed?.(packets.length);
    });
  });
  function stop(): void {
    clearTimeout(giveUp);
    listening.unSubscribe();
    states.unSubscribe();
    held.length = 0;
  }
}
