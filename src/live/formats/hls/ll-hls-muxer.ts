/**
 * The LL-HLS state of one live stream: a LiveSegmenter fed by the stream (as a reader), a sliding
 * window of segments and their parts, and the requests waiting for the next part.
 *
 * Memory is bounded by the window: the last `windowSegments` complete segments plus the one in
 * progress. A segment's bytes ARE its parts' Buffers (concatenated lazily, once, when the segment
 * itself is requested), so parts stay addressable for the whole window (≥ 3 target durations,
 * §6.2.2) at no extra cost. Everything a waiting request needs is woken from `onPart`, i.e. the
 * moment the muxer produced it (draft-pantos-hls-rfc8216bis-16 §6.2.5.2, "as soon as").
 * PROGRAM-DATE-TIME maps dts to wall clock with the smallest (arrival − dts) seen, so units
 * replayed from the GOP cache do not make the first segments look older than they are.
 * EXT-X-TARGETDURATION is fixed when the first segment completes (§4.4.3.1: it MUST NOT change):
 * ⌈max(segmentTargetMs, first segment)⌉ s. The headroom is the rounding rule itself (a segment is
 * within the target while its EXTINF *rounds* to ≤ target, i.e. < target + 0.5 s); a later, longer
 * segment (GOP raised by the encoder) is counted in `overTarget` and logged by the service, never
 * raises the target. A rendition muxer (live ABR) follows a leader: the leader's part boundaries,
 * numbers, target duration and wall clock, so all renditions line up.
 */
import type { MediaUnit } from '../../stream/media-unit.js';
import { LiveSegmenter, type CmafPart, type PartBoundary } from '../cmaf/live-segmenter.js';
import { BlockingWaiters, type LivePosition } from './ll-hls-blocking.js';
import { newRunId } from './live-media-names.js';

/** Muxer settings (from `llhls.*`). */
export interface LlHlsOptions {
  partTargetMs: number;
  segmentTargetMs: number;
  windowSegments: number;
  // DVR: older complete segments kept (without listing their parts).
  /** Media seconds of complete segments kept and listed beyond the LL window (0 = off). */
  dvrWindowS?: number;
  /** Bytes the DVR segments may hold. */
  dvrMaxBytes?: number;
}

/** One segment of the window. */
export interface LiveSegment {
  msn: number;
  parts: CmafPart[];
  complete: boolean;
  startMs: number;
  durationMs: number;
  pdtMs: number;
  /** Init segment version its parts need (0 = init.mp4). */
  initVersion: number;
  /** First segment after a configuration change (EXT-X-DISCONTINUITY). */
  discontinuity: boolean;
  bytes?: Buffer;
}

/** LL-HLS muxer of one stream. */
export class LlHlsMuxer {
  /**
   * This muxer's run id, in the name of every media object it produces (live-media-names.ts):
   * its numbers start at 0 like every other muxer's, its URLs must not name other bytes.
   */
  readonly run = newRunId();
  readonly segments: LiveSegment[] = [];
  readonly waiters = new BlockingWaiters();
  ended = false;
  /** Longest complete segment so far, ms. */
  maxSegmentMs = 0;
  /** Complete segments whose duration rounds above the fixed target duration (a warning each). */
  overTarget = 0;
  /** Called once per segment longer than the fixed target duration. */
  onOverTarget: ((s: LiveSegment, targetS: number) => void) | null = null;
  private fixedTargetS = 0;
  /** Bytes/s of the largest segment (master playlist BANDWIDTH). */
  peakBitrate = 0;
  /** When an HLS request last asked for this stream, on the monotonic clock (performance.now). */
  lastAccess = performance.now();
  /** Discontinuities that slid out of the window (EXT-X-DISCONTINUITY-SEQUENCE). */
  discontinuitySequence = 0;
  private readonly segmenter: LiveSegmenter;
  private readonly parts = new Map<number, CmafPart>();
  private readonly inits = new Map<number, Buffer>();
  private readonly partWaiters = new Map<number, Array<(p: CmafPart | null) => void>>();
  private nextSeq = 0;
  private rendered = new Map<string, Buffer>();
  private wallOffset = Number.POSITIVE_INFINITY;
  /** Listeners called with every completed, non-empty segment and its init (the recorder writes them to disk). */
  readonly segmentListeners = new Set<(s: LiveSegment, init: Buffer | null) => void>();

