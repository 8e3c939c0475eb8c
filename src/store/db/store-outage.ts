/**
 * When the metadata store cannot answer. A failure to reach PostgreSQL (refused or reset
 * connection, a server shutting down or starting up, a connect or statement timeout) becomes one
 * catalog error, 503 STORE_UNAVAILABLE naming the engine and `store.url` with its password masked,
 * at the one place every query passes (pg-pool.ts); the API answers it as is, and pollers
 * (jobs, webhooks) recognise it with `isStoreUnavailable`.
 *
 * `StoreOutage` is what a poller keeps while the store is away: the first failure is logged once,
 * the next tries are spaced out (the poll interval doubling up to a ceiling), and the recovery is
 * logged once — a node polling every second does not write a log line per second of outage.
 */
import type { Logger } from 'pino';
import { failWith, isStromError, type StromError } from '../../errors.js';

/** Node socket errors meaning the server cannot be reached. */
const CONNECTION_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/**
 * PostgreSQL SQLSTATEs meaning the server cannot serve now: class 08 (connection exception),
 * 53 (insufficient resources: too many connections, disk full), 57014 (a statement_timeout an
 * operator set on the role), 57P01–57P04 (shutdown, crash, starting up, database dropped).
 */
const UNAVAILABLE_SQLSTATE = /^(08...|53...|57014|57P0[1-4])$/;

/** What `pg` throws without a code when a connection dies or a client-side timeout fires. */
const CONNECTION_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error)/;

/** True when `err` means the database server cannot be reached or cannot serve right now. */
export function isConnectionFailure(err: unknown): boolean {
  if (isStoreUnavailable(err)) return true;
  const e = err as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code === 'string' && (CONNECTION_ERRNO.has(e.code) || UNAVAILABLE_SQLSTATE.test(e.code))) return true;
  return typeof e?.message === 'string' && CONNECTION_MESSAGE.test(e.message);
}

/** The catalog error for a store that `where` describes, carrying the driver's reason. */
export function storeUnavailable(where: string, err: unknown): StromError {
  if (isStoreUnavailable(err)) return err;
  const e = err as { code?: unknown; message?: unknown } | null;
  const text = typeof e?.message === 'string' && e.message !== '' ? e.message : String(err);
  const code = typeof e?.code === 'string' && !text.includes(e.code) ? ` (${e.code})` : '';
  return failWith('STORE_UNAVAILABLE', { 'retry-after': '5' }, where, `${text}${code}`);
}

/** True when `err` is STORE_UNAVAILABLE. */
export function isStoreUnavailable(err: unknown): err is StromError {
  return isStromError(err, 'STORE_UNAVAILABLE');
}

/** A poller's view of a store outage: log once, back off, log the recovery once. */
export class StoreOutage {
  private failures = 0;
  private since = 0;
  private retryAt = 0;

  /**
   * @param what names the poller in the two log lines ("job poller", "webhook poller").
   * @param baseMs the normal poll interval; while down, tries are spaced baseMs × 2^n up to `maxMs`.
   */
  constructor(private readonly log: Logger, private readonly what: string, private readonly baseMs: number, private readonly maxMs = 30_000) {}

  /** True while the last try failed with STORE_UNAVAILABLE. */
  get down(): boolean {
    return this.failures > 0;
  }

  /** False while backing off: the caller skips this poll. */
  ready(now = Date.now()): boolean {
    return now >= this.retryAt;
  }

  /** Milliseconds until the next try is due (0 when due). */
  waitMs(now = Date.now()): number {
    return Math.max(0, this.retryAt - now);
  }

  /** Record a failed try; returns false when `err` is not a store outage (the caller handles it). */
  failed(err: unknown, now = Date.now()): boolean {
    if (!isStoreUnavailable(err)) return false;
    if (this.failures === 0) {
      this.since = now;
      this.log.warn({ err: { code: err.code, message: err.message } }, `${this.what}: metadata store unavailable; retrying with backoff, next log line when it is back`);
    }
    this.failures++;
    this.retryAt = now + Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures - 1, 20));
    return true;
  }

  /** Record a successful try (logs the recovery once). */
  ok(now = Date.now()): void {
    if (this.failures === 0) return;
    this.log.info({ downMs: now - this.since, failedTries: this.failures }, `${this.what}: metadata store available again`);
    this.failures = 0;
    this.retryAt = 0;
  }
}
