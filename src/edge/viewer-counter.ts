/**
 * Viewers of the edge's HTTP surfaces (VOD, LL-HLS, LL-DASH). HTTP players have no session on the
 * edge — each is a series of requests — so a viewer is a client address that fetched from a
 * surface within the last `windowMs` (players poll playlists or fetch segments every few seconds).
 * Bounded: at most `maxTracked` addresses are remembered; beyond it the oldest are forgotten (the
 * figure then undercounts, which the cap's doc states). HTTP-FLV, WS-FLV, RTMP and WHEP viewers
 * are sessions of the edge's live hub and are counted there.
 */

/** HTTP surfaces the edge counts viewers of. */
export type Surface = 'vod' | 'll-hls' | 'll-dash';

const SURFACES: readonly Surface[] = ['vod', 'll-hls', 'll-dash'];

/** Recently active viewers per surface. */
export class ViewerCounter {
  private readonly seen = new Map<string, number>();

  constructor(private readonly windowMs = 10_000, private readonly maxTracked = 100_000) {}

  /** A request from `ip` for `surface` at `now`. */
  saw(ip: string, surface: Surface, now: number): void {
    const key = `${surface}|${ip}`;
    if (this.seen.delete(key) === false && this.seen.size >= this.maxTracked) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    this.seen.set(key, now);
  }

  /** Viewers per surface active within the window (forgets the expired ones). */
  active(now = Date.now()): Array<[Surface, number]> {
    const counts = new Map<Surface, number>(SURFACES.map((s) => [s, 0]));
    for (const [key, at] of this.seen) {
      if (now - at > this.windowMs) {
        this.seen.delete(key);
        continue;
      }
      const s = key.slice(0, key.indexOf('|')) as Surface;
      counts.set(s, counts.get(s)! + 1);
    }
    return [...counts];
  }
}