  constructor(expect: { video: boolean; audio: boolean }, readonly opts: LlHlsOptions, dims: { width?: number; height?: number } = {}, readonly leader?: LlHlsMuxer) {
    const follow = leader ? (dts: number): PartBoundary | undefined => leader.segmenter.boundaries.get(dts) : undefined;
    this.segmenter = new LiveSegmenter(expect, opts, (p) => this.onPart(p), dims, follow);
  }

  /** Dts → wall-clock offset (a follower uses its leader's, so PROGRAM-DATE-TIME matches across renditions). */
  private get wall(): number {
    return this.leader ? this.leader.wallOffset : this.wallOffset;
  }

  /** Init segment `version` while the window needs it (null before every track's configuration arrived). */
  init(version = 0): Buffer | null {
    return this.inits.get(version) ?? (version === this.segmenter.initVersion ? this.segmenter.init : null);
  }

  /** True once one segment is complete (target duration known, playlists servable). */
  get ready(): boolean {
    return this.maxSegmentMs > 0;
  }

  /** EXT-X-TARGETDURATION in whole seconds: fixed by the first segment (the leader's, for a rendition). */
  get targetDurationS(): number {
    if (this.leader?.ready) return this.leader.targetDurationS;
    if (this.fixedTargetS > 0) return this.fixedTargetS;
    return Math.max(1, Math.ceil(Math.max(this.maxSegmentMs, this.opts.segmentTargetMs) / 1000));
  }

  /** Mean bitrate of the complete segments in the window, bit/s (AVERAGE-BANDWIDTH; 0 before one). */
  averageBitrate(): number {
    let bytes = 0;
    let ms = 0;
    for (const s of this.segments) {
      if (!s.complete) continue;
      ms += s.durationMs;
      for (const p of s.parts) bytes += p.bytes.length;
    }
    return ms > 0 ? (bytes * 8 * 1000) / ms : 0;
  }

  /** Segment msn and last part index of the live edge (EXT-X-RENDITION-REPORT LAST-MSN / LAST-PART). */
  lastPosition(): { msn: number; part: number } | null {
    const cur = this.segments.at(-1);
    const p = cur?.parts.at(-1);
    return cur === undefined || p === undefined ? null : { msn: cur.msn, part: p.index };
  }

  /** The segment in progress and its completed part count. */
  position(): LivePosition {
    const cur = this.segments.at(-1);
    if (cur === undefined) return { msn: 0, parts: 0 };
    return cur.complete ? { msn: cur.msn + 1, parts: 0 } : { msn: cur.msn, parts: cur.parts.length };
  }

  /** Global number of the part being produced (the PRELOAD-HINT). */
  get nextPartSeq(): number {
    return this.nextSeq;
  }

  /** Feed a unit from the stream. */
  push(u: MediaUnit): void {
    if (this.ended) return;
    if (!u.config && !this.leader) this.wallOffset = Math.min(this.wallOffset, Date.now() - u.dts);
    this.segmenter.push(u);
  }

  /** The stream ended: flush the last part, add ENDLIST, release every waiter. */
  end(): void {
    if (this.ended) return;
    this.segmenter.flush();
    this.ended = true;
    this.rendered.clear();
    const cur = this.segments.at(-1);
    if (cur && !cur.complete) this.complete(cur);
    this.waiters.cancelAll();
    for (const [seq, ws] of this.partWaiters) {
      this.partWaiters.delete(seq);
      for (const w of ws) w(null);
    }
  }

  /**
   * A playlist rendered once per window state and key (view, skip, carried query) and shared by
   * every request: when a part completes, all the blocked requests it wakes get the same Buffer.
   */
  rendition(key: string, render: () => string): Buffer {
    let b = this.rendered.get(key);
    if (b === undefined) {
      if (this.rendered.size >= 64) this.rendered.clear(); // many distinct tokens: stay bounded
      b = Buffer.from(render());
      this.rendered.set(key, b);
    }
    return b;
  }

