/**
 * LL-HLS muxers on demand (the MediaMTX "muxer created on first request, closed when idle" rule):
 * the first HLS request for a live stream attaches one LlHlsMuxer to it as a reader (protocol
 * 'll-hls'; it starts from the GOP cache, so its first segment begins at once); every request
 * refreshes its `lastAccess`; one re-armed timer per muxer stops it after `llhls.idleTimeoutMs`
 * without requests. A muxer whose stream ended keeps answering (ENDLIST) until it goes idle or the
 * stream is published again. Memory is the muxers' windows (docs/LIVE.md "Low-latency HLS").
 * Live ABR: a source muxer's start/stop also starts/stops the stream's transcode
 * (abr/abr-service.ts), so renditions live exactly as long as the source muxer.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { fail } from '../../errors.js';
import { LlHlsMuxer } from '../formats/hls/ll-hls-muxer.js';
import type { Reader } from '../stream/reader.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import { AbrService } from '../abr/abr-service.js';

interface Entry {
  mux: LlHlsMuxer;
  reader: Reader;
  idle: NodeJS.Timeout;
}

/**
 * Hold a request until `mux` has its first segment — the target duration an HLS playlist states
 * and the start an MPD anchors on both come from it — for at most three target durations; 503
 * LIVE_HLS_NOT_READY after that.
 */
export async function firstSegment(mux: LlHlsMuxer): Promise<void> {
  if (mux.ready || mux.ended) return;
  const holdMs = 3 * mux.targetDurationS * 1000;
  if (!(await mux.waiters.wait(0, undefined, holdMs)) && !mux.ready) throw fail('LIVE_HLS_NOT_READY', 'the first segment', holdMs);
}

/** All LL-HLS muxers of the process. */
export class LlHlsService {
  private readonly muxers = new Map<string, Entry>();
  /** Streams whose muxer stays on without viewers (recording, DVR). */
  private readonly pinned = new Set<string>();

  /** Keep (`on`) or release the muxer of `streamId` from the idle stop (recording, DVR). */
  pin(streamId: string, on: boolean): void {
    if (on) this.pinned.add(streamId);
    else this.pinned.delete(streamId);
  }

  /** Live ABR ladders of the watched streams: transcoded renditions follow the source muxer's lifetime. */
  readonly abr: AbrService;
  /** Segments longer than their playlist's fixed EXT-X-TARGETDURATION, all streams (metric). */
  segmentsOverTarget = 0;

  /** The muxer of rendition `name` (`360p`) of `streamId` (get the source `muxer` first: it runs the ladder); 404 when absent. */
  rendition(streamId: string, name: string): LlHlsMuxer {
    const m = this.abr.rendition(streamId, name);
    if (m === null || (m.ended && !m.ready)) throw fail('LIVE_STREAM_NOT_FOUND', `${streamId}/${name}`); // never an empty playlist
    return m;
  }

  constructor(private readonly registry: StreamRegistry, private readonly config: Config, private readonly log: Logger) {
    this.abr = new AbrService(config, log);
  }

  /** Blocking requests one stream may hold (`llhls.maxHeldRequests`); more → 503. */
  get maxHeldRequests(): number {
    return this.config.llhls.maxHeldRequests;
  }

  /** Muxers currently running (tests, metrics). */
  get size(): number {
    return this.muxers.size;
  }

