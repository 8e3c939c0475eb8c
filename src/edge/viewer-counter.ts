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

/** A repeat request within this long of the last one recorded is not recorded again (saves Map churn on the hit path). */
const RESOLUTION_MS = 1000;

/** Recently active viewers per surface. */
export class ViewerCounter {
  /** Per surface: client address → last request time, oldest first. */
  private readonly seen = new Map<Surface, Map<string, number>>(SURFACES.map((s) => [s, new Map()]));
  private tracked = 0;

  constructor(private readonly windowMs = 10_000, private readonly maxTracked = 100_000) {}

  /** A request from `ip` for `surface` at `now`. */
  saw(ip: string, surface: Surface, now: number): void {
    const m = this.seen.get(surface)!;
    const at = m.get(ip);
    if (at !== undefined) {
      if (now - at < RESOLUTION_MS) return;
      m.delete(ip); // re-insert: the map stays ordered by last request
    } else if (this.tracked >= this.maxTracked) {
      const oldest = m.keys().next().value;
      if (oldest === undefined) return; // every tracked address is on another surface
      m.delete(oldest);
    } else this.tracked++;
    m.set(ip, now);
  }

  /** Viewers per surface active within the window (forgets the expired ones). */
  active(now = Date.now()): Array<[Surface, number]> {
    return SURFACES.map((s) => {
      const m = this.seen.get(s)!;
      for (const [ip, at] of m) {
        // Ordered by last request, so the rest are newer (after a clock step back, stale entries wait behind newer ones).
        if (now - at <= this.windowMs) break;
        m.delete(ip);
        this.tracked--;
      }
      return [s, m.size];
    });
  }
}
