/**
 * One viewer's bounded queue between a live stream and an output (the MediaMTX
 * `internal/stream/reader.go` idea). The stream pushes shared MediaUnits in; once per event-loop
 * tick the stream flushes every reader, handing its whole queue to the sink as one batch (one
 * corked write). While the sink is backed up (`write` returned false, waiting for `resume`) units
 * queue here, bounded by bytes AND count. On overflow the queue's media is dropped (counted), the
 * reader skips to the next keyframe, and if it is still behind `graceMs` after the first skip it is
 * disconnected (LIVE_READER_TOO_SLOW). Units are shared Buffers, so a reader's own memory is the
 * queue array plus what its bounds let it pin: ≤ maxBytes of media (docs/LIVE.md "memory").
 */
import { fail } from '../../errors.js';
import { unitBytes, type MediaUnit } from './media-unit.js';

/** Where a reader's units go: an HTTP-FLV response, a WebSocket, an RTMP player session. */
export interface ReaderSink {
  /** Write a batch; return false when the transport is backed up (then call `Reader.resume`). */
  write(units: readonly MediaUnit[]): boolean;
  /** Close the transport; `reason` is logged and reported in `viewer.leave`. */
  close(reason: string): void;
}

/** Queue bounds of one reader. */
export interface ReaderLimits {
  maxBytes: number;
  maxUnits: number;
  graceMs: number;
}

/** Output protocol of a reader (status counts viewers per protocol). */
export type ViewerProtocol = 'http-flv' | 'ws-flv' | 'rtmp' | /* one CMAF/LL-HLS muxer per watched stream */ 'll-hls' | /* one RTP packetizer per watched stream */ 'whep'
  | /* SRT readers (MPEG-TS) */ 'srt' | /* RTSP readers (RTP over TCP or UDP) */ 'rtsp' | /* restream outputs: not viewers, pushed to another server */ 'restream'
  | /* another node of the cluster pulling the stream (internal relay): counted apart from viewers */ 'relay';

/** Whether readers of this protocol are viewers (another node's relay and restream outputs are not). */
export function countsAsViewer(p: ViewerProtocol): boolean {
  return p !== 'relay' && p !== 'restream';
}

let nextReaderId = 0;

/** A bounded, keyframe-aware queue in front of one sink. */
export class Reader {
  /** Process-unique id (events, logs). */
  readonly id = `v${(++nextReaderId).toString(36)}`;
  /** Units dropped because this reader was too slow. */
  drops = 0;
  /** Times this reader skipped to a keyframe. */
  skips = 0;
  /** Units handed to the sink. */
  delivered = 0;
  readonly joinedAt = Date.now();
  /** End viewers this reader serves (a shared WHEP packetizer serves many); status counts this. */
  viewerCount: () => number = () => 1;
  closed = false;
  private queue: MediaUnit[] = [];
  private queuedBytes = 0;
  private blocked = false;
  private waitKey = true;
  private behindSince = 0;

  constructor(
    readonly protocol: ViewerProtocol,
    private readonly sink: ReaderSink,
    private readonly limits: ReaderLimits,
    private readonly hasVideo: () => boolean,
    private readonly onClose: (r: Reader, reason: string) => void,
  ) {}

  /** True when the reader has queued units and its sink is writable. */
  get ready(): boolean {
    return !this.blocked && !this.closed && this.queue.length > 0;
  }

  /** Enqueue the join burst (configs + GOP cache) without bounds: it is bounded by the GOP cache. */
  pushInitial(units: readonly MediaUnit[]): void {
    for (const u of units) {
      if (this.waitKey && !u.config && u.kind !== 'data') {
        if (!this.isKey(u)) continue;
        this.waitKey = false;
      }
      this.queue.push(u);
      this.queuedBytes += unitBytes(u);
    }
  }

  /** Skip to the next keyframe (publisher takeover: the new publisher's GOP starts fresh). */
  resync(): void {
    this.waitKey = true;
  }

  /** Enqueue one live unit; returns true if the reader has something to flush. */
  push(u: MediaUnit): boolean {
    if (this.closed) return false;
    const always = u.config || u.kind === 'data';
    if (this.waitKey && !always) {
      if (!this.isKey(u)) {
        this.drops++;
        return false;
      }
      this.waitKey = false;
    }
    const size = unitBytes(u);
    // Only a blocked reader can fall behind: an unblocked queue is flushed whole at the end of this tick.
    if (!always && this.blocked && (this.queue.length >= this.limits.maxUnits || this.queuedBytes + size > this.limits.maxBytes)) {
      const now = Date.now();
      if (this.behindSince !== 0 && now - this.behindSince >= this.limits.graceMs) {
        this.close(fail('LIVE_READER_TOO_SLOW', now - this.behindSince).message);
        return false;
      }
      this.behindSince ||= now;
      this.skips++;
      const kept = this.queue.filter((q) => q.config || q.kind === 'data');
      this.drops += this.queue.length - kept.length;
      this.queue = kept;
      this.queuedBytes = kept.reduce((n, q) => n + unitBytes(q), 0);
      this.waitKey = true;
      return this.push(u);
    }
    this.queue.push(u);
    this.queuedBytes += size;
    return !this.blocked;
  }

  /** Hand the queue to the sink as one batch (called by the stream once per tick). */
  flush(): void {
    if (!this.ready) return;
    const batch = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    this.delivered += batch.length;
    if (!this.sink.write(batch)) this.blocked = true;
    else if (this.behindSince !== 0) this.behindSince = 0; // caught up
  }

  /** The sink drained: write what queued meanwhile. */
  resume(): void {
    this.blocked = false;
    if (this.queue.length > 0) this.flush();
    else this.behindSince = 0;
  }

  /** Disconnect this reader (idempotent). */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.onClose(this, reason);
    this.sink.close(reason);
  }

  private isKey(u: MediaUnit): boolean {
    return u.kind === 'video' ? u.keyframe : !this.hasVideo();
  }
}
