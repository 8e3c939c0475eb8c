/**
 * Opens the metadata database named by `store.url` (src/store/db/store-url.ts). The default is
 * `<dataDir>/strom.db` through better-sqlite3 and Kysely, in WAL mode (readers never block the
 * writer, and a crash loses at most the last uncommitted transaction) with a busy timeout so a
 * second process waits instead of failing. In cluster mode it is a PostgreSQL shared by every
 * node, through Kysely's PostgresDialect over a `pg` pool of `store.poolMax` connections.
 * Migrations run before use. Callers see only `Kysely<Database>` and the repositories; the few
 * engine differences live in sql-dialect.ts.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import type { Pool, PoolConfig } from 'pg';
import { migrate } from './migrations.js';
import type { Database } from './schema.js';
import { POSTGRES, SQLITE, type SqlDialect } from './sql-dialect.js';
import { parseStoreUrl } from './store-url.js';
import { VideosRepo } from './videos-repo.js';
import { LiveStreamsRepo } from './live-streams-repo.js';
import { SigningKeysRepo } from './signing-keys-repo.js';
import { JobsRepo } from './jobs-repo.js';
import { WebhooksRepo } from './webhooks-repo.js';

/** The opened store: the query builder plus one repository per table. */
export interface Store {
  db: Kysely<Database>;
  /** The engine behind `db` (SQLite or a shared PostgreSQL). */
  dialect: SqlDialect;
  videos: VideosRepo;
  liveStreams: LiveStreamsRepo;
  signingKeys: SigningKeysRepo;
  jobs: JobsRepo;
  /** Webhooks and their per-attempt delivery log (src/events/webhook-dispatcher.ts). */
  webhooks: WebhooksRepo;
  /** Close the database (after the HTTP server stopped). */
  close(): Promise<void>;
}

/** How to open the store; every field is optional (the default is SQLite in `dataDir`). */
export interface StoreOptions {
  /** `store.url`: empty, `sqlite:<path>` or `postgres://user:pass@host:port/db`. */
  url?: string | null;
  /** `store.poolMax`: PostgreSQL connections of this process. */
  poolMax?: number;
  /** `cluster.nodeId`: names this process in job leases (default `<hostname>-<pid>`); a random part is added per lease. */
  nodeId?: string;
}

/** Open (creating and migrating) the store of `dataDir`; `':memory:'` gives a throwaway database. */
export async function openStore(dataDir: string, o: StoreOptions = {}): Promise<Store> {
  const where = parseStoreUrl(o.url, dataDir);
  let db: Kysely<Database>;
  let dialect: SqlDialect;
  if (where.dialect === 'postgres') {
    dialect = POSTGRES;
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: await createPgPool(where.connectionString, o.poolMax ?? 10) }) });
  } else {
    dialect = SQLITE;
    if (where.file !== ':memory:') mkdirSync(path.dirname(where.file), { recursive: true });
    const sqlite = new BetterSqlite3(where.file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('synchronous = NORMAL'); // safe with WAL: durable at checkpoints, never corrupt
    sqlite.pragma('foreign_keys = ON');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  }
  try {
    await migrate(db, dialect);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  const nodeId = o.nodeId ?? `${hostname()}-${process.pid}`;
  return {
    db,
    dialect,
    videos: new VideosRepo(db, dialect),
    liveStreams: new LiveStreamsRepo(db, dialect),
    signingKeys: new SigningKeysRepo(db),
    jobs: new JobsRepo(db, dialect, nodeId),
    webhooks: new WebhooksRepo(db, dialect),
    close: () => db.destroy(),
  };
}

/**
 * A `pg` pool for Strom alone. BIGINT columns (epoch-millisecond times, `count(*)`) come back as
 * numbers instead of strings: every value Strom stores fits in 2^53. The parser is set on this
 * pool's `types`, not on the global `pg.types`, so other users of `pg` in the process are unaffected.
 */
async function createPgPool(connectionString: string, max: number): Promise<Pool> {
  const { default: pg } = await import('pg'); // loaded only in cluster mode
  const getTypeParser: typeof pg.types.getTypeParser = (oid, format) =>
    oid === pg.types.builtins.INT8 && format !== 'binary' ? Number : pg.types.getTypeParser(oid, format);
  const config: PoolConfig = { connectionString, max, types: { getTypeParser } };
  const pool = new pg.Pool(config);
  // An idle connection dropped by the server (restart, failover) is an 'error' event on the pool;
  // unhandled it would end the process. The pool discards that client and the next query opens a
  // new one, so there is nothing else to do here.
  pool.on('error', () => undefined);
  return pool;
}
