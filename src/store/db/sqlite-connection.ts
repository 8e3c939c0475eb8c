/**
 * Strom's SQLite connection, as Kysely's SqliteDialect sees it: better-sqlite3 in WAL mode with a
 * short busy timeout, and every failure meaning the database file cannot be written or read right
 * now — another process holding a write lock (SQLITE_BUSY/LOCKED after the busy timeout), the file
 * or its directory read-only (SQLITE_READONLY, a read-only remount), the disk full (SQLITE_FULL),
 * an I/O error or a file that cannot be opened — thrown as 503 STORE_UNAVAILABLE naming the file
 * (store-outage.ts), as PostgreSQL outages are. The API answers it with Retry-After, the job and
 * webhook pollers back off, and reads that do not need the lock keep working.
 *
 * better-sqlite3 is synchronous: while a statement waits for a lock the whole event loop waits,
 * so the server's busy timeout is short (a locked database costs each write at most that long of
 * stalled playback); the CLI, which blocks nobody, waits longer.
 */
import BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { storeUnavailable } from './store-outage.js';

/** Busy timeout of the server's connection: how long a statement waits for another process's lock. */
export const SERVER_BUSY_TIMEOUT_MS = 250;

/** SQLite result codes (primary, extended codes share the prefix) meaning "cannot use the file now". */
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|READONLY|FULL|IOERR|CANTOPEN|PROTOCOL|NOTADB|CORRUPT)/;

/** True when `err` is a SQLite error meaning the database cannot be used right now. */
export function isSqliteUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNAVAILABLE.test(code);
}

/** Run `f`, turning an unavailable-database error into STORE_UNAVAILABLE naming `where`. */
function guarded<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw isSqliteUnavailable(err) ? storeUnavailable(where, err) : err;
  }
}

/** A statement whose failures are translated like the connection's. */
function guardStatement(where: string, st: BetterSqlite3.Statement): SqliteStatement {
  return {
    reader: st.reader,
    all: (p) => guarded(where, () => st.all(...p)),
    run: (p) => guarded(where, () => st.run(...p)),
    iterate: (p) => {
      const it = guarded(where, () => st.iterate(...p));
      return {
        next: () => guarded(where, () => it.next()),
        return: (v?: unknown) => it.return?.(v) ?? { done: true, value: v },
        [Symbol.iterator]() {
          return this;
        },
      };
    },
  };
}

/** Open `file` (WAL, `busyTimeoutMs`, foreign keys) for Kysely; `where` names it in errors. */
export function openSqlite(file: string, where: string, busyTimeoutMs = SERVER_BUSY_TIMEOUT_MS): SqliteDatabase {
  const sqlite = guarded(where, () => new BetterSqlite3(file));
  sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  guarded(where, () => sqlite.pragma('journal_mode = WAL'));
  sqlite.pragma('synchronous = NORMAL'); // safe with WAL: durable at checkpoints, never corrupt
  sqlite.pragma('foreign_keys = ON');
  return {
    close: () => sqlite.close(),
    prepare: (sql) => guardStatement(where, guarded(where, () => sqlite.prepare(sql))),
  };
}
