/**
 * An SRT listener on one UDP port (caller–listener handshake, libsrt docs/features/handshake.md):
 * induction answered statelessly with a SYN cookie (an HMAC of the caller's address and the current
 * minute, so a flood of inductions allocates nothing), conclusion checked against the cookie, then
 * the application decides from the stream id (asynchronously: a database lookup) and the listener
 * answers with HSRSP (+ KMRSP) or a rejection code. Established connections are found by the
 * destination socket id of each datagram, and only from the address that made them.
 * Datagrams that are not SRT, handshakes with a wrong version or cookie, and packets for unknown
 * sockets are counted and dropped; nothing a peer sends can throw out of `onMessage`.
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import { openKeyMaterial, PacketCipher, PASSPHRASE_MIN } from './crypto.js';
import { monotonicMs, SrtConnection } from './connection.js';
import { buildHandshake, EXT, HS_EXT, HS_TYPE, parseHandshake, REJECT, SRT_MAGIC, STROM_SRT_FLAGS, STROM_SRT_VERSION, type Handshake } from './handshake.js';
import { CTRL, controlPacket, parsePacket } from './packet.js';

/** What the application learns about a caller before deciding. */
export interface AcceptRequest {
  streamId: string;
  peer: string;
  /** The caller sent key material (it encrypts). */
  encrypted: boolean;
}

/** The application's answer. */
export type AcceptDecision =
  | { accept: true; passphrase: string | null }
  | { accept: false; code: number; reason: string };

/** Listener settings. */
export interface ListenerOptions {
  host: string;
  port: number;
  latencyMs: number;
  windowPackets: number;
  peerIdleTimeoutMs: number;
  maxConnections: number;
  decide: (req: AcceptRequest) => Promise<AcceptDecision>;
  /** A new connection (the decision was accept); wire its `onData`/`whenClosed` here. */
  accepted: (conn: SrtConnection, req: AcceptRequest) => void;
  /** A refused or broken handshake, for logs and metrics. */
  refused: (peer: string, reason: string, code: number) => void;
}

/** Counters of the listener. */
export interface ListenerStats {
  garbage: number;
  stray: number;
  handshakes: number;
  rejected: number;
}

const COOKIE_KEY = crypto.randomBytes(32);

function cookieFor(peer: string, minute: number): number {
  return crypto.createHmac('sha256', COOKIE_KEY).update(`${peer}|${minute}`).digest().readUInt32BE(0);
}

function newSocketId(): number {
  return (crypto.randomBytes(4).readUInt32BE(0) & 0x3fffffff) | 0x01000000;
}

/** A running SRT listener. */
export class SrtListener {
  readonly stats: ListenerStats = { garbage: 0, stray: 0, handshakes: 0, rejected: 0 };
  private readonly socket: dgram.Socket;
  private readonly byId = new Map<number, SrtConnection>();
  /** "peer|callerSocketId" → our answer (resent when the caller repeats its conclusion), or null while deciding. */
  private readonly pending = new Map<string, { reply: Buffer | null; conn: SrtConnection | null }>();
  private readonly startMs = monotonicMs();
  private readonly listenerId = newSocketId();
  private bound = 0;

  constructor(private readonly opts: ListenerOptions) {
    this.socket = dgram.createSocket({ type: opts.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024, sendBufferSize: 4 * 1024 * 1024 });
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    this.socket.on('error', () => {}); // ICMP errors for vanished peers surface here; the idle timeout ends them
  }

