/**
 * The caller side of the SRT handshake (libsrt docs/features/handshake.md "Caller-Listener"):
 * induction (version 4, UDT_DGRAM) until the listener answers with its cookie, then conclusion
 * (version 5, HSREQ, stream id, key material when a passphrase is set), repeated every 250 ms until
 * the listener accepts or refuses, within `connectTimeoutMs`. Strom calls out for `srt://`
 * restream outputs and pulled `srt://` sources; tests use it to drive the listener exactly.
 */
import dgram from 'node:dgram';
import { fail, isStromError } from '../../../errors.js';
import { newKeyMaterial, PacketCipher, sealKeyMaterial } from './crypto.js';
import { monotonicMs, SrtConnection } from './connection.js';
import { buildHandshake, HS_EXT, HS_TYPE, parseHandshake, SRT_MAGIC, STROM_SRT_FLAGS, STROM_SRT_VERSION, UDT_DGRAM, type Handshake } from './handshake.js';
import { CTRL, controlPacket, parsePacket } from './packet.js';
import { randomSeq } from './seq.js';

/** Caller settings. */
export interface CallOptions {
  host: string;
  port: number;
  streamId?: string;
  passphrase?: string;
  keyLength?: 16 | 24 | 32;
  latencyMs?: number;
  connectTimeoutMs?: number;
  peerIdleTimeoutMs?: number;
  windowPackets?: number;
}

/** A connected caller: the connection and the socket it owns (closed with it). */
export interface SrtCall {
  conn: SrtConnection;
  socket: dgram.Socket;
}

const RETRY_MS = 250;

/** What the common SRT rejection codes mean (libsrt SRT_REJ_* and the SRT_REJX_* of access control). */
const REJECTION_NAMES: Record<number, string> = {
  1000: 'unknown reason', 1001: 'system error on the listener', 1002: 'rejected by the listener', 1003: 'listener out of resources',
  1004: 'handshake not accepted', 1005: 'listener backlog full', 1007: 'listener closing', 1008: 'SRT version too old',
  1010: 'wrong passphrase', 1011: 'encryption required by one side only', 1013: 'congestion control mismatch', 1014: 'packet filter mismatch',
  1016: 'handshake timed out', 1400: 'bad stream id', 1401: 'unauthorized', 1403: 'stream key refused', 1404: 'stream not found',
  1405: 'mode refused', 1409: 'stream already published', 1500: 'listener internal error', 1503: 'listener unavailable',
};

/** The listener's rejection in a failed `callSrt` (code and its meaning), or null when it was no rejection. */
export function rejectionOf(err: unknown): { code: number; why: string } | null {
  const m = isStromError(err, 'SRT_CONNECT_FAILED') ? /rejected with code (\d+)/.exec(err.message) : null;
  if (m === null) return null;
  const code = Number(m[1]);
  return { code, why: `SRT rejection ${code}${REJECTION_NAMES[code] ? ` (${REJECTION_NAMES[code]})` : ''}` };
}

