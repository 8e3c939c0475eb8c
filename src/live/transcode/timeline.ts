/**
 * Maps the audio a bridge child returns onto the source stream's timeline. Raw ADTS/Ogg through a
 * pipe carry no usable timestamps, so time is counted in audio: `fed()` advances an input clock by
 * each written unit's duration, `out()` an output clock by each returned packet's duration, and an
 * output packet at output position P gets the dts of the input audio at position P.
 *
 * Input dts are kept as *anchors* (input position → dts). A new anchor is taken whenever a unit's
 * dts differs from the one its position predicts by more than RESYNC_MS (a publisher gap, a
 * takeover splice, input dropped because ffmpeg was behind), so the output follows every jump of the
 * input timeline without restarting ffmpeg, which only ever sees continuous audio. The output clock
 * starts at −(encoder priming: libopus pre-skip, AAC's 1024-sample priming frame), so the first
 * packet starts that much before the first input dts and the first real sample lines up with it.
 * Added latency is measured per packet: wall time from writing the input that completes position P
 * to receiving the output that completes it.
 */

/** Tolerance before an input dts is taken as a discontinuity (RTMP ms rounding stays far below). */
export const RESYNC_MS = 100;
const MAX_ANCHORS = 64;
const MAX_WRITES = 512;

/** Input → output timestamp mapping of one bridge child. */
export class BridgeTimeline {
  /** Discontinuities followed (new anchors after the first). */
  resyncs = 0;
  private inPos = 0;
  private outPos = 0;
  private anchors: Array<{ pos: number; dts: number }> = [];
  private writes: Array<{ end: number; at: number }> = [];
  private lastOut = -Infinity;

  /** Audio fed so far minus audio returned so far (ms): how far the child is behind. */
  get lagMs(): number {
    return this.inPos - this.outPos;
  }

  /** True once some input was fed. */
  get started(): boolean {
    return this.anchors.length > 0;
  }

  /** An input unit of `durationMs` at `dts` was written to the child at wall time `now`. */
  fed(dts: number, durationMs: number, now: number): void {
    const last = this.anchors.at(-1);
    if (last === undefined || Math.abs(last.dts + (this.inPos - last.pos) - dts) > RESYNC_MS) {
      if (last !== undefined) this.resyncs++;
      this.anchors.push({ pos: this.inPos, dts });
      if (this.anchors.length > MAX_ANCHORS) this.anchors.shift();
    }
    this.inPos += durationMs;
    this.writes.push({ end: this.inPos, at: now });
    if (this.writes.length > MAX_WRITES) this.writes.shift();
  }

  /** The encoder primes `delayMs` of audio before the first input sample: start the output clock early. */
  primed(delayMs: number): void {
    if (this.outPos === 0) this.outPos = -delayMs;
  }

  /** An output packet of `durationMs` arrived at `now`: its dts and the latency the child added (ms, null if unknown). */
  out(durationMs: number, now: number): { dts: number; latencyMs: number | null } {
    const pos = this.outPos;
    while (this.anchors.length > 1 && this.anchors[1]!.pos <= pos) this.anchors.shift();
    const a = this.anchors[0];
    let dts = a === undefined ? 0 : Math.round(a.dts + (pos - a.pos));
    if (dts < this.lastOut) dts = this.lastOut; // never backwards on one track
    this.lastOut = dts;
    this.outPos += durationMs;
    let latencyMs: number | null = null;
    while (this.writes.length > 0 && this.writes[0]!.end < this.outPos - 0.5) this.writes.shift();
    const w = this.writes[0];
    if (w !== undefined && this.outPos > 0) latencyMs = now - w.at;
    return { dts, latencyMs };
  }
}
