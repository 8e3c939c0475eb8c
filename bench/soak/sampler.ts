/**
 * The soak's sampler: every interval it reads, for each Strom process (the main and its delivery
 * workers), resident memory from /proc/<pid>/status and open descriptors from /proc/<pid>/fd, and
 * from GET /metrics the main process's V8 heap, active handles and event-loop delay p99 (delivery
 * workers export no process metrics), live viewers and slow-viewer drops; plus what the clients saw (tally) and
 * the error lines of Strom's log. Rows go to a CSV as they are taken.
 */
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseProm, sum } from '../../src/observability/prom-text.js';
import type { SoakServer } from './server.js';
import type { Tally } from './tally.js';

/** One sample. Memory in MiB, delay in ms. */
export interface Sample {
  t: number;
  /** RSS of every Strom process together, and of the main alone. */
  rssMiB: number;
  mainRssMiB: number;
  workers: number;
  fds: number;
  heapMiB: number;
  handles: number;
  loopP99Ms: number;
  serverViewers: number;
  clientViewers: number;
  drops: number;
  unexpected: number;
  errorLines: number;
  uploadsReady: number;
}

const COLUMNS: ReadonlyArray<keyof Sample> = ['t', 'rssMiB', 'mainRssMiB', 'workers', 'fds', 'heapMiB', 'handles', 'loopP99Ms', 'serverViewers', 'clientViewers', 'drops', 'unexpected', 'errorLines', 'uploadsReady'];

/** Resident set of `pid` in MiB (0 when it is gone). */
function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Open file descriptors of `pid`. */
function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

const round = (n: number, d = 1): number => Math.round(n * 10 ** d) / 10 ** d;

/** Samples every `everyS` seconds into `csv` until stopped. */
export class Sampler {
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly server: SoakServer, private readonly tally: Tally, private readonly csv: string) {
    writeFileSync(csv, `${COLUMNS.join(',')}\n`);
  }

  /** Take one sample now. */
  async take(): Promise<Sample> {
    const pids = this.server.pids();
    const text = await fetch(`${this.server.url}/metrics`).then((r) => r.text(), () => '');
    const m = parseProm(text);
    const s: Sample = {
      t: round(this.tally.seconds(), 0),
      rssMiB: round(pids.reduce((n, p) => n + rssMiB(p), 0)),
      mainRssMiB: round(rssMiB(this.server.pid)),
      workers: pids.length - 1,
      fds: pids.reduce((n, p) => n + fdCount(p), 0),
      heapMiB: round(sum(m, 'nodejs_heap_size_used_bytes') / 1048576),
      handles: sum(m, 'nodejs_active_handles_total'),
      loopP99Ms: round(sum(m, 'nodejs_eventloop_lag_p99_seconds') * 1000, 2),
      serverViewers: sum(m, 'strom_live_viewers'),
      clientViewers: this.tally.viewers(),
      drops: sum(m, 'strom_live_reader_drops_total'),
      unexpected: this.tally.unexpected.length,
      errorLines: this.server.errors.count,
      uploadsReady: this.tally.uploads.ready,
    };
    this.samples.push(s);
    appendFileSync(this.csv, `${COLUMNS.map((c) => s[c]).join(',')}\n`);
    return s;
  }

  /** Sample every `everyS` seconds; `each` sees every sample. */
  start(everyS: number, each: (s: Sample) => void): void {
    const tick = (): void => void this.take().then(each, () => undefined);
    tick();
    this.timer = setInterval(tick, everyS * 1000);
  }

  /** Stop sampling. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
