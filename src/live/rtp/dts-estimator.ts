/**
 * Decode timestamps for video whose RTP timestamps are presentation times (RFC 6184 §5.1,
 * RFC 7798 §4.1: the RTP timestamp is the sampling, i.e. presentation, time) and whose frames
 * arrive in decoding order — with B-frames the two orders differ and RTP carries no DTS.
 * Decode times are the presentation times sorted, delayed by `depth` frames: frame i gets the
 * (i − depth)-th smallest presentation time. With reordering no deeper than `depth` frames, every
 * frame that can still arrive presents after the first i − depth + 1 frames seen, so that value is
 * known when frame i arrives — no added latency — and it is never after frame i's own presentation
 * time. Streams without B-frames just get a constant composition offset of `depth` frames.
 * The first `depth` frames, before enough are seen, get 1 ms steps below the first one.
 */

/** Decode times of one video track. */
export class DtsEstimator {
  /** Presentation times seen and not yet used as a decode time, ascending (at most depth + 1). */
  private pending: number[] = [];
  private frames = 0;
  private first = 0;
  private last = -Infinity;

  /** `depth`: the deepest reordering expected (x264's B-pyramid needs 2; 4 covers HEVC encoders). */
  constructor(private readonly depth = 4) {}

  /** The decode time (ms) of the next frame in decoding order, given its presentation time. */
  next(pts: number): { dts: number; pts: number } {
    if (this.frames === 0) this.first = pts;
    let i = this.pending.length;
    while (i > 0 && this.pending[i - 1]! > pts) i--;
    this.pending.splice(i, 0, pts);
    let dts = this.frames < this.depth ? this.first - (this.depth - this.frames) : this.pending.shift()!;
    this.frames++;
    // Deeper reordering than `depth` could break dts ≤ pts or monotony: clamp rather than emit a bad unit.
    dts = Math.max(Math.min(dts, pts), this.last);
    this.last = dts;
    return { dts, pts: Math.max(pts, dts) };
  }
}
