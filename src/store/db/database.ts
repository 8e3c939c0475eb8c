/**
 * Opens the metadata database: `<dataDir>/strom.db` through better-sqlite3 and Kysely, in WAL mode
 * (readers never block the writer, and a crash loses at most the last uncommitted transaction)
 * with a busy timeout so a second process waits instead of failing. Migrations run before use.
 * Callers see only `Kysely<Database>` and the repositories, so PostgreSQL can be added here alone.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { migrate } from './migrations.js';
import type { Database } from './schema.js';
import { VideosRepo } from './videos-repo.js';
import { LiveStreamsRepo } from './live-streams-repo.js';
import { SigningKeysRepo } from './signing-keys-repo.js';
import { JobsRepo } from './jobs-repo.js';
import { WebhooksRepo } from './webhooks-repo.js'; // issue 3: webhook sender

/** The opened store: the query builder plus one repository per table. */
export interface Store {
  db: Kysely<Database>;
  videos: VideosRepo;
  liveStreams: LiveStreamsRepo;
  signingKeys: SigningKeysRepo;
  jobs: JobsRepo;
  /** Webhooks and their per-attempt delivery log (src/events/webhook-dispatcher.ts). */
  webhooks: WebhooksRepo;
  /** Close the database (after the HTTP server stopped). */
  close(): Promise<void>;
}

/** Open (creating and migrating) the store of `dataDir`; `':memory:'` gives a throwaway database. */
export async function openStore(dataDir: string): Promise<Store> {
  let file = ':memory:';
  if (dataDir !== ':memory:') {
    mkdirSync(dataDir, { recursive: true });
    file = path.join(dataDir, 'strom.db');
  }
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('synchronous = NORMAL'); // safe with WAL: durable at checkpoints, never corrupt
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrate(db);
  return {
    db,
    videos: new VideosRepo(db),
    liveStreams: new LiveStreamsRepo(db),
    signingKeys: new SigningKeysRepo(db),
    jobs: new JobsRepo(db),
    webhooks: new WebhooksRepo(db),
    close: () => db.destroy(),
  };
}