  /** A complete part by global number. */
  part(seq: number): CmafPart | undefined {
    return this.parts.get(seq);
  }

  /** Wait for part `seq` (only the one in production may be awaited); null if the stream ends. */
  awaitPart(seq: number): Promise<CmafPart | null> {
    const done = this.parts.get(seq);
    if (done) return Promise.resolve(done);
    return new Promise((resolve) => {
      const list = this.partWaiters.get(seq) ?? [];
      list.push(resolve);
      this.partWaiters.set(seq, list);
    });
  }

  /** The bytes of a complete segment in the window. */
  segmentBytes(msn: number): Buffer | null {
    const s = this.segments.find((x) => x.msn === msn && x.complete);
    if (!s) return null;
    s.bytes ??= Buffer.concat(s.parts.map((p) => p.bytes));
    return s.bytes;
  }

  private onPart(p: CmafPart): void {
    let cur = this.segments.at(-1);
    if (cur !== undefined && !cur.complete && cur.msn !== p.msn) this.complete(cur); // ended by a configuration change
    if (!this.inits.has(p.initVersion) && this.segmenter.init) this.inits.set(p.initVersion, this.segmenter.init);
    if (cur === undefined || cur.complete) {
      const wall = Number.isFinite(this.wall) ? this.wall : Date.now() - p.startMs;
      cur = { msn: p.msn, parts: [], complete: false, startMs: p.startMs, durationMs: 0, pdtMs: p.startMs + wall, initVersion: p.initVersion, discontinuity: p.discontinuity };
      this.segments.push(cur);
    }
    cur.parts.push(p);
    cur.durationMs += p.durationMs;
    this.parts.set(p.seq, p);
    this.nextSeq = p.seq + 1;
    this.rendered.clear();
    if (p.lastOfSegment) this.complete(cur);
    const ws = this.partWaiters.get(p.seq);
    if (ws) {
      this.partWaiters.delete(p.seq);
      for (const w of ws) w(p);
    }
    this.waiters.notify(this.position());
  }

  private complete(s: LiveSegment): void {
    s.complete = true;
    if (s.parts.length === 0) return;
    this.maxSegmentMs = Math.max(this.maxSegmentMs, s.durationMs);
    if (this.fixedTargetS === 0) this.fixedTargetS = Math.max(1, Math.ceil(Math.max(s.durationMs, this.opts.segmentTargetMs) / 1000));
    else if (Math.round(s.durationMs / 1000) > this.targetDurationS) {
      this.overTarget++;
      this.onOverTarget?.(s, this.targetDurationS);
    }
    const bytes = s.parts.reduce((n, p) => n + p.bytes.length, 0);
    if (s.durationMs > 0) this.peakBitrate = Math.max(this.peakBitrate, (bytes * 8 * 1000) / s.durationMs);
    for (const l of this.segmentListeners) l(s, this.init(s.initVersion)); // e.g. the recorder
    while (this.segments.filter((x) => x.complete).length > this.opts.windowSegments && !this.dvrKeeps()) {
      const old = this.segments.shift()!;
      for (const p of old.parts) this.parts.delete(p.seq);
      if (old.discontinuity) this.discontinuitySequence++;
      for (const v of this.inits.keys()) if (v < this.segments[0]!.initVersion) this.inits.delete(v);
    }
  }

  /** DVR: true while the oldest segment is still inside `dvrWindowS` and the DVR bytes stay ≤ `dvrMaxBytes`. */
  private dvrKeeps(): boolean {
    const windowMs = (this.opts.dvrWindowS ?? 0) * 1000;
    if (windowMs <= 0) return false;
    let ms = 0;
    let bytes = 0;
    for (const x of this.segments) {
      if (!x.complete) continue;
      ms += x.durationMs;
      for (const p of x.parts) bytes += p.bytes.length;
      bytes += x.bytes?.length ?? 0; // a served segment's concatenated copy
    }
    return ms - this.segments[0]!.durationMs < windowMs && bytes <= (this.opts.dvrMaxBytes ?? Number.POSITIVE_INFINITY);
  }
}
