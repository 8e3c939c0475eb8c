/**
 * What is known in advance: live streams carrying `scheduledStart` and `expectedViewers`
 * (PATCH/POST /api/v1/live-streams). The smoothing model only sees viewers once they arrive, so
 * the audience of an announced event is added on top of it.
 *
 * Ramp shape: an audience gathers before the start (waiting pages, reminders, pre-show), so the
 * expected viewers are assumed to arrive linearly over `rampMs` *before* the scheduled start:
 *   share(T) = 0 for T ≤ start − ramp,  (T − (start − ramp)) / ramp in between,  1 for T ≥ start
 * The forecast for time T adds max(0, expected·share(T) − viewers the stream already has): the
 * viewers already there are in the measured series (and so in the model), not counted twice.
 * A stream stops contributing `rampMs` after its scheduled start; from then on the measured series
 * alone describes it (a late or smaller audience must not hold capacity up indefinitely).
 * Consequence for the horizons: a stream starting within the horizon counts fully; one starting
 * up to `rampMs` after the horizon counts partly; later ones not at all.
 */

/** A stream with a schedule, and its viewers now (0 when not live). */
export interface ScheduledStream {
  id: string;
  /** Scheduled start, epoch ms. */
  start: number;
  expectedViewers: number;
  viewers: number;
}

/** Share (0–1) of a scheduled audience present at `t` for a stream starting at `start`. */
export function rampShare(t: number, start: number, rampMs: number): number {
  if (t >= start) return 1;
  if (rampMs <= 0 || t <= start - rampMs) return 0;
  return (t - (start - rampMs)) / rampMs;
}

/** Whether a stream still contributes at `now` (until `rampMs` after its start). */
export function stillScheduled(s: ScheduledStream, now: number, rampMs: number): boolean {
  return now < s.start + rampMs;
}

/** Viewers the scheduled streams add to a forecast for `now + horizonMs`. */
export function scheduledAudience(streams: readonly ScheduledStream[], now: number, horizonMs: number, rampMs: number): number {
  let add = 0;
  for (const s of streams) {
    if (!stillScheduled(s, now, rampMs)) continue;
    add += Math.max(0, s.expectedViewers * rampShare(now + horizonMs, s.start, rampMs) - s.viewers);
  }
  return add;
}

/** The time window whose scheduled streams can contribute at `now` for horizons up to `maxHorizonMs`. */
export function scheduleWindow(now: number, maxHorizonMs: number, rampMs: number): { from: number; to: number } {
  return { from: now - rampMs, to: now + maxHorizonMs + rampMs };
}
