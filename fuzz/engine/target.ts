/**
 * What a fuzz target is: a name, the dictionary its mutator draws tokens from, and `run`, which
 * feeds one input to the parser under test and throws `InvariantError` (or lets an unexpected
 * error escape) when the parser misbehaves. Expected rejections (catalog errors, null) are caught
 * inside `run`, so anything that leaves it is a finding.
 */
import { isStromError } from '../../src/errors.js';

/** One fuzz target. */
export interface FuzzTarget {
  name: string;
  /** What the target checks beyond "does not throw", for the docs and the report. */
  checks: string;
  /** Protocol tokens (text, or Buffers for binary magic) the mutator inserts. */
  dict: ReadonlyArray<string | Buffer>;
  /** Longest input the mutator produces. */
  maxLen: number;
  /** Feeds one input; throws on an invariant violation. */
  run(input: Buffer): void;
}

/** A violated invariant (as opposed to an expected rejection of bad input). */
export class InvariantError extends Error {
  override name = 'InvariantError';
}

/** Throws an InvariantError with `message` unless `cond` holds. */
export function invariant(cond: unknown, message: string): asserts cond {
  if (!cond) throw new InvariantError(message);
}

/** Runs `fn`; a catalog error (optionally one of `codes`) is an expected rejection, anything else escapes. */
export function rejectsOnlyWithCatalog(fn: () => void, codes?: readonly string[]): void {
  try {
    fn();
  } catch (err) {
    if (isStromError(err) && (codes === undefined || codes.includes(err.code))) return;
    throw err;
  }
}
