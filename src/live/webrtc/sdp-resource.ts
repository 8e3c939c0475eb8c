/**
 * What WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) sessions share: the session resource with a
 * strong ETag (§4.3.1), trickle ICE / ICE restart by PATCH with an SDP fragment (RFC 8840,
 * `If-Match` required: 428 without it, 412 on mismatch), termination by DELETE (§4.2), the connect
 * timeout, and the table of open sessions bounded by `webrtc.maxSessions` (503 + Retry-After).
 * Resource URLs carry 128 random bits and act as the capability for PATCH/DELETE (§4.1, as the RFC
 * allows); Bearer auth is checked on the POST that creates the session.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { RTCPeerConnection } from 'werift';
import type { Config } from '../../config.js';
import { fail, failWith } from '../../errors.js';
import type { WebRtcMetrics, WebRtcRole } from './webrtc-metrics.js';

/** One WHIP or WHEP session: a peer connection behind an HTTP resource. */
export abstract class WebRtcSession {
  /** Resource id (the last path segment of `Location`). */
  readonly id = randomBytes(16).toString('base64url');
  /** Strong entity tag of the resource; changes on ICE restart. */
  etag = `"${randomBytes(9).toString('base64url')}"`;
  readonly createdAt = Date.now();
  closed = false;
  connected = false;
  protected readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  /** Settles when werift has released the peer connection's sockets and timers (after `close`). */
  released: Promise<void> = Promise.resolve();

  constructor(
    readonly role: WebRtcRole,
    readonly streamId: string,
    readonly pc: RTCPeerConnection,
    protected readonly cfg: Config['webrtc'],
    protected readonly metrics: WebRtcMetrics,
    log: Logger,
    private readonly onEnded: (s: WebRtcSession) => void,
  ) {
    this.log = log.child({ sessionId: this.id, streamId, role });
  }

  /** Arm the connect timeout and follow the connection state. */
  watch(): void {
    this.arm('ICE/DTLS did not connect');
    this.pc.connectionStateChange.subscribe((state) => {
      if (this.closed) return;
      if (state === 'connected') {
        this.disarm();
        if (!this.connected) {
          this.connected = true;
          const ms = Date.now() - this.createdAt;
          this.metrics.connected(this.role, ms);
          this.log.info({ setupMs: ms }, 'webrtc session connected');
          this.onConnected();
        }
      } else if (state === 'disconnected') this.arm('ICE disconnected and did not recover');
      else if (state === 'failed' || state === 'closed') this.close(`connection ${state}`);
    });
  }

  /** Apply a PATCH body (RFC 8840 SDP fragment): remote candidates; an ICE restart is refused. */
  async patch(frag: string): Promise<void> {
    const lines = frag.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    const ufrag = lines.find((l) => l.startsWith('a=ice-ufrag:'))?.slice(12);
    const current = /a=ice-ufrag:(\S+)/.exec(this.pc.remoteDescription?.sdp ?? '')?.[1];
    if (ufrag !== undefined && current !== undefined && ufrag !== current) throw fail('WEBRTC_ICE_RESTART', this.id);
    let mid: string | undefined;
    for (const l of lines) {
      if (l.startsWith('a=mid:')) mid = l.slice(6);
      else if (l.startsWith('a=candidate:')) {
        try {
          await this.pc.addIceCandidate({ candidate: l.slice(2), sdpMid: mid ?? '0', sdpMLineIndex: mid === undefined ? 0 : undefined });
        } catch (err) {
          throw fail('WEBRTC_BAD_SDP', `candidate ${JSON.stringify(l.slice(0, 120))} rejected: ${(err as Error).message}`);
        }
      } else if (!/^(a=ice-ufrag:|a=ice-pwd:|a=ice-options:|a=group:|a=end-of-candidates|m=)/.test(l)) {
        throw fail('WEBRTC_BAD_SDP', `unexpected line ${JSON.stringify(l.slice(0, 80))} in an SDP fragment`);
      }
    }
  }

  /** End the session (idempotent): media detached, peer connection closed, resource removed. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.disarm();
    try {
      this.onClose(reason);
    } finally {
      this.released = this.pc.close().catch((err: unknown) => this.log.debug({ err }, 'peer connection close failed'));
      this.log.info({ reason, durationMs: Date.now() - this.createdAt }, 'webrtc session closed');
      this.metrics.sessionEnded(this.role);
      this.onEnded(this);
    }
  }

  /** ICE and DTLS are up: media may flow. */
  protected abstract onConnected(): void;
  /** Release what the subclass holds (publisher, fan-out membership). */
  protected abstract onClose(reason: string): void;

