/**
 * The coverage-guided loop: run the seed corpus, then mutate inputs drawn from the growing corpus
 * and keep every one that reaches a block no earlier input reached. An input that throws, or that
 * takes longer than `slowMs` (a parser that nearly hangs), is a finding: it is kept with its error
 * so the caller can save it and turn it into a regression test. Reproducible from `seed`.
 */
import { createHash } from 'node:crypto';
import { BlockCoverage } from './coverage.js';
import { mutate, prng } from './mutate.js';
import type { FuzzTarget } from './target.js';

/** One failing input. */
export interface Finding {
  input: Buffer;
  error: string;
  /** Short content hash, used as its file name. */
  id: string;
}

/** What one run did. */
export interface FuzzStats {
  target: string;
  execs: number;
  seconds: number;
  execsPerSecond: number;
  seeds: number;
  corpus: number;
  blocks: number;
  findings: Finding[];
}

/** Options of one run. */
export interface FuzzOptions {
  seconds: number;
  seed?: number;
  /** An input slower than this is a finding. */
  slowMs?: number;
  /** Stop after this many distinct findings. */
  maxFindings?: number;
}

/** Which scripts count for coverage: Strom's source and the tus library the upload path relies on. */
const SCOPE = /\/src\/|\/@tus\//;
/** Inputs per coverage window. */
const BATCH = 32;

const errorText = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/** Runs `target` on `seeds`, then mutates for `o.seconds`. */
export function fuzz(target: FuzzTarget, seeds: readonly Buffer[], o: FuzzOptions): FuzzStats {
  const cov = new BlockCoverage(SCOPE);
  const r = prng(o.seed ?? 0x5eed);
  const slowMs = o.slowMs ?? 250;
  const maxFindings = o.maxFindings ?? 20;
  const dict = target.dict.map((t) => (typeof t === 'string' ? Buffer.from(t, 'latin1') : t));
  const corpus: Buffer[] = [];
  const findings = new Map<string, Finding>();
  let execs = 0;

  /** Runs one input; returns false when it failed (recorded as a finding). */
  const once = (input: Buffer): boolean => {
    const t0 = performance.now();
    let error: string | null = null;
    try {
      target.run(input);
    } catch (err) {
      error = errorText(err);
    }
    let ms = performance.now() - t0;
    execs++;
    // A pause of the process (GC, another process on the core) is not the parser's: a slow input
    // must be slow on every one of three runs.
    for (let again = 0; error === null && ms > slowMs && again < 2; again++) {
      const t1 = performance.now();
      try {
        target.run(input);
      } catch (err) {
        error = `fails only on a re-run: ${errorText(err)}`;
      }
      ms = Math.min(ms, performance.now() - t1);
    }
    if (error === null && ms > slowMs) error = `slow input: ${ms.toFixed(0)} ms on each of 3 runs (limit ${slowMs} ms)`;
    if (error === null) return true;
    // One finding per distinct message shape: the same bug found again adds nothing.
    const key = error.replace(/\d+/g, 'N');
    if (!findings.has(key)) findings.set(key, { input, error, id: createHash('sha1').update(input).digest('hex').slice(0, 12) });
    return false;
  };
  /** Runs one input alone in a coverage window; keeps it when it reached new features. */
  const single = (input: Buffer): void => {
    const ok = once(input);
    const fresh = cov.take();
    if (ok && fresh.length > 0) {
      cov.record(fresh);
      corpus.push(input);
    }
  };

  const start = performance.now();
  for (const s of seeds) single(s);
  if (corpus.length === 0) corpus.push(...seeds, Buffer.alloc(0));
  const deadline = start + o.seconds * 1000;
  // Reading coverage costs milliseconds, running an input microseconds: inputs run in batches
  // under one coverage window, and only a batch that found something is replayed one by one.
  while (performance.now() < deadline && findings.size < maxFindings) {
    const batch: Buffer[] = [];
    for (let k = 0; k < BATCH; k++) {
      const parent = corpus[Math.floor(r() * corpus.length)]!;
      const child = mutate(parent, r, corpus, dict, target.maxLen);
      if (once(child)) batch.push(child);
    }
    if (cov.take().length > 0) for (const input of batch) single(input);
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    target: target.name, execs, seconds, execsPerSecond: Math.round(execs / seconds),
    seeds: seeds.length, corpus: corpus.length, blocks: cov.size, findings: [...findings.values()],
  };
}
