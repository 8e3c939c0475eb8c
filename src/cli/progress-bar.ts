/**
 * Terminal progress bar for `strom ingest`: one line redrawn in place with `\r` on a TTY
 * (percent, phase, speed as × realtime, ETA); on a pipe, one plain line per 10 % so logs stay short.
 */

/** One progress sample. */
export interface ProgressSample {
  phase: string;
  percent: number;
  /** Encoding speed as a multiple of realtime (ffmpeg's `speed=`). */
  speed?: number;
  etaS?: number;
}

/** Format seconds as m:ss or h:mm:ss. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** Render one bar line of `width` cells. */
export function renderProgress(p: ProgressSample, width = 30): string {
  const pct = Math.max(0, Math.min(100, p.percent));
  const filled = Math.round((pct / 100) * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const speed = p.speed !== undefined && Number.isFinite(p.speed) ? `${p.speed.toFixed(2)}× realtime` : '—× realtime';
  const eta = p.etaS !== undefined ? `ETA ${formatDuration(p.etaS)}` : 'ETA --:--';
  return `${bar} ${pct.toFixed(1).padStart(5)}%  ${p.phase.padEnd(10)} ${speed}  ${eta}`;
}

/** A progress reporter bound to a stream (stderr by default). */
export class ProgressBar {
  private lastDecile = -1;
  private drawn = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  /** Draw a sample. */
  update(p: ProgressSample): void {
    if (this.out.isTTY) {
      this.out.write(`\r${renderProgress(p)}\x1b[K`);
      this.drawn = true;
      return;
    }
    const decile = Math.floor(p.percent / 10);
    if (decile !== this.lastDecile) {
      this.lastDecile = decile;
      this.out.write(`${renderProgress(p)}\n`);
    }
  }

  /** End the bar line. */
  done(message: string): void {
    if (this.drawn) this.out.write('\n');
    this.out.write(`${message}\n`);
  }
}
