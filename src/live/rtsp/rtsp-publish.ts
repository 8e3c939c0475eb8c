/**
 * An RTSP publisher (ANNOUNCE → SETUP → RECORD): RTP from the client, interleaved in the RTSP
 * connection or over UDP, becomes hub MediaUnits through each announced track (ingest-tracks.ts),
 * so an RTSP camera is played over every other protocol like an RTMP encoder. Over UDP each
 * track's packets go through a bounded reorder buffer first; sequence gaps, reorderings and
 * malformed packets are counted (strom_rtsp_rtp_packets_total). Tracks are placed on one timeline
 * by their RTCP sender reports when the publisher sends them before its first packets (ffmpeg
 * does), otherwise by arrival (rtp-clock.ts). When the session ends the stream ends, as an RTMP
 * unpublish does.
 */
import type { Logger } from 'pino';
import { isStromError } from '../../errors.js';
import { parseRtcp, RTCP_TYPE } from '../rtp/rtcp.js';
import { ReorderBuffer } from '../rtp/reorder-buffer.js';
import { RtpClock } from '../rtp/rtp-clock.js';
import { parseRtp, type RtpPacket } from '../rtp/rtp-packet.js';
import type { LiveStream, Publisher } from '../stream/stream.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import type { IngestTrack, TrackOutput } from './ingest-tracks.js';
import type { RtspStats } from './rtsp-stats.js';

/** One announced track as the session set it up. */
interface PublishTrack {
  track: IngestTrack | null;
  clock: RtpClock;
  reorder: ReorderBuffer;
}

/** The publishing side of one RTSP session. */
export class RtspPublisher implements Publisher {
  readonly backup: boolean;
  private stream: LiveStream | null = null;
  private readonly tracks: PublishTrack[];
  private readonly started = Date.now();
  /** The sender's NTP time (ms) at which the session timeline starts, from its first sender report. */
  private ntpStart: number | null = null;
  private readonly meta: Record<string, unknown> = {};
  private readonly out: TrackOutput;
  private bytes = 0;

  constructor(
    readonly id: string,
    readonly remote: string,
    readonly streamId: string,
    tracks: ReadonlyArray<IngestTrack | null>,
    /** Tracks whose packets come over UDP get a reorder buffer of this many packets. */
    udp: ReadonlyArray<boolean>,
    backup: boolean,
    reorderPackets: number,
    private readonly registry: StreamRegistry,
    private readonly stats: RtspStats,
    private readonly log: Logger,
    /** Ends the RTSP session (takeover, shutdown, a publisher that cannot start). */
    private readonly end: (reason: string) => void,
  ) {
    this.backup = backup;
    this.tracks = tracks.map((track, i) => ({ track, clock: new RtpClock(track?.clockRate ?? 90000, this.started), reorder: new ReorderBuffer(udp[i] ? reorderPackets : 0) }));
    this.out = {
      unit: (u) => this.stream?.push(u, u.payload.length, this),
      size: (width, height) => {
        if (this.stream !== null && (this.meta.width !== width || this.meta.height !== height)) this.stream.setMeta(Object.assign(this.meta, { width, height }), this);
      },
    };
  }

  /** Attach to the hub (RECORD); throws LIVE_PUBLISHER_ACTIVE when `live.takeover` is reject. */
  start(): void {
    this.stream = this.registry.startPublish(this.streamId, this);
    this.log.info({ tracks: this.tracks.map((t) => t.track?.codec ?? 'unsupported') }, 'rtsp publish started');
  }

  /** Close the publishing session (takeover, shutdown): ends the RTSP session. */
  close(reason: string): void {
    this.end(reason);
  }

  /** The RTSP session ended: detach from the hub. */
  ended(reason: string): void {
    const stream = this.stream;
    this.stream = null;
    for (const t of this.tracks) {
      this.stats.lost += t.reorder.stats.lost;
      this.stats.reordered += t.reorder.stats.reordered;
      this.stats.late += t.reorder.stats.late;
    }
    if (stream !== null) this.registry.stopPublish(stream, this, reason);
    const dropped = this.tracks.reduce((n, t) => n + (t.track?.dropped() ?? 0), 0);
    this.log.info({ reason, bytesIn: this.bytes, framesDropped: dropped, lost: this.tracks.reduce((n, t) => n + t.reorder.stats.lost, 0) }, 'rtsp publish ended');
  }

  /** One RTP or RTCP packet of track `index` (interleaved channel or UDP port). */
  packet(index: number, data: Buffer, rtcp: boolean): void {
    const t = this.tracks[index];
    if (t === undefined || this.stream === null) return;
    if (rtcp) return this.rtcp(t, data);
    let p: RtpPacket;
    try {
      p = parseRtp(data);
    } catch (err) {
      if (!isStromError(err)) throw err;
      this.stats.badPackets++;
      return;
    }
    this.bytes += p.payload.length;
    this.stats.bytesIn += p.payload.length;
    if (t.track === null) return;
    for (const q of t.reorder.push(p)) t.track.push(q, t.clock.toMs(q.timestamp, this.ntpStart), this.out);
  }

  private rtcp(t: PublishTrack, data: Buffer): void {
    let packets;
    try {
      packets = parseRtcp(data);
    } catch (err) {
      if (!isStromError(err)) throw err;
      this.stats.badPackets++;
      return;
    }
    for (const r of packets) {
      if (r.type !== RTCP_TYPE.SR || r.sender === null) continue;
      this.ntpStart ??= r.sender.ntpMs - (Date.now() - this.started);
      t.clock.senderReport(r.sender.ntpMs, r.sender.rtpTimestamp);
    }
  }
}
