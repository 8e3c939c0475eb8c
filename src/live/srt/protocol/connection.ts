/**
 * One established SRT connection (either side of the handshake), live mode: data both ways,
 * ACK/ACKACK (RTT), NAK and periodic NAK reports, too-late drop on both sides, keep-alives, the
 * peer-idle timeout, shutdown, encryption and in-band rekeying (KMREQ control messages).
 * It owns no socket: datagrams come in through `handle` and go out through `transmit`, so a
 * listener multiplexes many connections on one UDP port and a caller uses its own socket.
 * Timers: one 10 ms tick (the SRT "SYN interval") per connection, unref'd, cleared on close.
 */
import { CTRL, USER_SUBTYPE, ackCif, ackSeqOf, controlPacket, lossListCif, parseLossList, type ControlPacket, type DataPacket } from './packet.js';
import { openKeyMaterial, type PacketCipher } from './crypto.js';
import { SrtReceiver } from './receiver.js';
import { SrtSender } from './sender.js';
import { seqAdd } from './seq.js';


/** When a SHUTDOWN is sent again after the first (ms). */
const SHUTDOWN_REPEAT_MS = [20, 120];
/** How an established connection is set up. */
export interface ConnectionParams {
  localId: number;
  peerId: number;
  /** "address:port" of the peer, for logs. */
  peer: string;
  initialSeq: number;
  /** Agreed latency for what this side receives, ms. */
  rcvLatencyMs: number;
  /** Agreed latency for what this side sends, ms. */
  sndLatencyMs: number;
  /** Receive window and send buffer size, packets. */
  windowPackets: number;
  peerIdleTimeoutMs: number;
  /** Monotonic ms when this side's socket started (packet timestamps count from it). */
  startMs: number;
  cipher: PacketCipher | null;
  passphrase: string | null;
  transmit: (datagram: Buffer) => void;
}

const SYN_MS = 10;
const KEEPALIVE_MS = 1000;
const LIGHT_ACK_PACKETS = 64;
const MAX_NAK_RANGES = 180; // 360 words: fits a 1500-byte datagram
const ACK_HISTORY = 64;
const STALE_RESEND_MAX = 32; // per 10 ms tick: a resend burst stays small
/** Unacknowledged this long is resent even unasked: above loopback event-loop stalls, below the window. */
const STALE_RESEND_FLOOR_MS = 80;

/** Current monotonic time in ms. */
export function monotonicMs(): number {
  return performance.now();
}

/** An SRT connection. */
export class SrtConnection {
  closed = false;
  closeReason = '';
  /** Payloads in order (TS chunks). */
  onData: ((payload: Buffer) => void) | null = null;
  readonly receiver: SrtReceiver;
  readonly sender: SrtSender;
  rttUs = 100_000;
  rttVarUs = 50_000;
  private measuredRtt = false;
  /** Packets that could not be decrypted, or arrived for a key not announced. */
  undecryptable = 0;
  private readonly timer: NodeJS.Timeout;
  private lastRecvMs: number;
  private lastSentMs: number;
  private ackNo = 1;
  private readonly acksSent = new Map<number, number>();
  private lastAckSeq = -1;
  private sinceLightAck = 0;
  private lastNakReportMs = 0;
  /** Receive rate reported in full ACKs, recomputed once a second. */
  private readonly closeListeners: Array<(reason: string) => void> = [];
  private rate = { sinceMs: 0, packets: 0, bytes: 0, pps: 0, bps: 0 };

  constructor(readonly params: ConnectionParams) {
    const now = monotonicMs();
    this.lastRecvMs = now;
    this.lastSentMs = now;
    this.receiver = new SrtReceiver(params.initialSeq, params.rcvLatencyMs, params.windowPackets, (p) => this.onData?.(p));
    this.sender = new SrtSender(params.initialSeq, params.windowPackets, Math.max(params.sndLatencyMs, 1000) + 2 * SYN_MS);
    this.timer = setInterval(() => this.tick(), SYN_MS);
    this.timer.unref();
  }

  /** Send one payload (≤ 1456 bytes; a TS chunk of 7 packets is 1316). */
  send(payload: Buffer): void {
    if (this.closed) return;
    const now = monotonicMs();
    const p = this.params;
    const seq = this.sender.nextSequence();
    const cipher = p.cipher;
    const body = cipher ? cipher.apply(seq, cipher.sendKey(), payload) ?? payload : payload;
    this.out(this.sender.packetize(body, cipher ? cipher.sendKey() : 0, this.timestamp(now), p.peerId, now), now);
  }

