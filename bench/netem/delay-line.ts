/**
 * The timer side of the relays: actions due at a time (ms, performance.now() clock), run in time
 * order by one timer, bounded in count so a fast sender cannot grow memory without limit. Jitter
 * makes departures non-monotonic, so entries are kept sorted (binary-search insert; most arrive in
 * order and land at the end).
 */

/** A bounded, time-ordered set of pending sends. */
export class DelayLine {
  private readonly due: { at: number; run: () => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly maxEntries = 20_000) {}

  /** Entries waiting. */
  get size(): number {
    return this.due.length;
  }

  /** Run `run` at `at`; false (not scheduled) when the line is full or closed. */
  schedule(at: number, run: () => void): boolean {
    if (this.closed || this.due.length >= this.maxEntries) return false;
    if (at <= performance.now() && this.due.length === 0) {
      run();
      return true;
    }
    let lo = 0;
    let hi = this.due.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.due[mid]!.at <= at) lo = mid + 1;
      else hi = mid;
    }
    this.due.splice(lo, 0, { at, run });
    if (lo === 0) this.arm();
    return true;
  }

  /** Drop everything pending and stop. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.due.length = 0;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.due.length === 0) return;
    this.timer = setTimeout(() => this.fire(), Math.max(0, this.due[0]!.at - performance.now()));
  }

  private fire(): void {
    this.timer = null;
    // Timers are 1 ms coarse: run everything due within the next half millisecond together.
    const now = performance.now() + 0.5;
    let n = 0;
    while (n < this.due.length && this.due[n]!.at <= now) n++;
    for (const e of this.due.splice(0, n)) e.run();
    this.arm();
  }
}