/** Connect to an SRT listener; rejects with SRT_CONNECT_FAILED naming the reason. */
export async function callSrt(o: CallOptions): Promise<SrtCall> {
  const socket = dgram.createSocket(o.host.includes(':') ? 'udp6' : 'udp4');
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => {
      try {
        socket.close(); // a failed lookup or connect leaves nothing open
      } catch {
        // never bound
      }
      reject(err);
    };
    socket.once('error', failed);
    socket.connect(o.port, o.host, () => {
      socket.off('error', failed);
      resolve();
    });
  });
  const startMs = monotonicMs();
  const ts = () => Math.round((monotonicMs() - startMs) * 1000) % 0x100000000;
  const localId = (Math.floor(Math.random() * 0x3fffffff) | 0x01000000) >>> 0;
  const isn = randomSeq();
  const latencyMs = o.latencyMs ?? 120;
  const km = o.passphrase ? newKeyMaterial(o.keyLength ?? 16) : null;
  const kmBody = km && o.passphrase ? sealKeyMaterial(km, o.passphrase) : undefined;
  let cookie = 0;
  const request = (): Buffer => cookie === 0
    ? controlPacket(CTRL.HANDSHAKE, 0, 0, ts(), 0, buildHandshake({ version: 4, extensionField: UDT_DGRAM, initialSeq: isn, type: HS_TYPE.INDUCTION, socketId: localId, cookie: 0 }))
    // Addressed to socket 0, as libsrt callers do: the induction answer's Socket ID field echoes
    // the caller's own id there, so it is not the listener's, and libsrt drops anything else.
    : controlPacket(CTRL.HANDSHAKE, 0, 0, ts(), 0, buildHandshake({
      version: 5, encryptionField: km ? km.keyLength / 8 : 0, extensionField: HS_EXT.HSREQ | (kmBody ? HS_EXT.KMREQ : 0) | (o.streamId ? HS_EXT.CONFIG : 0),
      initialSeq: isn, type: HS_TYPE.CONCLUSION, socketId: localId, cookie, flowWindow: o.windowPackets ?? 8192,
      hsreq: { version: STROM_SRT_VERSION, flags: STROM_SRT_FLAGS, rcvLatencyMs: latencyMs, sndLatencyMs: latencyMs }, kmreq: kmBody, streamId: o.streamId,
    }));
  const accepted = await new Promise<Handshake>((resolve, reject) => {
    const timeoutMs = o.connectTimeoutMs ?? 3000;
    const retry = setInterval(() => socket.send(request()), RETRY_MS);
    const timeout = setTimeout(() => done(fail('SRT_CONNECT_FAILED', `${o.host}:${o.port}`, `no answer within ${timeoutMs} ms`)), timeoutMs);
    const done = (r: Handshake | Error) => {
      clearInterval(retry);
      clearTimeout(timeout);
      socket.off('message', onMessage);
      if (r instanceof Error) {
        socket.close();
        reject(r);
      } else resolve(r);
    };
    const onMessage = (msg: Buffer) => {
      const pkt = parsePacket(msg);
      if (pkt === null || !pkt.control || pkt.type !== CTRL.HANDSHAKE || pkt.destId !== localId) return;
      const hs = parseHandshake(pkt.cif);
      if (hs === null) return;
      if (hs.type === HS_TYPE.INDUCTION && cookie === 0) {
        if (hs.version < 5 || hs.extensionField !== SRT_MAGIC) return done(fail('SRT_CONNECT_FAILED', `${o.host}:${o.port}`, `listener speaks handshake version ${hs.version} (HSv5 required)`));
        cookie = hs.cookie;
        socket.send(request());
      } else if (hs.type === HS_TYPE.CONCLUSION) done(hs);
      else if (hs.type >= 1000) done(fail('SRT_CONNECT_FAILED', `${o.host}:${o.port}`, `rejected with code ${hs.type}`));
    };
    socket.on('message', onMessage);
    socket.send(request());
  });
  const peerHs = accepted.hs;
  const cipher = km ? new PacketCipher(km) : null;
  const conn = new SrtConnection({
    localId, peerId: accepted.socketId, peer: `${o.host}:${o.port}`, initialSeq: isn,
    rcvLatencyMs: peerHs ? peerHs.sndLatencyMs : latencyMs, sndLatencyMs: peerHs ? peerHs.rcvLatencyMs : latencyMs,
    windowPackets: o.windowPackets ?? 8192, peerIdleTimeoutMs: o.peerIdleTimeoutMs ?? 5000, startMs, cipher,
    passphrase: o.passphrase ?? null,
    transmit: (b) => {
      try {
        socket.send(b);
      } catch {
        queueMicrotask(() => conn.close('the socket was closed', false)); // closed under us by its owner
      }
    },
  });
  socket.on('message', (msg) => {
    const pkt = parsePacket(msg);
    if (pkt !== null && pkt.destId === localId) conn.handle(pkt);
  });
  conn.whenClosed(() => {
    try {
      socket.close();
    } catch {
      // already closed by its owner
    }
  });
  return { conn, socket };
}