  /** Handle a datagram addressed to this connection. */
  handle(pkt: DataPacket | ControlPacket): void {
    if (this.closed) return;
    const now = monotonicMs();
    this.lastRecvMs = now;
    if (!pkt.control) return this.onDataPacket(pkt, now);
    switch (pkt.type) {
      case CTRL.ACK: return this.onAck(pkt, now);
      case CTRL.ACKACK: return this.onAckAck(pkt.info, now);
      case CTRL.NAK: return this.onNak(pkt.cif, now);
      case CTRL.SHUTDOWN: return this.close('peer shut the connection down', false);
      case CTRL.DROPREQ:
        if (pkt.cif.length >= 8) this.receiver.dropUpTo(pkt.cif.readUInt32BE(4) & 0x7fffffff);
        return;
      case CTRL.USER:
        if (pkt.subtype === USER_SUBTYPE.KMREQ) this.onRekey(pkt.cif, now);
        return;
      default:
        return; // keep-alive (already counted as life), congestion warning, peer error, handshake repeats
    }
  }

  /** Call `fn` once when the connection ends, with the reason. */
  whenClosed(fn: (reason: string) => void): void {
    if (this.closed) fn(this.closeReason);
    else this.closeListeners.push(fn);
  }

  /** End the connection; tells the peer unless it was the peer that ended it. */
  close(reason: string, notifyPeer = true): void {
    if (this.closed) return;
    if (notifyPeer) {
      // One datagram, unacknowledged: a lost SHUTDOWN leaves the peer to its idle timeout. Repeat
      // it twice more, a little later (loss is often bursty); a peer ignores SHUTDOWN for a socket
      // it has already closed.
      const shutdown = () => this.control(CTRL.SHUTDOWN, 0, 0, monotonicMs(), Buffer.alloc(4));
      shutdown();
      for (const ms of SHUTDOWN_REPEAT_MS) {
        setTimeout(() => {
          try {
            shutdown();
          } catch {
            // the UDP socket closed meanwhile (listener or caller shut down): nothing left to tell
          }
        }, ms).unref();
      }
    }
    this.closed = true;
    this.closeReason = reason;
    clearInterval(this.timer);
    for (const fn of this.closeListeners.splice(0)) fn(reason);
  }

  private onDataPacket(pkt: DataPacket, now: number): void {
    let payload = pkt.payload;
    if (pkt.keyFlags !== 0) {
      const clear = this.params.cipher?.apply(pkt.seq, pkt.keyFlags, payload) ?? null;
      if (clear === null) {
        this.undecryptable++;
        return;
      }
      payload = clear;
    } else if (this.params.cipher !== null) {
      this.undecryptable++; // clear text on an encrypted connection is not what was agreed
      return;
    }
    const gap = this.receiver.receive(pkt.seq, payload, now);
    if (gap !== null) {
      this.receiver.countNak();
      this.control(CTRL.NAK, 0, 0, now, lossListCif([gap]));
    }
    if (++this.sinceLightAck >= LIGHT_ACK_PACKETS) {
      this.sinceLightAck = 0;
      const b = Buffer.allocUnsafe(4);
      b.writeUInt32BE(this.receiver.ackSeq(), 0);
      this.control(CTRL.ACK, 0, 0, now, b); // light ACK (§3.2.4): no ACKACK expected
    }
  }

  private onAck(pkt: ControlPacket, now: number): void {
    const seq = ackSeqOf(pkt.cif);
    if (seq === null) return;
    this.sender.acknowledge(seq);
    if (pkt.cif.length >= 16) {
      this.control(CTRL.ACKACK, 0, pkt.info, now);
      const rtt = pkt.cif.readUInt32BE(4);
      if (rtt > 0 && rtt < 10_000_000) {
        this.rttUs = rtt;
        this.rttVarUs = pkt.cif.readUInt32BE(8);
      }
    }
  }

  private onAckAck(ackNo: number, now: number): void {
    const sent = this.acksSent.get(ackNo);
    if (sent === undefined) return;
    this.acksSent.delete(ackNo);
    const sample = Math.max(1, Math.round((now - sent) * 1000));
    if (!this.measuredRtt) {
      // The first sample replaces the 100 ms guess outright (RFC 6298 §2.2, libsrt does the same):
      // periodic NAKs and resends are paced by it, and a guess above the window gives up repairs.
      this.measuredRtt = true;
      this.rttUs = sample;
      this.rttVarUs = sample / 2;
      return;
    }
    this.rttVarUs = Math.round((3 * this.rttVarUs + Math.abs(this.rttUs - sample)) / 4);
    this.rttUs = Math.round((7 * this.rttUs + sample) / 8);
  }

