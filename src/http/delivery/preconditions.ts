/**
 * Conditional request evaluation in the order of RFC 9110 §13.2.2:
 * If-Match → If-Unmodified-Since → If-None-Match → If-Modified-Since (→ If-Range, see `ifRangeAllows`).
 */
import type { IncomingHttpHeaders } from 'node:http';

/** What the preconditions decide: go on, answer 304, or answer 412. */
export type PreconditionResult = 'proceed' | 304 | 412;

/** Validators of the selected representation. `lastModifiedS` is whole seconds since the epoch. */
export interface Validators {
  etag: string;
  lastModifiedS: number;
}

/** Split an entity-tag list; `*` is returned as is. */
function tags(header: string): string[] {
  return header.split(',').map((t) => t.trim()).filter(Boolean);
}

/** Strong comparison (§8.8.3.2): both strong and identical. */
function strongMatch(list: string, etag: string): boolean {
  for (const t of tags(list)) if (t === '*' || (t === etag && !t.startsWith('W/'))) return true;
  return false;
}

/** Weak comparison: opaque tags equal, ignoring W/. */
function weakMatch(list: string, etag: string): boolean {
  const bare = etag.replace(/^W\//, '');
  for (const t of tags(list)) if (t === '*' || t.replace(/^W\//, '') === bare) return true;
  return false;
}

/** Parse an HTTP-date to whole seconds; NaN when invalid. */
function dateS(value: string): number {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? NaN : Math.floor(ms / 1000);
}

/** Evaluate preconditions for a GET/HEAD (or other) request against an existing representation. */
export function evaluatePreconditions(method: string, h: IncomingHttpHeaders, v: Validators): PreconditionResult {
  const ifMatch = h['if-match'];
  if (ifMatch !== undefined) {
    if (!strongMatch(ifMatch, v.etag)) return 412;
  } else {
    const ius = h['if-unmodified-since'];
    if (ius !== undefined) {
      const t = dateS(ius);
      if (!Number.isNaN(t) && v.lastModifiedS > t) return 412;
    }
  }
  const inm = h['if-none-match'];
  const safe = method === 'GET' || method === 'HEAD';
  if (inm !== undefined) {
    if (weakMatch(inm, v.etag)) return safe ? 304 : 412;
  } else if (safe) {
    const ims = h['if-modified-since'];
    if (ims !== undefined) {
      const t = dateS(ims);
      if (!Number.isNaN(t) && v.lastModifiedS <= t) return 304;
    }
  }
  return 'proceed';
}

/**
 * If-Range (§13.1.5): the Range applies only when the validator matches — a strong ETag
 * compared strongly, or a date equal to Last-Modified. Weak tags never match.
 */
export function ifRangeAllows(ifRange: string | undefined, v: Validators): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === v.etag && !value.startsWith('W/');
  const t = dateS(value);
  return !Number.isNaN(t) && t === v.lastModifiedS;
}