  /** The muxer of `streamId`, started if needed; LIVE_STREAM_NOT_FOUND when there is nothing to serve. */
  muxer(streamId: string): LlHlsMuxer {
    const stream = this.registry.get(streamId);
    const e = this.muxers.get(streamId);
    if (e && !(e.mux.ended && stream?.active)) {
      e.mux.lastAccess = performance.now();
      return e.mux;
    }
    if (e) this.stop(streamId, 'stream published again');
    if (!stream?.active) throw fail('LIVE_STREAM_NOT_FOUND', streamId);
    // A request between publish and the sequence headers must not create a muxer that expects no track
    // (it would never produce a segment, and live ABR would see no video): 503, the player retries.
    const m = stream.meta;
    // onMetaData announces AVC/HEVC (7/12) or AAC (10), whose sequence header has not arrived yet.
    if ((stream.tracks.video === undefined && stream.tracks.audio === undefined) || (stream.tracks.video === undefined && (m.videocodecid === 7 || m.videocodecid === 12))
      || (stream.tracks.audio === undefined && m.audiocodecid === 10)) throw fail('LIVE_HLS_NOT_READY', "the stream's sequence headers", 0);
    const num = (x: unknown) => (typeof x === 'number' && x > 0 ? Math.round(x) : undefined);
    const { partTargetMs, segmentTargetMs, windowSegments, dvrWindowS, dvrMaxBytes } = this.config.llhls;
    const mux = new LlHlsMuxer({ video: stream.tracks.video !== undefined, audio: stream.tracks.audio !== undefined },
      // Read when each init segment is built: after a switch to a backup encoder it has its own size.
      { partTargetMs, segmentTargetMs, windowSegments, dvrWindowS, dvrMaxBytes }, { get width() { return num(stream.meta.width); }, get height() { return num(stream.meta.height); } });
    const reader = stream.addReader('ll-hls', {
      write(units) {
        for (const u of units) mux.push(u);
        return true; // the muxer never blocks: it keeps a bounded window, not a queue
      },
      close: () => mux.end(),
    }, () => undefined);
    const entry: Entry = { mux, reader, idle: this.armIdle(streamId, this.config.llhls.idleTimeoutMs) };
    this.muxers.set(streamId, entry);
    this.log.info({ streamId }, 'll-hls muxer started');
    // A segment longer than the fixed target duration is logged and counted.
    mux.onOverTarget = (seg, targetS) => {
      this.segmentsOverTarget++;
      this.log.warn({ streamId, msn: seg.msn, durationMs: seg.durationMs, targetS }, 'segment longer than EXT-X-TARGETDURATION (GOP grew); target kept');
    };
    this.abr.muxerStarted(streamId, stream, mux);
    return mux;
  }

  /**
   * The muxer of `streamId` if one runs (its idle clock reset), else null; never starts one. Media
   * requests use this: their URLs carry the run id of the muxer that listed them, so with no muxer
   * running there is nothing they can name.
   */
  running(streamId: string): LlHlsMuxer | null {
    const e = this.muxers.get(streamId);
    if (e === undefined) return null;
    e.mux.lastAccess = performance.now();
    return e.mux;
  }

  /**
   * How long ago (ms) an HLS or DASH request last used the muxer of `streamId` — 0 while blocking
   * requests are held: a player waiting for the next part is watching — or null when none runs.
   * Does not touch it.
   */
  sinceLastAccess(streamId: string): number | null {
    const mux = this.muxers.get(streamId)?.mux;
    if (mux === undefined) return null;
    return mux.waiters.size > 0 ? 0 : performance.now() - mux.lastAccess; // lastAccess is monotonic time
  }

  /** Stop and forget the muxer of `streamId`. */
  stop(streamId: string, reason: string): void {
    const e = this.muxers.get(streamId);
    if (!e) return;
    this.muxers.delete(streamId);
    clearTimeout(e.idle);
    this.abr.muxerStopped(streamId, reason);
    e.reader.close(`ll-hls muxer stopped: ${reason}`);
    e.mux.end();
    this.log.info({ streamId, reason }, 'll-hls muxer stopped');
  }

  /** Stop every muxer (shutdown). */
  close(): void {
    for (const id of [...this.muxers.keys()]) this.stop(id, 'server shutting down');
    this.abr.close(); // no transcode may outlive the muxers
  }

  private armIdle(streamId: string, ms: number): NodeJS.Timeout {
    const t = setTimeout(() => {
      const e = this.muxers.get(streamId);
      if (!e) return;
      const left = e.mux.lastAccess + this.config.llhls.idleTimeoutMs - performance.now(); // monotonic: a wall-clock step does not stop a watched stream
      if (this.pinned.has(streamId)) e.idle = this.armIdle(streamId, this.config.llhls.idleTimeoutMs); // recording
      else if (left > 0 && e.mux.waiters.size === 0) e.idle = this.armIdle(streamId, left);
      else if (e.mux.waiters.size > 0) e.idle = this.armIdle(streamId, this.config.llhls.idleTimeoutMs);
      else this.stop(streamId, 'idle');
    }, ms);
    t.unref();
    return t;
  }
}
