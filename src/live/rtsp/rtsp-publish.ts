/**
 * An RTSP publisher (ANNOUNCE → SETUP → RECORD): RTP from the client, interleaved in the RTSP
 * connection or over UDP, becomes hub MediaUnits through each announced track (ingest-tracks.ts),
 * so an RTSP camera is played over every other protocol like an RTMP encoder. Over UDP each
 * track's packets go through a bounded reorder buffer first; sequence gaps, reorderings and
 * malformed packets are counted (strom_rtsp_rtp_packets_total); rtp-receiver.ts does the receiving. Tracks are placed on one timeline
 * by their RTCP sender reports when the publisher sends them before its first packets (ffmpeg
 * does), otherwise by arrival (rtp-clock.ts). When the session ends the stream ends, as an RTMP
 * unpublish does.
 */
import type { Logger } from 'pino';
import type { LiveStream, Publisher } from '../stream/stream.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import type { IngestTrack } from './ingest-tracks.js';
import { RtpReceiver } from './rtp-receiver.js';
import type { RtspStats } from './rtsp-stats.js';

/** The publishing side of one RTSP session. */
export class RtspPublisher implements Publisher {
  readonly backup: boolean;
  private stream: LiveStream | null = null;
  private readonly tracks: ReadonlyArray<IngestTrack | null>;
  private readonly receiver: RtpReceiver;
  private readonly meta: Record<string, unknown> = {};

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
    this.tracks = tracks;
    this.receiver = new RtpReceiver(tracks, udp, reorderPackets, stats, {
      unit: (u) => this.stream?.push(u, u.payload.length, this),
      size: (width, height) => {
        if (this.stream !== null && (this.meta.width !== width || this.meta.height !== height)) this.stream.setMeta(Object.assign(this.meta, { width, height }), this);
      },
    });
  }

  /** Attach to the hub (RECORD); throws LIVE_PUBLISHER_ACTIVE when `live.takeover` is reject. */
  start(): void {
    this.stream = this.registry.startPublish(this.streamId, this);
    this.log.info({ tracks: this.tracks.map((t) => t?.codec ?? 'unsupported') }, 'rtsp publish started');
  }

  /** Close the publishing session (takeover, shutdown): ends the RTSP session. */
  close(reason: string): void {
    this.end(reason);
  }

  /** The RTSP session ended: detach from the hub. */
  ended(reason: string): void {
    const stream = this.stream;
    this.stream = null;
    const seq = this.receiver.sequenceStats();
    this.stats.lost += seq.lost;
    this.stats.reordered += seq.reordered;
    this.stats.late += seq.late;
    if (stream !== null) this.registry.stopPublish(stream, this, reason);
    this.log.info({ reason, bytesIn: this.receiver.bytes, framesDropped: this.receiver.dropped(), lost: seq.lost }, 'rtsp publish ended');
  }

  /** One RTP or RTCP packet of track `index` (interleaved channel or UDP port). */
  packet(index: number, data: Buffer, rtcp: boolean): void {
    if (this.stream !== null) this.receiver.packet(index, data, rtcp);
  }
}
