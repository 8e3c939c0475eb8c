/**
 * An RTSP reader (DESCRIBE → SETUP → PLAY): a hub reader whose units go out as RTP, interleaved
 * in the RTSP connection or over UDP. Payloads are shared between readers (play-tracks.ts); each
 * reader owns its SSRCs, sequence numbers and timestamp offsets (random, RFC 3550 §5.1) and
 * announces the first two in PLAY's RTP-Info. The reader joins at the stream's cached GOP,
 * keyframe first, like every other protocol, and its queue has the hub's bounds: over TCP a
 * full socket buffer holds units in the reader's queue (skip to the next keyframe, then
 * disconnect when still too slow); over UDP there is no back-pressure, so a slow path loses
 * packets, not memory. A sender report per track goes out with the first packets and every
 * SR_INTERVAL_MS after (RFC 3550 §6.4.1), mapping each track's RTP time to one wall clock so
 * players keep audio and video in sync.
 */
import { randomInt } from 'node:crypto';
import { senderReport } from '../rtp/rtcp.js';
import { RTP_HEADER_BYTES, writeRtpHeader } from '../rtp/rtp-packet.js';
import type { MediaUnit } from '../stream/media-unit.js';
import type { Reader } from '../stream/reader.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import type { PlayTrack } from './play-tracks.js';
import type { RtspStats } from './rtsp-stats.js';

/** RFC 3550 §6.2 suggests 5 s between reports; a new reader gets its first with its first packets. */
const SR_INTERVAL_MS = 5_000;

/** Where one track's packets go. */
export interface PlayOutput {
  /** Send RTP (`rtcp` false) or RTCP; parts are concatenated on the wire. Returns false when the transport is backed up. */
  send(rtcp: boolean, parts: Buffer[]): boolean;
  /** Hold this batch's sends in the socket (TCP): one write for the batch. */
  cork?(): void;
  uncork?(): void;
}

/** Per-track sending state. */
interface TrackState {
  track: PlayTrack;
  out: PlayOutput;
  ssrc: number;
  seq: number;
  tsOffset: number;
  packets: number;
  octets: number;
  lastSr: number;
}

/** The reading side of one RTSP session. */
export class RtspPlayer {
  private readonly states: TrackState[];
  /** The tracks' outputs, corked around each batch (nested corks on one connection are counted by Node). */
  private readonly outs: PlayOutput[];
  private reader: Reader | null = null;
  /** Stream time (ms) that RTP time `tsOffset` stands for: the joining keyframe's. */
  private readonly baseMs: number;
  /** Latest unit time sent and when: maps wall-clock time to stream time for sender reports. */
  private lastMs = 0;
  private lastWall = 0;
  private bytes = 0;

  constructor(
    readonly streamId: string,
    /** The set-up tracks, each with its transport and the SSRC its SETUP answer announced. */
    tracks: ReadonlyArray<{ track: PlayTrack; out: PlayOutput; ssrc: number }>,
    private readonly registry: StreamRegistry,
    private readonly stats: RtspStats,
    private readonly cname: string,
  ) {
    this.outs = [...new Set(tracks.map((t) => t.out))];
    this.states = tracks.map(({ track, out, ssrc }) => ({ track, out, ssrc, seq: randomInt(0, 0x10000), tsOffset: randomInt(0, 2 ** 31), packets: 0, octets: 0, lastSr: 0 }));
    const stream = registry.get(streamId);
    this.baseMs = stream?.latestKeyframe()?.unit.dts ?? 0;
  }

  /** The RTP-Info header of PLAY (RFC 2326 §12.33): per track its URL, first sequence number and RTP time. */
  rtpInfo(baseUrl: string): string {
    return this.states.map((s) => `url=${baseUrl}${s.track.sdp.control};seq=${s.seq};rtptime=${s.tsOffset >>> 0}`).join(',');
  }

  /** Attach to the stream (throws LIVE_STREAM_NOT_FOUND when it is no longer live). */
  start(close: (reason: string) => void, drained: (resume: () => void) => void): void {
    const reader = this.registry.addReader(this.streamId, 'rtsp', {
      write: (units) => this.write(units),
      close: (reason) => {
        if (this.reader !== reader) return; // stopped by the session itself (PAUSE, TEARDOWN)
        this.detach();
        close(reason); // the stream ended or the reader was too slow: end the RTSP session
      },
    });
    this.reader = reader;
    this.stats.readers++;
    drained(() => reader.resume());
  }

  /** Detach from the stream (PAUSE, TEARDOWN, connection closed). */
  stop(reason: string): void {
    const reader = this.reader;
    if (reader === null) return;
    this.detach();
    reader.close(reason);
  }

  private detach(): void {
    this.reader = null;
    this.stats.readers--;
  }

  /** Whether a hub reader is attached. */
  get playing(): boolean {
    return this.reader !== null && !this.reader.closed;
  }

  private write(units: readonly MediaUnit[]): boolean {
    for (const o of this.outs) o.cork?.();
    try {
      return this.send(units);
    } finally {
      for (const o of this.outs) o.uncork?.();
    }
  }

  private send(units: readonly MediaUnit[]): boolean {
    let ok = true;
    const now = Date.now();
    for (const u of units) {
      if (u.config || u.kind === 'data') continue;
      const s = this.states.find((x) => x.track.kind === u.kind);
      if (s === undefined) continue;
      const ts = (s.tsOffset + Math.round(((u.pts - this.baseMs) * s.track.clockRate) / 1000)) >>> 0;
      this.lastMs = u.dts;
      this.lastWall = now;
      for (const p of s.track.payloads(u)) {
        const header = Buffer.allocUnsafe(RTP_HEADER_BYTES);
        writeRtpHeader(header, 0, { payloadType: s.track.sdp.payloadType, marker: p.marker, sequenceNumber: s.seq, timestamp: ts, ssrc: s.ssrc });
        s.seq = (s.seq + 1) & 0xffff;
        s.packets++;
        s.octets += p.payload.length;
        this.bytes += p.payload.length;
        this.stats.bytesOut += p.payload.length;
        ok = s.out.send(false, [header, p.payload]) && ok;
      }
      if (now - s.lastSr >= SR_INTERVAL_MS) this.report(s, now);
    }
    return ok;
  }

  /** A sender report for `s`: its RTP time now, extrapolated from the latest unit sent. */
  private report(s: TrackState, now: number): void {
    s.lastSr = now;
    const streamNow = this.lastMs + (now - this.lastWall);
    const rtpNow = (s.tsOffset + Math.round(((streamNow - this.baseMs) * s.track.clockRate) / 1000)) >>> 0;
    s.out.send(true, [senderReport({ ssrc: s.ssrc, ntpMs: now, rtpTimestamp: rtpNow, packets: s.packets, octets: s.octets, cname: this.cname })]);
  }

  /** Payload bytes sent (logs). */
  get bytesOut(): number {
    return this.bytes;
  }
}
