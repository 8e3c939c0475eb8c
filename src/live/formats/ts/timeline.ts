/**
 * 33-bit 90 kHz PTS/DTS (ISO/IEC 13818-1 §2.4.3.7) → one monotonic millisecond timeline shared by
 * every PID of a program. The counters wrap every 2^33 / 90 000 s ≈ 26.5 h: each value is placed at
 * the unwrapped position nearest to the newest one seen, so a wrap moves the timeline on by 2^33
 * and a late value from before the wrap (audio interleaved behind video) still lands before it.
 * A jump further than `maxJumpMs` either way is a time-base discontinuity (encoder restart, splice,
 * §2.4.3.5 discontinuity_indicator): the timeline continues from where it was instead of jumping.
 *
 * The timeline starts at the source's own time (ffmpeg starts at 1.4 s): a value from before the
 * first one across a wrap comes out negative, and the demuxer raises it to 0.
 *
 * Milliseconds are ticks / 90, fractional, like the WHIP ingest's RTP clock: a TS → TS path keeps
 * every timestamp to the tick (the muxer rounds ms × 90).
 */

export const WRAP = 2 ** 33;
const HALF = 2 ** 32;

export class Timeline {
  private offset = 0;
  private newest: number | null = null;
  /** Discontinuities absorbed (jumps above maxJumpMs). */
  jumps = 0;
  /** Wraps of the 33-bit counter. */
  wraps = 0;

  constructor(private readonly maxJumpMs = 10_000) {}

  /** Unwrapped ticks of a raw 33-bit value. */
  ticks(raw: number): number {
    if (this.newest === null) {
      this.newest = raw;
      return raw;
    }
    let t = raw + this.offset;
    let d = t - this.newest;
    if (d < -HALF) {
      this.offset += WRAP; // the counter wrapped
      this.wraps++;
      t += WRAP;
      d += WRAP;
    } else if (d > HALF) {
      t -= WRAP; // a straggler from before the wrap
      d -= WRAP;
    }
    if (Math.abs(d) > this.maxJumpMs * 90) {
      this.jumps++;
      this.offset += this.newest + 90 - t; // continue 1 ms after the newest time seen
      t = this.newest + 90;
    }
    if (t > this.newest) this.newest = t;
    return t;
  }

  /** Milliseconds of a raw 33-bit value. */
  ms(raw: number): number {
    return this.ticks(raw) / 90;
  }

  /** Forget everything (a new program or source). */
  reset(): void {
    this.offset = 0;
    this.newest = null;
  }
}
