/**
 * Blocking playlist reload (draft-pantos-hls-rfc8216bis-16 §6.2.5.2) and the waiters it needs.
 *
 * Rules: `_HLS_part` without `_HLS_msn` → 400; `_HLS_msn` more than 2 beyond the last segment in
 * the playlist (the one in progress counts) → 400 at once; a request is held until segment M
 * (or part N of it) exists, a part index beyond a finished segment's last part meaning the next
 * segment's first part; held longer than 3 × target duration → 503. `_HLS_skip=YES|v2` asks for a
 * delta update (§6.2.5.1).
 *
 * Wake-ups come from the muxer: `notify()` runs synchronously when a part completes and resolves
 * every waiter whose target now exists. A plain array is scanned (a handful of waiters per
 * stream, all of which usually wait for the same next part). The only timer is each request's
 * own 503 deadline.
 */

/** A parsed LL-HLS playlist query. */
export interface BlockingQuery {
  msn?: number;
  part?: number;
  skip: boolean;
}

/** Why a query is refused with 400. */
export type QueryError = { error: string };

const NUM = /^\d{1,10}$/;

/** Parse `_HLS_msn`, `_HLS_part`, `_HLS_skip`; other parameters (tokens, CMCD) are ignored. */
export function parseBlockingQuery(q: Record<string, unknown>): BlockingQuery | QueryError {
  const one = (k: string): string | undefined => {
    const v = q[k];
    return Array.isArray(v) ? String(v[0]) : v === undefined ? undefined : String(v);
  };
  const msn = one('_HLS_msn');
  const part = one('_HLS_part');
  const skip = one('_HLS_skip');
  if (msn !== undefined && !NUM.test(msn)) return { error: `_HLS_msn must be a non-negative integer, got "${msn}"` };
  if (part !== undefined && !NUM.test(part)) return { error: `_HLS_part must be a non-negative integer, got "${part}"` };
  if (part !== undefined && msn === undefined) return { error: '_HLS_part requires _HLS_msn' };
  if (skip !== undefined && skip !== 'YES' && skip !== 'v2') return { error: `_HLS_skip must be YES or v2, got "${skip}"` };
  return { msn: msn === undefined ? undefined : Number(msn), part: part === undefined ? undefined : Number(part), skip: skip !== undefined };
}

/** Where the live window is: the segment in progress and its completed part count. */
export interface LivePosition {
  /** MSN of the segment being produced (its parts so far are listed). */
  msn: number;
  /** Completed parts of that segment. */
  parts: number;
}

/** True when the playlist already satisfies `_HLS_msn=msn[&_HLS_part=part]`. */
export function isAvailable(pos: LivePosition, msn: number, part: number | undefined): boolean {
  if (msn < pos.msn) return true; // a finished segment (any part index of it is then in the playlist or past it)
  if (msn > pos.msn || part === undefined) return false;
  return part < pos.parts;
}

/** `_HLS_msn` too far ahead to wait for (§6.2.5.2: more than two beyond the last segment listed, complete or not). */
export function tooFarAhead(lastListedMsn: number, msn: number): boolean {
  return msn > lastListedMsn + 2;
}

interface Waiter {
  msn: number;
  part: number | undefined;
  done: (ok: boolean) => void;
}

/** Pending blocking requests of one stream. */
export class BlockingWaiters {
  private list: Waiter[] = [];

  /** Number of requests currently held. */
  get size(): number {
    return this.list.length;
  }

  /** Hold until available (true), the deadline passes (false) or `cancelAll` (false). */
  wait(msn: number, part: number | undefined, holdMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), holdMs);
      const w: Waiter = { msn, part, done: (ok) => finish(ok) };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        const i = this.list.indexOf(w);
        if (i >= 0) this.list.splice(i, 1);
        resolve(ok);
      };
      this.list.push(w);
    });
  }

  /** Wake every waiter satisfied at `pos` (called by the muxer when a part completes). */
  notify(pos: LivePosition): void {
    for (const w of [...this.list]) if (isAvailable(pos, w.msn, w.part)) w.done(true);
  }

  /** Release everything (stream ended or muxer stopped): they answer with what exists. */
  cancelAll(): void {
    for (const w of [...this.list]) w.done(false);
  }
}
