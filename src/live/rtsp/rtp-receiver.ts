/**
 * The receiving side of RTP tracks, shared by an RTSP publisher (ANNOUNCE/RECORD, rtsp-publish.ts)
 * and Strom's RTSP client pulling from a camera (DESCRIBE/PLAY): packets of each track, from an
 * interleaved channel or a UDP port, are parsed (RFC 3550 §5.1), put back in order over UDP
 * (reorder-buffer.ts), placed on one timeline (rtp-clock.ts; sender reports, §6.4.1, line the
 * tracks up when they come first) and turned into hub MediaUnits by the track (ingest-tracks.ts).
 * A new SSRC on a track (§8.2: the sender restarted) starts its sequence and clock over. What is
 * needed for receiver reports (§6.4.2: extended highest sequence, losses, the last SR) is kept.
 */
import { isStromError } from '../../errors.js';
import { parseRtcp, RTCP_TYPE, type ReceptionReport } from '../rtp/rtcp.js';
import { ReorderBuffer, type SequenceStats } from '../rtp/reorder-buffer.js';
import { RtpClock } from '../rtp/rtp-clock.js';
import { parseRtp } from '../rtp/rtp-packet.js';
import type { IngestTrack, TrackOutput } from './ingest-tracks.js';

/** Counters a receiver adds to (the RTSP server's stats, or a pull connection's own). */
export interface RtpCounters {
  bytesIn: number;
  badPackets: number;
}

interface ReceiveTrack {
  track: IngestTrack | null;
  udp: boolean;
  clock: RtpClock;
  reorder: ReorderBuffer;
  ssrc: number;
  /** Sequence numbers seen: cycles and the highest (§A.1), and the counters at the last report. */
  cycles: number;
  maxSeq: number;
  received: number;
  prior: { expected: number; received: number };
  /** Sequence stats of the SSRCs this track had before. */
  past: SequenceStats;
  lastSr: ReceptionReport['lastSr'];
}

/** RTP tracks → MediaUnits. */
export class RtpReceiver {
  /** RTP payload bytes received. */
  bytes = 0;
  /** When the last RTP packet arrived (0: none yet). */
  lastPacketAt = 0;
  private readonly tracks: ReceiveTrack[];
  /** The sender's NTP time (ms) at which the session timeline starts, from its first sender report. */
  private ntpStart: number | null = null;

  constructor(
    tracks: ReadonlyArray<IngestTrack | null>,
    /** Tracks whose packets come over UDP get a reorder buffer of `reorderPackets` packets. */
    udp: ReadonlyArray<boolean>,
    private readonly reorderPackets: number,
    private readonly counters: RtpCounters,
    private readonly out: TrackOutput,
    private readonly started = Date.now(),
  ) {
    this.tracks = tracks.map((track, i) => ({
      track, udp: udp[i] === true, clock: new RtpClock(track?.clockRate ?? 90000, started), reorder: new ReorderBuffer(udp[i] ? reorderPackets : 0), ssrc: -1,
      cycles: 0, maxSeq: -1, received: 0, prior: { expected: 0, received: 0 }, past: { lost: 0, reordered: 0, late: 0 }, lastSr: null,
    }));
  }

  /** One RTP or RTCP packet of track `index`. */
  packet(index: number, data: Buffer, rtcp: boolean): void {
    const t = this.tracks[index];
    if (t === undefined) return;
    if (rtcp) return this.rtcp(t, data);
    const p = this.parse(parseRtp, data);
    if (p === null) return;
    this.bytes += p.payload.length;
    this.counters.bytesIn += p.payload.length;
    this.lastPacketAt = Date.now();
    if (p.ssrc !== t.ssrc) this.newSource(t, p.ssrc);
    this.count(t, p.sequenceNumber);
    if (t.track === null) return;
    for (const q of t.reorder.push(p)) t.track.push(q, t.clock.toMs(q.timestamp, this.ntpStart), this.out);
  }

  /** Sequence gaps, reorderings and late packets of every track. */
  sequenceStats(): SequenceStats {
    const s: SequenceStats = { lost: 0, reordered: 0, late: 0 };
    for (const t of this.tracks) for (const k of ['lost', 'reordered', 'late'] as const) s[k] += t.past[k] + t.reorder.stats[k];
    return s;
  }

  /** Frames dropped by the tracks as lost or malformed. */
  dropped(): number {
    return this.tracks.reduce((n, t) => n + (t.track?.dropped() ?? 0), 0);
  }

  /** Frames dropped for growing past their track's frame size limit. */
  oversized(): number {
    return this.tracks.reduce((n, t) => n + (t.track?.oversized?.() ?? 0), 0);
  }

  /** The SSRC track `index` receives now, or null before its first packet. */
  ssrc(index: number): number | null {
    const s = this.tracks[index]?.ssrc ?? -1;
    return s < 0 ? null : s;
  }

  /** A reception report block about track `index` (§6.4.1, §A.3), or null before its first packet; starts the next interval. */
  report(index: number): ReceptionReport | null {
    const t = this.tracks[index];
    if (t === undefined || t.ssrc < 0) return null;
    const highestSeq = t.cycles * 65536 + t.maxSeq;
    const expected = highestSeq - t.prior.expected;
    const got = t.received - t.prior.received;
    t.prior = { expected: highestSeq, received: t.received };
    const lostInterval = expected - got;
    return { ssrc: t.ssrc, lost: Math.max(0, t.past.lost + t.reorder.stats.lost), fractionLost: expected > 0 && lostInterval > 0 ? Math.floor((lostInterval * 256) / expected) : 0, highestSeq, lastSr: t.lastSr };
  }

  /** `parse(data)`, or null for a malformed packet (counted). */
  private parse<T>(parse: (b: Buffer) => T, data: Buffer): T | null {
    try {
      return parse(data);
    } catch (err) {
      if (!isStromError(err)) throw err;
      this.counters.badPackets++;
      return null;
    }
  }

  private newSource(t: ReceiveTrack, ssrc: number): void {
    if (t.ssrc >= 0) {
      for (const k of ['lost', 'reordered', 'late'] as const) t.past[k] += t.reorder.stats[k];
      t.reorder = new ReorderBuffer(t.udp ? this.reorderPackets : 0);
      t.clock.restart();
      t.track?.restart?.();
    }
    t.ssrc = ssrc;
    t.maxSeq = -1;
    t.cycles = 0;
    t.prior = { expected: 0, received: t.received };
  }

  private count(t: ReceiveTrack, seq: number): void {
    t.received++;
    if (t.maxSeq < 0) {
      t.maxSeq = seq;
      t.prior.expected = seq - 1;
      return;
    }
    const d = (seq - t.maxSeq) & 0xffff;
    if (d === 0 || d >= 0x8000) return; // duplicate or older
    if (seq < t.maxSeq) t.cycles++;
    t.maxSeq = seq;
  }

  private rtcp(t: ReceiveTrack, data: Buffer): void {
    for (const r of this.parse(parseRtcp, data) ?? []) {
      if (r.type !== RTCP_TYPE.SR || r.sender === null) continue;
      this.ntpStart ??= r.sender.ntpMs - (Date.now() - this.started);
      t.clock.senderReport(r.sender.ntpMs, r.sender.rtpTimestamp);
      t.lastSr = { ntpMs: r.sender.ntpMs, receivedAt: Date.now() };
    }
  }
}