  private onNak(cif: Buffer, now: number): void {
    for (const [from, to] of parseLossList(cif, this.params.windowPackets)) {
      for (let s = from; ; s = seqAdd(s, 1)) {
        const again = this.sender.retransmission(s, now);
        if (again !== null) this.out(again, now);
        if (s === to) break;
      }
    }
  }

  private onRekey(cif: Buffer, now: number): void {
    const pass = this.params.passphrase;
    const cipher = this.params.cipher;
    if (pass === null || cipher === null) return;
    const km = openKeyMaterial(cif, pass);
    if (typeof km === 'string') {
      this.control(CTRL.USER, USER_SUBTYPE.KMRSP, 0, now, Buffer.from([0, 0, 0, 4])); // SRT_KM_S_BADSECRET
      return;
    }
    cipher.update(km);
    this.control(CTRL.USER, USER_SUBTYPE.KMRSP, 0, now, cif);
  }

  private tick(): void {
    const now = monotonicMs();
    const p = this.params;
    if (now - this.lastRecvMs > p.peerIdleTimeoutMs) return this.close(`peer idle for ${p.peerIdleTimeoutMs} ms`, false);
    this.receiver.dropTooLate(now);
    const ackSeq = this.receiver.ackSeq();
    if (ackSeq !== this.lastAckSeq || this.receiver.heldPackets() > 0) this.fullAck(ackSeq, now);
    const nakEvery = Math.max(20, (this.rttUs + 4 * this.rttVarUs) / 1000);
    if (now - this.lastNakReportMs >= nakEvery) {
      this.lastNakReportMs = now;
      const ranges = this.receiver.lossRanges(MAX_NAK_RANGES);
      if (ranges.length > 0) this.control(CTRL.NAK, 0, 0, now, lossListCif(ranges));
    }
    const rtoMs = Math.max(STALE_RESEND_FLOOR_MS, (this.rttUs + 4 * this.rttVarUs) / 1000 + 2 * SYN_MS);
    for (const seq of this.sender.stale(now, rtoMs, STALE_RESEND_MAX)) {
      const again = this.sender.retransmission(seq, now);
      if (again !== null) this.out(again, now);
    }
    const dropped = this.sender.dropTooLate(now);
    if (dropped !== null) {
      const cif = Buffer.allocUnsafe(8);
      cif.writeUInt32BE(dropped[0], 0);
      cif.writeUInt32BE(dropped[1], 4);
      this.control(CTRL.DROPREQ, 0, 0, now, cif);
    }
    if (now - this.lastSentMs >= KEEPALIVE_MS) this.control(CTRL.KEEPALIVE, 0, 0, now, Buffer.alloc(4));
  }

  private fullAck(ackSeq: number, now: number): void {
    this.lastAckSeq = ackSeq;
    const no = this.ackNo;
    this.ackNo = this.ackNo >= 0x7fffffff ? 1 : this.ackNo + 1;
    this.acksSent.set(no, now);
    if (this.acksSent.size > ACK_HISTORY) this.acksSent.delete(this.acksSent.keys().next().value as number);
    const st = this.receiver.stats;
    if (now - this.rate.sinceMs >= 1000) {
      const s = (now - this.rate.sinceMs) / 1000;
      this.rate = { sinceMs: now, packets: st.packets, bytes: st.bytes, pps: Math.round((st.packets - this.rate.packets) / s), bps: Math.round((st.bytes - this.rate.bytes) / s) };
    }
    this.control(CTRL.ACK, 0, no, now, ackCif({
      ackSeq, rttUs: this.rttUs, rttVarUs: this.rttVarUs, availableBuffer: this.receiver.available(),
      packetsPerSecond: this.rate.pps, linkCapacity: 0, bytesPerSecond: this.rate.bps,
    }));
  }

  private control(type: number, subtype: number, info: number, now: number, cif?: Buffer): void {
    this.out(controlPacket(type, subtype, info, this.timestamp(now), this.params.peerId, cif), now);
  }

  private out(datagram: Buffer, now: number): void {
    this.lastSentMs = now;
    this.params.transmit(datagram);
  }

  private timestamp(now: number): number {
    return Math.round((now - this.params.startMs) * 1000) % 0x100000000;
  }
}
