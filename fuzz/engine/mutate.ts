/**
 * Structure-aware byte mutations: the libFuzzer-style set (bit flips, interesting integers, erase,
 * insert, duplicate, splice with another corpus input) plus tokens from the target's dictionary
 * (protocol keywords, header names, magic numbers), which lets text and binary formats alike reach
 * branches that random bytes almost never would. Deterministic for a given PRNG.
 */

import { seededRandom } from '../../bench/netem/model.js';

/** A PRNG returning [0, 1). */
export type Rnd = () => number;

/** mulberry32 from one 32-bit seed: small, fast and reproducible (the one the network benches use). */
export const prng: (seed: number) => Rnd = seededRandom;

const int = (r: Rnd, n: number): number => Math.floor(r() * n);
const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

/** Writes an interesting integer (1, 2 or 4 bytes, big-endian as the formats here are) at `at`. */
function setInteresting(out: Buffer, at: number, r: Rnd): void {
  const v = INTERESTING[int(r, INTERESTING.length)]!;
  const width = [1, 2, 4][int(r, 3)]!;
  for (let k = 0; k < width && at + k < out.length; k++) out[at + k] = (v >>> (8 * (width - 1 - k))) & 0xff;
}

/** One to a few mutations of `b`; `others` feeds the splice, `dict` the token insertions. */
export function mutate(b: Buffer, r: Rnd, others: readonly Buffer[], dict: readonly Buffer[], maxLen: number): Buffer {
  let out = Buffer.from(b);
  for (let rounds = 1 + int(r, 4); rounds > 0; rounds--) {
    const at = int(r, out.length + 1);
    switch (int(r, 9)) {
      case 0: // bit flip
        if (out.length > 0) out[at % out.length]! ^= 1 << int(r, 8);
        break;
      case 1: // random byte
        if (out.length > 0) out[at % out.length] = int(r, 256);
        break;
      case 2: // interesting integer
        if (out.length > 0) setInteresting(out, at % out.length, r);
        break;
      case 3: { // erase a range
        const n = 1 + int(r, Math.max(1, out.length >> 2));
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + n)]);
        break;
      }
      case 4: { // insert random bytes
        const ins = Buffer.alloc(1 + int(r, 16));
        for (let k = 0; k < ins.length; k++) ins[k] = int(r, 256);
        out = Buffer.concat([out.subarray(0, at), ins, out.subarray(at)]);
        break;
      }
      case 5: { // duplicate a range (repeated fields, chunks, packets)
        const from = int(r, out.length + 1);
        const piece = out.subarray(from, from + 1 + int(r, 256));
        out = Buffer.concat([out.subarray(0, at), piece, out.subarray(at)]);
        break;
      }
      case 6: { // splice with another input
        const other = others[int(r, others.length)];
        if (other && other.length > 0) {
          const from = int(r, other.length);
          out = Buffer.concat([out.subarray(0, at), other.subarray(from, from + 1 + int(r, other.length - from))]);
        }
        break;
      }
      case 7: { // dictionary token, inserted or overwriting
        const tok = dict[int(r, dict.length)];
        if (!tok) break;
        out = r() < 0.5
          ? Buffer.concat([out.subarray(0, at), tok, out.subarray(at)])
          : Buffer.concat([out.subarray(0, at), tok, out.subarray(at + tok.length)]);
        break;
      }
      default: // truncate
        out = out.subarray(0, at);
    }
  }
  return out.length > maxLen ? out.subarray(0, maxLen) : out;
}