  /** Bind; resolves to the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(this.opts.port, this.opts.host, () => {
        this.socket.off('error', reject);
        this.bound = this.socket.address().port;
        resolve(this.bound);
      });
    });
  }

  /** Close every connection (telling the peers) and the socket. */
  async close(): Promise<void> {
    for (const c of [...this.byId.values()]) c.close('server shutting down');
    this.byId.clear();
    this.pending.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  /** Established connections. */
  connections(): number {
    return this.byId.size;
  }

  /** Bound port (0 before `listen`). */
  port(): number {
    return this.bound;
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const pkt = parsePacket(msg);
    if (pkt === null) {
      this.stats.garbage++;
      return;
    }
    const peer = `${rinfo.address}:${rinfo.port}`;
    const conn = pkt.destId === 0 ? undefined : this.byId.get(pkt.destId);
    if (conn !== undefined) {
      if (conn.params.peer !== peer) this.stats.stray++; // same id from another address: not this peer
      else if (pkt.control && pkt.type === CTRL.HANDSHAKE) this.repeatConclusion(pkt.cif, peer, rinfo);
      else conn.handle(pkt);
      return;
    }
    if (!pkt.control || pkt.type !== CTRL.HANDSHAKE || (pkt.destId !== 0 && pkt.destId !== this.listenerId)) {
      this.stats.stray++;
      return;
    }
    const hs = parseHandshake(pkt.cif);
    if (hs === null) {
      this.stats.garbage++;
      return;
    }
    this.stats.handshakes++;
    if (hs.type === HS_TYPE.INDUCTION) return this.induction(hs, peer, rinfo);
    if (hs.type === HS_TYPE.CONCLUSION) return this.conclusion(hs, peer, rinfo);
    this.stats.garbage++;
  }

  private induction(hs: Handshake, peer: string, rinfo: dgram.RemoteInfo): void {
    const minute = Math.floor(Date.now() / 60_000);
    const reply = buildHandshake({
      version: 5, encryptionField: 0, extensionField: SRT_MAGIC, initialSeq: hs.initialSeq, mtu: hs.mtu, flowWindow: hs.flowWindow,
      type: HS_TYPE.INDUCTION, socketId: this.listenerId, cookie: cookieFor(peer, minute), peerAddress: rinfo.address,
    });
    this.sendTo(controlPacket(CTRL.HANDSHAKE, 0, 0, this.ts(), hs.socketId, reply), rinfo);
  }

  private conclusion(hs: Handshake, peer: string, rinfo: dgram.RemoteInfo): void {
    const key = `${peer}|${hs.socketId}`;
    const seen = this.pending.get(key);
    if (seen !== undefined) {
      if (seen.reply !== null) this.sendTo(seen.reply, rinfo); // our answer was lost: say it again
      return;
    }
    const minute = Math.floor(Date.now() / 60_000);
    const reject = (code: number, reason: string) => void this.refuse(hs, peer, rinfo, code, reason);
    if (hs.cookie !== cookieFor(peer, minute) && hs.cookie !== cookieFor(peer, minute - 1)) return reject(REJECT.ROGUE, 'bad SYN cookie');
    if (hs.version !== 5 || hs.hs === undefined || (hs.extensionField & HS_EXT.HSREQ) === 0) return reject(REJECT.VERSION, `handshake version ${hs.version} without HSREQ (SRT 1.3 or later is required)`);
    if (hs.otherExtensions.includes(EXT.FILTER)) return reject(REJECT.FILTER, 'packet filters (FEC) are not supported');
    if (this.byId.size + this.deciding() >= this.opts.maxConnections) return reject(REJECT.RESOURCE, `connection limit ${this.opts.maxConnections} reached`);
    const req: AcceptRequest = { streamId: hs.streamId ?? '', peer, encrypted: hs.km !== undefined };
    const entry: { reply: Buffer | null; conn: SrtConnection | null } = { reply: null, conn: null };
    this.pending.set(key, entry);
    const forget = setTimeout(() => this.pending.delete(key), 10_000);
    forget.unref();
    this.opts.decide(req).then((d) => this.answer(hs, req, d, entry, rinfo), (err: unknown) => {
      this.answer(hs, req, { accept: false, code: REJECT.SYSTEM, reason: `internal error: ${(err as Error).message}` }, entry, rinfo);
    });
  }

  private answer(hs: Handshake, req: AcceptRequest, d: AcceptDecision, entry: { reply: Buffer | null; conn: SrtConnection | null }, rinfo: dgram.RemoteInfo): void {
    if (!d.accept) return void (entry.reply = this.refuse(hs, req.peer, rinfo, d.code, d.reason));
    let cipher: PacketCipher | null = null;
    if (d.passphrase !== null && d.passphrase.length >= PASSPHRASE_MIN) {
      if (hs.km === undefined) return void (entry.reply = this.refuse(hs, req.peer, rinfo, REJECT.UNSECURE, 'this stream requires encryption (set a passphrase)'));
      const km = openKeyMaterial(hs.km, d.passphrase);
      if (km === 'bad-secret') return void (entry.reply = this.refuse(hs, req.peer, rinfo, REJECT.BADSECRET, 'wrong passphrase'));
      if (typeof km === 'string') return void (entry.reply = this.refuse(hs, req.peer, rinfo, REJECT.UNSECURE, `key material not usable: ${km}`));
      cipher = new PacketCipher(km);
    } else if (hs.km !== undefined) return void (entry.reply = this.refuse(hs, req.peer, rinfo, REJECT.UNSECURE, 'the caller encrypts but this stream has no passphrase'));
    const peerHs = hs.hs!;
    const rcvLatencyMs = Math.max(this.opts.latencyMs, peerHs.sndLatencyMs);
    const sndLatencyMs = Math.max(this.opts.latencyMs, peerHs.rcvLatencyMs);
    const localId = newSocketId();
    const conn = new SrtConnection({
      localId, peerId: hs.socketId, peer: req.peer, initialSeq: hs.initialSeq, rcvLatencyMs, sndLatencyMs,
      windowPackets: this.opts.windowPackets, peerIdleTimeoutMs: this.opts.peerIdleTimeoutMs, startMs: this.startMs,
      cipher, passphrase: d.passphrase, transmit: (b) => this.sendTo(b, rinfo),
    });
    const reply = buildHandshake({
      version: 5, encryptionField: 0, extensionField: HS_EXT.HSREQ | (hs.km ? HS_EXT.KMREQ : 0), initialSeq: hs.initialSeq,
      mtu: Math.min(hs.mtu, 1500), flowWindow: Math.min(hs.flowWindow, this.opts.windowPackets), type: HS_TYPE.CONCLUSION, socketId: localId, cookie: 0,
      peerAddress: rinfo.address, hsrsp: { version: STROM_SRT_VERSION, flags: STROM_SRT_FLAGS, rcvLatencyMs, sndLatencyMs }, kmrsp: hs.km,
    });
    entry.reply = controlPacket(CTRL.HANDSHAKE, 0, 0, this.ts(), hs.socketId, reply);
    entry.conn = conn;
    this.byId.set(localId, conn);
    conn.whenClosed(() => this.byId.delete(localId));
    this.sendTo(entry.reply, rinfo);
    this.opts.accepted(conn, req);
  }

  /** A caller repeats its conclusion after we accepted it (our reply was lost). */
  private repeatConclusion(cif: Buffer, peer: string, rinfo: dgram.RemoteInfo): void {
    const hs = parseHandshake(cif);
    if (hs === null) return;
    const entry = this.pending.get(`${peer}|${hs.socketId}`);
    if (entry?.reply) this.sendTo(entry.reply, rinfo);
  }

  private refuse(hs: Handshake, peer: string, rinfo: dgram.RemoteInfo, code: number, reason: string): Buffer {
    this.stats.rejected++;
    this.opts.refused(peer, reason, code);
    const reply = controlPacket(CTRL.HANDSHAKE, 0, 0, this.ts(), hs.socketId, buildHandshake({
      version: 5, extensionField: 0, initialSeq: hs.initialSeq, type: code, socketId: this.listenerId, cookie: 0, peerAddress: rinfo.address,
    }));
    this.sendTo(reply, rinfo);
    return reply;
  }

  private deciding(): number {
    let n = 0;
    for (const e of this.pending.values()) if (e.conn === null && e.reply === null) n++;
    return n;
  }

  private sendTo(b: Buffer, rinfo: dgram.RemoteInfo): void {
    this.socket.send(b, rinfo.port, rinfo.address);
  }

  private ts(): number {
    return Math.round((monotonicMs() - this.startMs) * 1000) % 0x100000000;
  }
}
