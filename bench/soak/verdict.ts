/**
 * The soak's verdict: after a warm-up, resident memory and open descriptors must be flat — the
 * least-squares slope of the samples, as a share of their mean per hour, under a bound — the
 * event-loop delay p99 under a bound in every sample, no unexpected viewer disconnect, no error
 * line in Strom's log and every upload that was not cancelled ready.
 */
import type { Sample } from './sampler.js';
import type { Tally } from './tally.js';

/** The bounds a soak is judged against. */
export interface Targets {
  warmupS: number;
  /** Largest growth (slope) of RSS and of fds, in % of the mean per hour; shrinking passes. */
  slopePctPerHour: number;
  loopP99Ms: number;
}

/** One target, met or not, with the figure behind it. */
export interface Check {
  name: string;
  ok: boolean;
  figure: string;
}

/** Least-squares slope of y over x (0 with fewer than 2 points). */
export function slope(points: ReadonlyArray<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Slope of `key` after the warm-up, in % of its mean per hour. */
export function growthPctPerHour(samples: readonly Sample[], key: 'rssMiB' | 'fds' | 'heapMiB' | 'handles', warmupS: number): number {
  const pts = samples.filter((s) => s.t >= warmupS).map((s): [number, number] => [s.t, s[key]]);
  if (pts.length < 2) return 0;
  const mean = pts.reduce((a, p) => a + p[1], 0) / pts.length;
  return mean === 0 ? 0 : (slope(pts) * 3600 * 100) / mean;
}

/** Judge a run. */
export function judge(samples: readonly Sample[], tally: Tally, errorLines: number, t: Targets): Check[] {
  const after = samples.filter((s) => s.t >= t.warmupS);
  const rss = growthPctPerHour(samples, 'rssMiB', t.warmupS);
  const fds = growthPctPerHour(samples, 'fds', t.warmupS);
  const worstLoop = Math.max(0, ...samples.map((s) => s.loopP99Ms));
  const u = tally.uploads;
  const expectedReady = u.started - u.cancelled - u.failed;
  const f = (n: number) => n.toFixed(2);
  return [
    { name: `RSS flat after ${t.warmupS} s (slope < ${t.slopePctPerHour} %/h)`, ok: after.length >= 2 && rss < t.slopePctPerHour,
      figure: `${f(rss)} %/h over ${after.length} samples, ${after[0]?.rssMiB ?? '-'} → ${after.at(-1)?.rssMiB ?? '-'} MiB` },
    { name: `fds flat after ${t.warmupS} s (slope < ${t.slopePctPerHour} %/h)`, ok: after.length >= 2 && fds < t.slopePctPerHour,
      figure: `${f(fds)} %/h, ${after[0]?.fds ?? '-'} → ${after.at(-1)?.fds ?? '-'} fds` },
    { name: `event-loop delay p99 < ${t.loopP99Ms} ms (every sample)`, ok: worstLoop < t.loopP99Ms, figure: `worst ${f(worstLoop)} ms` },
    { name: 'no unexpected viewer disconnect', ok: tally.unexpected.length === 0,
      figure: `${tally.unexpected.length}${tally.unexpected.length ? `: ${tally.unexpected.slice(0, 5).map((x) => `${x.atS}s ${x.protocol} ${x.stream} ${x.reason}`).join('; ')}` : ''}` },
    { name: 'no error line in Strom\'s log', ok: errorLines === 0, figure: String(errorLines) },
    { name: 'every upload ready (cancelled ones removed)', ok: u.failed === 0 && u.ready >= expectedReady && u.started > 0,
      figure: `${u.started} started, ${u.ready} ready (${u.resumed} resumed), ${u.cancelled} cancelled, ${u.failed} failed${u.reasons.length ? `: ${u.reasons.slice(0, 3).join('; ')}` : ''}` },
    { name: 'SSE subscribers stayed connected, API answered', ok: tally.sseUnexpectedEnds === 0 && tally.apiFailures === 0,
      figure: `${tally.sseEvents} events, ${tally.sseUnexpectedEnds} SSE drops, ${tally.apiRequests} API requests, ${tally.apiFailures} failed` },
  ];
}
