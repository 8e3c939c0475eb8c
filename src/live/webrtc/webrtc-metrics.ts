/**
 * WebRTC metrics: sessions by role, RTP packets/bytes in and out, NACKs (and who answered them),
 * PLIs/FIRs, coalesced keyframe requests, RED audio packets, frames dropped by the depacketizer, and
 * session setup time (offer received → ICE+DTLS connected).
 * Hot-path figures are plain integers bumped per packet and copied into prom-client at scrape time
 * (a labelled `inc()` per packet per viewer would cost more than the packet). The metrics are
 * created unregistered and joined to the process registry by `register` (app.ts owns the registry).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Session roles. */
export type WebRtcRole = 'whip' | 'whep';

/** What happened to one viewer keyframe request (`KeyframeRequests`). */
export type KeyframeOutcome = 'sent' | 'coalesced' | 'unsupported';

/** Keyframe requests per outcome (metric `strom_webrtc_keyframe_requests_total`). */
export type KeyframeCounts = Record<KeyframeOutcome, number>;

/** NACKed packets by who answered (metric `strom_webrtc_nack_packets_total`). */
export interface NackCounts {
  /** Resent by werift from its per-viewer history. */
  history: number;
  /** Resent from the stream's NACK cache. */
  cache: number;
  /** Not resent: out of both, or too old. */
  miss: number;
}

/** Monotonic totals, bumped on the hot path. */
export class WebRtcStats {
  packetsIn = 0;
  bytesIn = 0;
  packetsOut = 0;
  bytesOut = 0;
  nacksReceived = 0;
  plisReceived = 0;
  plisSent = 0;
  firsReceived = 0;
  framesDropped = 0;
  /** WHIP video packets that arrived after later ones, in time to fill their gap (retransmitted or reordered). */
  ingestGapsRepaired = 0;
  /** WHIP video packets given up on after `webrtc.ingestRepairWaitMs`. */
  ingestPacketsLost = 0;
  /** WHIP video packets asked for again by NACK (each retry counts). */
  ingestNackRequests = 0;
  /** Audio packets sent with an RFC 2198 redundant block. */
  redPackets = 0;
  /** DTLS datagrams from a browser that arrived before werift's DTLS server started, held and replayed. */
  earlyDtlsPackets = 0;
  readonly keyframeRequests: KeyframeCounts = { sent: 0, coalesced: 0, unsupported: 0 };
  readonly nackPackets: NackCounts = { history: 0, cache: 0, miss: 0 };
}

/** The WebRTC metrics of one process. */
export class WebRtcMetrics {
  readonly stats = new WebRtcStats();
  private readonly all: Array<Counter<string> | Gauge<string> | Histogram<string>>;
  private readonly setup: Histogram<'role'>;
  private readonly ended: Counter<'role'>;

