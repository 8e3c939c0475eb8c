/**
 * Live ABR of the process (docs/LIVE.md "Live ABR"): decides which streams get a
 * transcoded ladder and owns their ffmpeg children. Default is passthrough; a stream is
 * transcoded when it asks for it (`live_streams.abr`, set by live-wiring on publish) or
 * `live.abrAll` is set, AND its LL-HLS source muxer runs (watched over HLS/DASH, or pinned by
 * DVR/recording): the LlHlsService calls `muxerStarted`/`muxerStopped`, so a child never outlives
 * the muxers it feeds. At most `live.abrMaxStreams` children run; over it the stream stays
 * passthrough with a warning and `refused` counts it. Only H.264 sources are transcoded (the
 * child reads FLV, and ffmpeg 5's FLV demuxer has no Enhanced-RTMP codecs); other sources stay
 * passthrough. Renditions are internal: they are served under /live/<id>/<rung>/…, never listed as
 * streams of their own.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { LlHlsMuxer } from '../formats/hls/ll-hls-muxer.js';
import type { LiveStream } from '../stream/stream.js';
import { parseLadder, rungsFor } from './abr-ladder.js';
import { AbrTranscoder, type AbrRendition } from './abr-transcoder.js';

/** Running live transcodes and their outcomes. */
export class AbrService {
  /** Transcodes restarted after a crash (metric). */
  restarts = 0;
  /** Streams left passthrough because `live.abrMaxStreams` were running (metric). */
  refused = 0;
  private readonly heights: number[];
  private readonly wanted = new Set<string>();
  private readonly muxers = new Map<string, { stream: LiveStream; mux: LlHlsMuxer }>();
  private readonly transcoders = new Map<string, AbrTranscoder>();

  constructor(private readonly config: Config, private readonly log: Logger, private readonly ffmpeg = 'ffmpeg') {
    this.heights = parseLadder(config.live.abrLadder);
  }

  /** Live transcodes running now (metric, tests). */
  get running(): number {
    let n = 0;
    for (const t of this.transcoders.values()) if (t.running) n++;
    return n;
  }

  /** The transcode of `streamId` (tests: its pid), if any. */
  transcoder(streamId: string): AbrTranscoder | undefined {
    return this.transcoders.get(streamId);
  }

  /** The stream's own ABR flag (`live_streams.abr`); starts the ladder if its muxer already runs. */
  setWanted(streamId: string, on: boolean): void {
    if (on) this.wanted.add(streamId);
    else this.wanted.delete(streamId);
    const m = this.muxers.get(streamId);
    if (m && on) this.maybeStart(streamId, m.stream, m.mux);
  }

  /** The source muxer of `streamId` started (LlHlsService). */
  muxerStarted(streamId: string, stream: LiveStream, mux: LlHlsMuxer): void {
    this.muxers.set(streamId, { stream, mux });
    this.maybeStart(streamId, stream, mux);
  }

  /** The source muxer stopped (idle, published again, shutdown): kill the child. */
  muxerStopped(streamId: string, reason: string): void {
    this.muxers.delete(streamId);
    const t = this.transcoders.get(streamId);
    if (!t) return;
    this.transcoders.delete(streamId);
    t.stop(reason);
  }

  /** Renditions of `streamId` that currently have a servable muxer (master playlist, MPD). */
  renditions(streamId: string): AbrRendition[] {
    return (this.transcoders.get(streamId)?.renditions ?? []).filter((r) => r.mux !== null && r.mux.ready);
  }

  /** The muxer of rendition `name` of `streamId` (null: no such rendition or it is down). */
  rendition(streamId: string, name: string): LlHlsMuxer | null {
    return this.transcoders.get(streamId)?.renditions.find((r) => r.rung.name === name)?.mux ?? null;
  }

  /** Stop every transcode (shutdown). */
  close(): void {
    for (const id of [...this.transcoders.keys()]) this.muxerStopped(id, 'server shutting down');
  }

  private maybeStart(streamId: string, stream: LiveStream, mux: LlHlsMuxer): void {
    if (this.transcoders.has(streamId) || !(this.config.live.abrAll || this.wanted.has(streamId))) return;
    const log = this.log.child({ streamId });
    const v = stream.tracks.video;
    if (v?.codec !== 'avc') {
      log.info({ codec: v?.codecString ?? null }, 'live ABR needs an H.264 source; stream stays passthrough');
      return;
    }
    const num = (x: unknown) => (typeof x === 'number' && x > 0 ? Math.round(x) : undefined);
    const rungs = rungsFor(this.heights, { width: num(stream.meta.width), height: num(stream.meta.height) });
    if (rungs.length === 0) {
      log.info({ height: stream.meta.height }, 'no live ABR rung below the source height; stream stays passthrough');
      return;
    }
    if (this.transcoders.size >= this.config.live.abrMaxStreams) {
      this.refused++;
      log.warn({ running: this.transcoders.size, max: this.config.live.abrMaxStreams }, 'live.abrMaxStreams transcodes running; stream stays passthrough');
      return;
    }
    const t = new AbrTranscoder(stream, mux, rungs, { preset: this.config.live.abrPreset, ffmpeg: this.ffmpeg, onRestart: () => this.restarts++ }, log.child({ component: 'live-abr' }));
    this.transcoders.set(streamId, t);
    t.start();
  }
}
