/**
 * Cache warming: a viewer who fetches VOD segment k of a rendition will ask for k+1, k+2… next, so
 * the edge fetches `edge.prefetchSegments` of them in the background while the viewer plays k.
 * Segment names are recognised by their trailing number (`seg_00042.m4s` → `seg_00043.m4s`, same
 * width), which is how Strom's packager and most HLS/DASH packagers name them.
 *
 * Bounded: at most `edge.prefetchConcurrency` prefetches in flight; one that finds that many is
 * dropped (counted), never queued — a prefetch is a guess, and a queue of guesses only delays real
 * requests. A segment the origin does not have (past the last one) is remembered for a minute so
 * the viewers of a rendition's end do not ask for it again and again.
 */
import type { EdgeCache, EdgeTarget, UpstreamHeaders } from './edge-cache.js';

const SEGMENT = /^(.*?)(\d+)(\.(?:m4s|ts|m4a|m4v|aac))$/;
const MISSING_TTL_MS = 60_000;
const MAX_MISSING = 10_000;

/** Names of the `n` segments after `path`'s, or [] when `path` is not a numbered segment. */
export function nextSegments(path: string, n: number): string[] {
  const slash = path.lastIndexOf('/');
  const m = SEGMENT.exec(path.slice(slash + 1));
  if (m === null) return [];
  const [, stem, digits, ext] = m as unknown as [string, string, string, string];
  const base = Number(digits);
  const out: string[] = [];
  for (let i = 1; i <= n; i++) out.push(`${path.slice(0, slash + 1)}${stem}${String(base + i).padStart(digits.length, '0')}${ext}`);
  return out;
}

/** Prefetches the next segments of VOD renditions into an EdgeCache. */
export class Prefetcher {
  private running = 0;
  private readonly missing = new Map<string, number>();

  constructor(private readonly cache: EdgeCache, private readonly count: number, private readonly concurrency: number) {}

  /** A viewer asked for `t` (a VOD object): warm the segments after it. */
  after(t: EdgeTarget, upstream: UpstreamHeaders): void {
    if (this.count === 0) return;
    const keys = nextSegments(t.key, this.count);
    if (keys.length === 0) return;
    const paths = nextSegments(t.upstreamPath, this.count);
    const now = Date.now();
    const st = this.cache.stats;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const gone = this.missing.get(key);
      if ((gone !== undefined && gone > now) || this.cache.has(key)) {
        st.prefetchSkipped++;
        continue;
      }
      if (this.running >= this.concurrency) {
        st.prefetchDropped += keys.length - i;
        return;
      }
      const fill = this.cache.warm({ ...t, key, upstreamPath: paths[i]! }, upstream);
      if (fill === null) continue;
      st.prefetchStarted++;
      this.running++;
      void fill.settled.then(() => {
        this.running--;
        if (fill.status === 404 || fill.status === 410) this.remember(key, now);
      });
    }
  }

  private remember(key: string, now: number): void {
    if (this.missing.size >= MAX_MISSING) {
      for (const [k, until] of this.missing) if (until <= now || this.missing.size >= MAX_MISSING) this.missing.delete(k);
    }
    this.missing.set(key, now + MISSING_TTL_MS);
  }
}
