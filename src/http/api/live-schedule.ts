/**
 * `scheduledStart` / `expectedViewers` of a live stream: what the viewer forecast knows in advance
 * (docs/SCALING.md "Predictive scaling"). The JSON schema only checks the types; the bounds are
 * checked here so a refusal is a catalog error naming the value (LIVE_SCHEDULED_START_INVALID,
 * LIVE_EXPECTED_VIEWERS_INVALID). A schedule is only checked when it is sent: a stream scheduled
 * earlier keeps its (now past) start when another field is patched.
 */
import { fail } from '../../errors.js';

/** How far in the past a scheduledStart may lie (clock skew between the caller and the server). */
export const SCHEDULE_PAST_TOLERANCE_MS = 60_000;
/** How far ahead a scheduledStart may lie. */
export const SCHEDULE_MAX_AHEAD_MS = 366 * 86_400_000;
/** Largest expectedViewers accepted. */
export const EXPECTED_VIEWERS_MAX = 100_000_000;
// RFC 3339 date-time (ISO 8601 profile) with a zone: Date.parse alone also takes "March 7" or "2026".
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

/** The epoch ms of a sent `scheduledStart` (null clears it; undefined: not sent). */
export function parseScheduledStart(value: string | null | undefined, now: number): number | null | undefined {
  if (value === undefined || value === null) return value;
  const t = RFC3339.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(t)) throw fail('LIVE_SCHEDULED_START_INVALID', value, 'not an ISO 8601 date-time with a time zone (e.g. 2026-12-24T18:00:00Z)');
  if (t < now - SCHEDULE_PAST_TOLERANCE_MS) throw fail('LIVE_SCHEDULED_START_INVALID', value, `lies in the past (more than ${SCHEDULE_PAST_TOLERANCE_MS / 1000} s before now)`);
  if (t > now + SCHEDULE_MAX_AHEAD_MS) throw fail('LIVE_SCHEDULED_START_INVALID', value, 'lies more than a year ahead');
  return t;
}

/** A sent `expectedViewers`, checked (null clears it; undefined: not sent). */
export function checkExpectedViewers(value: number | null | undefined): number | null | undefined {
  if (value === undefined || value === null) return value;
  if (!Number.isInteger(value)) throw fail('LIVE_EXPECTED_VIEWERS_INVALID', value, 'not an integer');
  if (value < 0) throw fail('LIVE_EXPECTED_VIEWERS_INVALID', value, 'negative');
  if (value > EXPECTED_VIEWERS_MAX) throw fail('LIVE_EXPECTED_VIEWERS_INVALID', value, `above ${EXPECTED_VIEWERS_MAX}`);
  return value;
}
