/**
 * An SRT publisher: MPEG-TS from the connection goes through the TS demuxer into the live hub as
 * MediaUnits, so an SRT stream is played over every other protocol like an RTMP one. TS problems
 * (continuity errors from packets SRT gave up on, broken PSI) are counted and logged once per
 * kind per stream, never fatal; a demuxer that has held too many bytes drops them (bounded).
 */
import type { Logger } from 'pino';
import { TsDemuxer, type TsWarningCode } from '../formats/ts/ts-demuxer.js';
import type { MediaUnit } from '../stream/media-unit.js';
import { avcConfigSize } from '../rtp/h264-sps.js';
import type { LiveStream, Publisher } from '../stream/stream.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import type { SrtConnection } from './protocol/connection.js';
import type { SrtStats } from './srt-stats.js';

let nextId = 0;

/** One SRT publishing session. */
export class SrtPublishSession implements Publisher {
  readonly id = `srt${(++nextId).toString(36)}`;
  readonly remote: string;
  private readonly demuxer: TsDemuxer;
  private readonly warned = new Set<TsWarningCode>();
  private bytes = 0;
  private readonly stream: LiveStream;

  /** Start publishing `streamId` from `conn`; throws LIVE_PUBLISHER_ACTIVE when `live.takeover` is reject. */
  constructor(
    private readonly conn: SrtConnection,
    streamId: string,
    /** A backup publisher (stream id `backup=1`). */
    readonly backup: boolean,
    private readonly registry: StreamRegistry,
    private readonly stats: SrtStats,
    private readonly log: Logger,
  ) {
    this.remote = conn.params.peer;
    this.stream = registry.startPublish(streamId, this);
    this.demuxer = new TsDemuxer({
      unit: (u) => {
        if (u.config && u.codec === 'avc') this.learnSize(u);
        this.stream.push(u, u.payload.length, this);
      },
      warning: (w) => {
        stats.tsWarnings[w.code] = (stats.tsWarnings[w.code] ?? 0) + 1;
        if (this.warned.has(w.code)) return;
        this.warned.add(w.code);
        this.log.warn({ code: w.code, pid: w.pid }, 'srt publisher: MPEG-TS problem (logged once per kind)');
      },
    });
    conn.onData = (p) => {
      this.bytes += p.length;
      stats.bytesIn += p.length;
      this.demuxer.push(p);
    };
    conn.whenClosed((reason) => this.ended(reason));
  }

  /**
   * MPEG-TS has no onMetaData: take the picture size from the SPS, as WHIP does, so CMAF init
   * segments carry it (Chromium refuses an `avc1` sample entry of 0×0) and the API reports it.
   */
  private learnSize(config: MediaUnit): void {
    const size = avcConfigSize(config.payload);
    if (size !== null) this.stream.setMeta({ ...size }, this);
  }

  /** Close the publishing session (takeover, shutdown). */
  close(reason: string): void {
    this.conn.close(reason);
  }

  private ended(reason: string): void {
    this.demuxer.flush();
    const c = this.demuxer.counters();
    const r = this.conn.receiver.stats;
    this.stats.lost += r.dropped;
    this.stats.recovered += r.recovered;
    this.registry.stopPublish(this.stream, this, reason);
    this.log.info({ reason, bytesIn: this.bytes, units: c.units, ccErrors: c.ccErrors, recovered: r.recovered, dropped: r.dropped, undecryptable: this.conn.undecryptable }, 'srt publish ended');
  }
}