  constructor(sessions: () => Record<WebRtcRole, number>, gopBytes: () => number, nackCacheBytes: () => number) {
    const st = this.stats;
    const total = (name: string, help: string, labelNames: string[], read: () => Array<[Record<string, string>, number]>) =>
      new Counter({ name, help, labelNames, registers: [], collect() {
        this.reset();
        for (const [labels, v] of read()) this.inc(labels, v);
      } });
    this.all = [
      new Gauge({ name: 'strom_webrtc_sessions', help: 'Open WebRTC sessions by role (whip = ingest, whep = playback)', labelNames: ['role'], registers: [], collect() {
        const s = sessions();
        this.set({ role: 'whip' }, s.whip);
        this.set({ role: 'whep' }, s.whep);
      } }),
      new Gauge({ name: 'strom_webrtc_gop_cache_bytes', help: 'RTP payload bytes kept by WHEP fan-outs for joining viewers (each ≤ live.gopCacheMaxBytes)', registers: [], collect() {
        this.set(gopBytes());
      } }),
      total('strom_webrtc_rtp_packets_total', 'RTP packets received from WHIP publishers (in) and sent to WHEP viewers (out)', ['direction'], () => [[{ direction: 'in' }, st.packetsIn], [{ direction: 'out' }, st.packetsOut]]),
      total('strom_webrtc_rtp_bytes_total', 'RTP payload bytes received (in) and sent (out)', ['direction'], () => [[{ direction: 'in' }, st.bytesIn], [{ direction: 'out' }, st.bytesOut]]),
      total('strom_webrtc_nacks_total', 'Generic NACKs received from WHEP viewers (answered from the sender history)', [], () => [[{}, st.nacksReceived]]),
      total('strom_webrtc_plis_total', 'Picture loss indications received from viewers and sent to WHIP publishers', ['direction'], () => [[{ direction: 'received' }, st.plisReceived], [{ direction: 'sent' }, st.plisSent]]),
      total('strom_webrtc_ingest_gaps_total', 'WHIP video packets missing at first: repaired (a retransmission or late packet arrived within webrtc.ingestRepairWaitMs) or lost', ['result'], () => [[{ result: 'repaired' }, st.ingestGapsRepaired], [{ result: 'lost' }, st.ingestPacketsLost]]),
      total('strom_webrtc_ingest_nack_requests_total', 'WHIP video packets asked for again by Generic NACK, each retry counted (one retry per measured round trip while the repair wait lasts)', [], () => [[{}, st.ingestNackRequests]]),
      new Gauge({ name: 'strom_webrtc_nack_cache_bytes', help: 'RTP payload bytes kept by WHEP fan-outs to answer NACKs (each ≤ webrtc.nackCacheMaxPackets packets)', registers: [], collect() {
        this.set(nackCacheBytes());
      } }),
      total('strom_webrtc_nack_packets_total', 'Packets NACKed by WHEP viewers, by answer: history = resent by werift (128 per viewer), cache = resent from the stream cache, miss = not resent', ['answer'], () => [[{ answer: 'history' }, st.nackPackets.history], [{ answer: 'cache' }, st.nackPackets.cache], [{ answer: 'miss' }, st.nackPackets.miss]]),
      total('strom_webrtc_firs_total', 'Full intra requests (RFC 5104 FIR) received from WHEP viewers', [], () => [[{}, st.firsReceived]]),
      total('strom_webrtc_keyframe_requests_total', 'Viewer keyframe needs (PLI, FIR, join) by outcome: sent upstream, coalesced with one in flight, unsupported (the publisher cannot be asked)', ['outcome'], () => [[{ outcome: 'sent' }, st.keyframeRequests.sent], [{ outcome: 'coalesced' }, st.keyframeRequests.coalesced], [{ outcome: 'unsupported' }, st.keyframeRequests.unsupported]]),
      total('strom_webrtc_red_packets_total', 'Opus packets sent to WHEP viewers with one RFC 2198 redundant block', [], () => [[{}, st.redPackets]]),
      total('strom_webrtc_early_dtls_packets_total', 'DTLS datagrams (a browser ClientHello) that arrived before the DTLS server started, held and replayed instead of waiting for the retransmission', [], () => [[{}, st.earlyDtlsPackets]]),
      total('strom_webrtc_frames_dropped_total', 'Incoming video frames dropped because an RTP packet was lost', [], () => [[{}, st.framesDropped]]),
    ];
    this.setup = new Histogram({ name: 'strom_webrtc_setup_seconds', help: 'Offer received → ICE and DTLS connected', labelNames: ['role'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10], registers: [] });
    this.ended = new Counter({ name: 'strom_webrtc_sessions_total', help: 'WebRTC sessions ended, by role', labelNames: ['role'], registers: [] });
    this.all.push(this.setup, this.ended);
  }

  /** Join the process registry (once). */
  register(registry: Registry): void {
    for (const m of this.all) registry.registerMetric(m);
  }

  /** A session connected `ms` after its offer arrived. */
  connected(role: WebRtcRole, ms: number): void {
    this.setup.observe({ role }, ms / 1000);
  }

  /** A session ended. */
  sessionEnded(role: WebRtcRole): void {
    this.ended.inc({ role });
  }
}
