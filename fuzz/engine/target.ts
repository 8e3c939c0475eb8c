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

/**
 * Feeds `input` to `push` in pieces of `size(k)` bytes (k = 0, 1, …), as a socket may cut a stream;
 * `push` returns what the piece completed (signatures to compare between cuttings). Returns all of
 * it, or null when the parser refused the input with a catalog error of `codes`.
 */
export function inPieces(input: Buffer, size: (k: number) => number, codes: readonly string[], push: (piece: Buffer) => string[]): string[] | null {
  const out: string[] = [];
  let refused = true;
  rejectsOnlyWithCatalog(() => {
    for (let i = 0, k = 0; i < input.length; k++) {
      const n = size(k);
      out.push(...push(input.subarray(i, i + n)));
      i += n;
    }
    refused = false;
  }, codes);
  return refused ? null : out;
}

/**
 * A socket may cut a stream anywhere: reads `input` whole and in pieces of 1..maxPiece bytes
 * (drawn from the input itself) and requires the same signatures from both unless either refused.
 */
export function sameWhenSplit(input: Buffer, maxPiece: number, read: (size: (k: number) => number) => string[] | null): void {
  const split = read((k) => 1 + ((input[k % input.length]! * 13 + k) % maxPiece));
  const whole = read(() => input.length);
  if (split !== null && whole !== null) invariant(split.join() === whole.join(), `split input gave ${split.length} items, whole input ${whole.length}`);
}
