/**
 * Paces a pulled HLS source: segments arrive whole, in bursts (several at the start, then one per
 * target duration), while the hub's viewers (HTTP-FLV, RTMP, WebRTC) expect media at the rate it
 * plays. Units wait in one queue per track and leave when the wall clock reaches their decode time
 * (the anchor maps the first unit's dts to the moment pacing starts), the earliest head first, so
 * video and audio stay interleaved even when they come from two playlists. A unit later than
 * LATE_MS (the network fell behind) moves the anchor: the stream goes on from there instead of
 * rushing to catch up. The queue is bounded: fetching waits (`room`) while it holds more than
 * `maxBytes`, so the delay added is what the queue holds, the start position's distance from the
 * live edge (RFC 8216 §6.3.3: at least three target durations), not more.
 */
import { unitBytes, type MediaUnit } from '../../../stream/media-unit.js';

/** A unit later than this against the clock re-anchors the timeline. */
const LATE_MS = 1_000;

/** Wall-clock release of units in dts order. */
export class Pacer {
  private readonly queues = new Map<string, MediaUnit[]>();
  private bytes = 0;
  private anchor: { dts: number; at: number } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private closed = false;
  private waiters: Array<() => void> = [];

  /** `out` receives the units; `maxBytes` bounds what is held before fetching pauses. */
  constructor(private readonly out: (u: MediaUnit) => void, private readonly maxBytes: number, private readonly now: () => number = Date.now) {}

  /** Bytes held. */
  held(): number {
    return this.bytes;
  }

  /** Queue a unit (in decode order per track). */
  push(u: MediaUnit): void {
    if (this.closed) return;
    const q = this.queues.get(u.kind) ?? [];
    this.queues.set(u.kind, q);
    q.push(u);
    this.bytes += unitBytes(u);
    if (this.started && this.timer === null) this.release();
  }

  /** Begin releasing (once the first segments are in). */
  start(): void {
    this.started = true;
    this.release();
  }

  /** Resolves when fetching may go on: the queue holds no more than `maxBytes`. */
  room(): Promise<void> {
    if (this.bytes <= this.maxBytes || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves once every queued unit has left. */
  async drained(): Promise<void> {
    while (this.bytes > 0 && !this.closed) await new Promise((r) => setTimeout(r, 50));
  }

  /** Drop everything and stop. */
  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queues.clear();
    this.bytes = 0;
    for (const w of this.waiters.splice(0)) w();
  }

  private head(): MediaUnit[] | null {
    let best: MediaUnit[] | null = null;
    for (const q of this.queues.values()) if (q.length > 0 && (best === null || q[0]!.dts < best[0]!.dts)) best = q;
    return best;
  }

  private release(): void {
    this.timer = null;
    for (let q = this.head(); q !== null && !this.closed; q = this.head()) {
      const u = q[0]!;
      const now = this.now();
      if (this.anchor === null || now - (this.anchor.at + u.dts - this.anchor.dts) > LATE_MS) this.anchor = { dts: u.dts, at: now };
      const wait = this.anchor.at + (u.dts - this.anchor.dts) - now;
      if (wait > 0) {
        this.timer = setTimeout(() => this.release(), Math.ceil(wait));
        break;
      }
      q.shift();
      this.bytes -= unitBytes(u);
      this.out(u);
    }
    if (this.bytes <= this.maxBytes) for (const w of this.waiters.splice(0)) w();
  }
}
