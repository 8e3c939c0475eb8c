/**
 * Block coverage of the code under test from V8's precise coverage (the inspector Profiler domain),
 * read in-thread. V8 tracks only functions compiled after coverage starts, so `startCoverage` must
 * run before the targets are imported. `detailed` gives block granularity; without call counts V8
 * reports each range as reached or not, and every `takePreciseCoverage` starts a new window.
 * A range reports its count only where it differs from the enclosing one, so both outcomes are
 * signal: "block B reached" and "block B skipped" are distinct features, as a branch's two sides.
 */
import { Session } from 'node:inspector';

interface Range { startOffset: number; endOffset: number; count: number }
interface ScriptCoverage { url: string; functions: Array<{ ranges: Range[] }> }

let session: Session | null = null;

/** Starts precise block coverage for this thread (idempotent). Call before importing the code under test. */
export function startCoverage(): void {
  if (session) return;
  session = new Session();
  session.connect();
  // The in-thread session answers synchronously, so these calls complete before they return.
  session.post('Profiler.enable');
  session.post('Profiler.startPreciseCoverage', { callCount: false, detailed: true });
}

/** Features (block outcomes) seen so far in scripts whose URL matches `scope`. */
export class BlockCoverage {
  private readonly seen = new Set<string>();

  constructor(private readonly scope: RegExp) {
    startCoverage();
    this.take(); // drop what ran before this run
  }

  /** Distinct features seen. */
  get size(): number {
    return this.seen.size;
  }

  /** Reads and resets the counters; returns the features of this window not seen before (not yet recorded). */
  take(): string[] {
    const fresh: string[] = [];
    session!.post('Profiler.takePreciseCoverage', (err, res) => {
      if (err) throw err;
      for (const script of (res as { result: ScriptCoverage[] }).result) {
        if (!this.scope.test(script.url)) continue;
        for (const fn of script.functions) {
          for (const r of fn.ranges) {
            const key = `${script.url}:${r.startOffset}:${r.endOffset}:${r.count > 0 ? 1 : 0}`;
            if (!this.seen.has(key)) fresh.push(key);
          }
        }
      }
    });
    return fresh;
  }

  /** Records features as seen. */
  record(keys: readonly string[]): void {
    for (const k of keys) this.seen.add(k);
  }
}
