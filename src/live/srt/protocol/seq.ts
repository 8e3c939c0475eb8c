/**
 * SRT sequence numbers are 31-bit and wrap (draft-sharabayko-srt §3.1): every comparison and
 * distance must go through these helpers, never through `<` on the raw values.
 */

/** Largest sequence number; the next one is 0. */
export const MAX_SEQ = 0x7fffffff;
const HALF = 0x40000000;

/** `s + n` modulo 2^31 (n may be negative). */
export function seqAdd(s: number, n: number): number {
  return (((s + n) % 0x80000000) + 0x80000000) % 0x80000000;
}

/** Signed distance from `a` to `b` (positive when b is after a), valid within 2^30. */
export function seqOff(a: number, b: number): number {
  let d = b - a;
  if (d > HALF) d -= 0x80000000;
  else if (d < -HALF) d += 0x80000000;
  return d;
}

/** Whether `a` comes before `b`. */
export function seqLt(a: number, b: number): boolean {
  return seqOff(a, b) > 0;
}

/** A random initial sequence number, as libsrt picks one. */
export function randomSeq(): number {
  return Math.floor(Math.random() * MAX_SEQ);
}
