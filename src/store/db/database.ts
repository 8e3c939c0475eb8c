/**
 * Opens the metadata database named by `store.url` (src/store/db/store-url.ts). The default is
 * `<dataDir>/strom.db` through better-sqlite3 and Kysely, in WAL mode (readers never block the
 * writer, and a crash loses at most the last uncommitted transaction) with a short busy timeout; a
 * database that stays locked, read-only or full answers 503 STORE_UNAVAILABLE (sqlite-connection.ts). In cluster mode it is a PostgreSQL shared by every
 * node, through Kysely's PostgresDialect over a `pg` pool of `store.poolMax` connections with
 * bounded waits, whose failures to reach the server are 503 STORE_UNAVAILABLE (pg-pool.ts).
 * Migrations run before use, on a connection of their own without the statement timeout (a
 * migration may legitimately run long). Callers see only `Kysely<Database>` and the repositories;
 * the few engine differences live in sql-dialect.ts.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { migrate } from './migrations.js';
import { createPgPool } from './pg-pool.js';
import { openSqlite } from './sqlite-connection.js';
import type { Database } from './schema.js';
import { POSTGRES, SQLITE, type SqlDialect } from './sql-dialect.js';
import { maskPassword, parseStoreUrl } from './store-url.js';
import { VideosRepo } from './videos-repo.js';
import { LiveStreamsRepo } from './live-streams-repo.js';
import { LiveOutputsRepo } from './live-outputs-repo.js';
import { SigningKeysRepo } from './signing-keys-repo.js';
import { JobsRepo } from './jobs-repo.js';
import { WebhooksRepo } from './webhooks-repo.js';
import { WebhookOutboxRepo } from './webhook-outbox-repo.js';
import { CaptionsRepo } from './captions-repo.js';
import { DirectUploadsRepo } from './direct-uploads-repo.js';
import { ServerSecretsRepo } from './server-secrets-repo.js';

/** The opened store: the query builder plus one repository per table. */
export interface Store {
  db: Kysely<Database>;
  /** The engine behind `db` (SQLite or a shared PostgreSQL). */
  dialect: SqlDialect;
  /** The database as named in messages: engine and file, or `store.url` with its password masked. */
  where: string;
  videos: VideosRepo;
  /** Caption tracks of videos (src/vod/captions). */
  captions: CaptionsRepo;
  liveStreams: LiveStreamsRepo;
  /** Restreaming outputs of live streams (src/live/restream). */
  liveOutputs: LiveOutputsRepo;
  signingKeys: SigningKeysRepo;
  jobs: JobsRepo;
  /** Webhooks and their per-attempt delivery log (src/events/webhook-dispatcher.ts). */
  webhooks: WebhooksRepo;
  /** Webhook deliveries waiting to be sent, leased by the nodes' pollers (src/events/webhook-dispatcher.ts). */
  webhookOutbox: WebhookOutboxRepo;
  /** One-time tus upload URLs (src/http/uploads/direct-uploads.ts). */
  directUploads: DirectUploadsRepo;
  /** Secrets shared by every node (the content key derivation secret, src/vod/protection). */
  serverSecrets: ServerSecretsRepo;
  /** Close the database (after the HTTP server stopped). */
  close(): Promise<void>;
}

/** How to open the store; every field is optional (the default is SQLite in `dataDir`). */
export interface StoreOptions {
  /** `store.url`: empty, `sqlite:<path>` or `postgres://user:pass@host:port/db`. */
  url?: string | null;
  /** `store.poolMax`: PostgreSQL connections of this process. */
  poolMax?: number;
  /** `store.connectTimeoutMs`: PostgreSQL connect (and pool wait) bound. */
  connectTimeoutMs?: number;
  /** `store.queryTimeoutMs`: PostgreSQL statement bound (0 = none). */
  queryTimeoutMs?: number;
  /** SQLite: how long a statement waits for another process's lock (default sqlite-connection.ts SERVER_BUSY_TIMEOUT_MS). */
  busyTimeoutMs?: number;
  /** `cluster.nodeId`: names this process in job leases (default `<hostname>-<pid>`); a random part is added per lease. */
  nodeId?: string;
}

/** Open (creating and migrating) the store of `dataDir`; `':memory:'` gives a throwaway database. */
export async function openStore(dataDir: string, o: StoreOptions = {}): Promise<Store> {
  const where = parseStoreUrl(o.url, dataDir);
  let db: Kysely<Database>;
  let migrationDb: Kysely<Database> | null = null;
  let dialect: SqlDialect;
  let named: string;
  if (where.dialect === 'postgres') {
    dialect = POSTGRES;
    named = `PostgreSQL at store.url=${maskPassword(where.connectionString)}`;
    const pool = (max: number, queryTimeoutMs: number) => createPgPool({
      connectionString: where.connectionString, max, connectTimeoutMs: o.connectTimeoutMs ?? 5000, queryTimeoutMs, where: named,
    });
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: await pool(o.poolMax ?? 10, o.queryTimeoutMs ?? 30_000) }) });
    migrationDb = new Kysely<Database>({ dialect: new PostgresDialect({ pool: await pool(1, 0) }) });
  } else {
    dialect = SQLITE;
    named = `SQLite ${where.file}`;
    if (where.file !== ':memory:') mkdirSync(path.dirname(where.file), { recursive: true });
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: openSqlite(where.file, named, o.busyTimeoutMs) }) });
  }
  try {
    await migrate(migrationDb ?? db, dialect);
  } catch (err) {
    await db.destroy();
    throw err;
  } finally {
    await migrationDb?.destroy();
  }
  const nodeId = o.nodeId ?? `${hostname()}-${process.pid}`;
  return {
    db,
    dialect,
    where: named,
    videos: new VideosRepo(db, dialect),
    captions: new CaptionsRepo(db, dialect),
    liveStreams: new LiveStreamsRepo(db, dialect),
    liveOutputs: new LiveOutputsRepo(db, dialect),
    signingKeys: new SigningKeysRepo(db),
    jobs: new JobsRepo(db, dialect, nodeId),
    webhooks: new WebhooksRepo(db, dialect),
    webhookOutbox: new WebhookOutboxRepo(db, dialect, nodeId),
    directUploads: new DirectUploadsRepo(db),
    serverSecrets: new ServerSecretsRepo(db),
    close: () => db.destroy(),
  };
}
