/**
 * The receiver's loss list (draft-sharabayko-srt-01 §4.8.2): sequence numbers detected missing,
 * kept as sorted inclusive ranges so a burst of thousands of lost packets costs one entry. Bounded
 * by the receive window: ranges only ever lie between the next packet to deliver and the highest
 * one received.
 */
import { seqAdd, seqOff } from './seq.js';

/** Sorted, non-overlapping ranges of missing sequence numbers. */
export class LossList {
  private ranges: Array<[number, number]> = [];

  /** Number of missing packets. */
  count(): number {
    let n = 0;
    for (const [a, b] of this.ranges) n += seqOff(a, b) + 1;
    return n;
  }

  /** Whether nothing is missing. */
  empty(): boolean {
    return this.ranges.length === 0;
  }

  /** The first range, or undefined. */
  first(): readonly [number, number] | undefined {
    return this.ranges[0];
  }

  /** Append a range that lies after every range already in the list (a new gap). */
  append(from: number, to: number): void {
    const last = this.ranges[this.ranges.length - 1];
    if (last && seqAdd(last[1], 1) === from) last[1] = to;
    else this.ranges.push([from, to]);
  }

  /** Remove one sequence number (a retransmission arrived); returns whether it was missing. */
  remove(seq: number): boolean {
    for (let i = 0; i < this.ranges.length; i++) {
      const r = this.ranges[i]!;
      if (seqOff(r[0], seq) < 0) return false;
      if (seqOff(seq, r[1]) < 0) continue;
      if (r[0] === r[1]) this.ranges.splice(i, 1);
      else if (seq === r[0]) r[0] = seqAdd(seq, 1);
      else if (seq === r[1]) r[1] = seqAdd(seq, -1);
      else this.ranges.splice(i, 1, [r[0], seqAdd(seq, -1)], [seqAdd(seq, 1), r[1]]);
      return true;
    }
    return false;
  }

  /** Remove everything before `seq` (dropped as too late, or delivered). */
  removeBefore(seq: number): number {
    let removed = 0;
    while (this.ranges.length > 0) {
      const r = this.ranges[0]!;
      if (seqOff(r[1], seq) > 0) {
        removed += seqOff(r[0], r[1]) + 1;
        this.ranges.shift();
      } else if (seqOff(r[0], seq) > 0) {
        removed += seqOff(r[0], seq);
        r[0] = seq;
        break;
      } else break;
    }
    return removed;
  }

  /** The ranges, at most `maxRanges` of them (a NAK must fit one datagram). */
  snapshot(maxRanges: number): Array<readonly [number, number]> {
    return this.ranges.slice(0, maxRanges);
  }
}