  private arm(reason: string): void {
    this.disarm();
    this.timer = setTimeout(() => this.close(`${reason} within ${this.cfg.sessionTimeoutMs} ms`), this.cfg.sessionTimeoutMs);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** Open sessions by resource id, bounded by `webrtc.maxSessions`. */
export class SessionTable {
  readonly sessions = new Map<string, WebRtcSession>();
  /** Admissions in progress (offer received, answer not yet sent): they count against the limit. */
  pending = 0;

  constructor(private readonly maxSessions: number) {}

  /** Reserve a slot or throw WEBRTC_OVERLOADED (503, Retry-After). Pair with `release`. */
  reserve(): void {
    if (this.sessions.size + this.pending >= this.maxSessions) throw failWith('WEBRTC_OVERLOADED', { 'Retry-After': '5' }, this.maxSessions);
    this.pending++;
  }

  /** Give back a reservation (after `add`, or when admission failed). */
  release(): void {
    this.pending--;
  }

  /** Register an admitted session under its resource id. */
  add(s: WebRtcSession): void {
    this.sessions.set(s.id, s);
  }

  /** Peer connections still releasing their sockets (shutdown waits for them, bounded). */
  private readonly releasing = new Set<Promise<void>>();

  /** Forget a session that ended. */
  delete(s: WebRtcSession): void {
    if (this.sessions.get(s.id) === s) this.sessions.delete(s.id);
    const p = s.released;
    this.releasing.add(p);
    void p.finally(() => this.releasing.delete(p));
  }

  /** The session `id` of `role`, or WEBRTC_SESSION_NOT_FOUND. */
  get(role: WebRtcRole, id: string): WebRtcSession {
    const s = this.sessions.get(id);
    if (s === undefined || s.role !== role) throw fail('WEBRTC_SESSION_NOT_FOUND', id);
    return s;
  }

  /** Open sessions per role. */
  counts(): Record<WebRtcRole, number> {
    const c = { whip: 0, whep: 0 };
    for (const s of this.sessions.values()) c[s.role]++;
    return c;
  }

  /**
   * Close every session (shutdown); resolves once werift released their UDP sockets and timers, or
   * after `waitMs` — a peer connection stuck mid-close must not hang the process's shutdown.
   */
  async closeAll(reason: string, waitMs = 3000): Promise<void> {
    for (const s of [...this.sessions.values()]) s.close(reason);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => { timer = setTimeout(resolve, waitMs); });
    await Promise.race([Promise.all([...this.releasing]), bound]);
    clearTimeout(timer);
  }
}

/** Check `If-Match` against the session ETag (RFC 9110 §13.1.1; strong comparison, `*` matches). */
export function checkIfMatch(method: string, header: string | undefined, s: WebRtcSession): void {
  if (header === undefined || header.trim() === '') throw fail('WEBRTC_PRECONDITION_REQUIRED', method);
  const tags = header.split(',').map((t) => t.trim());
  if (!tags.includes('*') && !tags.includes(s.etag)) throw fail('PRECONDITION_FAILED', `If-Match ${header}`);
}

/** The base media type of a Content-Type header, lower-cased. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Basic SDP sanity check before werift sees it (RFC 8866 §5: v= first; at least one audio/video m=),
 * and the media direction the role needs (RFC 9725 §4.2: a WHIP offer sends, a WHEP offer receives).
 */
export function checkOffer(sdp: string, sends: boolean): void {
  if (!/^v=0\r?\n/.test(sdp)) throw fail('WEBRTC_BAD_SDP', 'the offer does not start with v=0');
  const sections = sdp.split(/\r?\n(?=m=)/).slice(1).filter((m) => /^m=(audio|video) /.test(m));
  if (sections.length === 0) throw fail('WEBRTC_BAD_SDP', 'the offer has no audio or video m= section');
  const wrong = sends ? /\na=(recvonly|inactive)\b/ : /\na=(sendonly|inactive)\b/;
  if (sections.every((m) => wrong.test(m))) throw fail('WEBRTC_BAD_SDP', `no m= section ${sends ? 'sends' : 'receives'} media (a ${sends ? 'WHIP' : 'WHEP'} offer must)`);
  if (!/\r?\na=ice-ufrag:/.test(sdp) || !/\r?\na=fingerprint:/.test(sdp)) throw fail('WEBRTC_BAD_SDP', 'the offer lacks ICE credentials or a DTLS fingerprint');
}
