/**
 * Versioned schema migrations, applied in order at start and recorded in `schema_migrations`.
 * Migrations are append-only: never edit a released one, add the next number. They use Kysely's
 * schema builder and the column types of sql-dialect.ts, so one list runs on SQLite and PostgreSQL.
 *
 * On SQLite each migration runs in its own transaction. On PostgreSQL several nodes may start at
 * once against one database: the whole run (creating `schema_migrations`, reading the version,
 * applying what is missing) is one transaction that first takes a transaction-level advisory lock
 * with a fixed key. The nodes queue on that lock; the first applies the migrations and commits,
 * the others then find them recorded and apply nothing. PostgreSQL DDL is transactional, so a
 * failing migration leaves the schema as it was. The lock ends with the transaction, even when
 * the node dies.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { SqlDialect } from './sql-dialect.js';

/** One migration step; `d` supplies engine-specific column types. */
export interface Migration {
  version: number;
  name: string;
  up(db: Kysely<Database>, d: SqlDialect): Promise<void>;
}

/** Key of the PostgreSQL advisory lock that serialises migrations ("strom" in ASCII). */
export const MIGRATION_LOCK_KEY = 0x7374726f6d;

/** All migrations, ascending. */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial tables: videos, live_streams, signing_keys, jobs, webhooks',
    async up(db, d) {
      await db.schema.createTable('videos')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('title', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('visibility', 'varchar(16)', (c) => c.notNull().defaultTo('public'))
        .addColumn('status', 'varchar(16)', (c) => c.notNull().defaultTo('waiting'))
        .addColumn('error_code', 'varchar(64)')
        .addColumn('error_message', 'text')
        .addColumn('progress', d.float, (c) => c.notNull().defaultTo(0))
        .addColumn('duration_s', d.float)
        .addColumn('width', 'integer')
        .addColumn('height', 'integer')
        .addColumn('source_path', 'text')
        .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('playable', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('videos_status_created').on('videos').columns(['status', 'created_at', 'id']).execute();
      await db.schema.createIndex('videos_created').on('videos').columns(['created_at', 'id']).execute();

      await db.schema.createTable('live_streams')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('title', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('stream_key', 'varchar(128)', (c) => c.notNull().unique())
        .addColumn('visibility', 'varchar(16)', (c) => c.notNull().defaultTo('public'))
        .addColumn('status', 'varchar(16)', (c) => c.notNull().defaultTo('idle'))
        .addColumn('record', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema.createTable('signing_keys')
        .addColumn('kid', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('alg', 'varchar(16)', (c) => c.notNull())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .execute();

      await db.schema.createTable('jobs')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('video_id', 'varchar(64)')
        .addColumn('kind', 'varchar(64)', (c) => c.notNull())
        .addColumn('state', 'varchar(16)', (c) => c.notNull().defaultTo('queued'))
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('max_attempts', 'integer', (c) => c.notNull().defaultTo(3))
        .addColumn('run_after', 'bigint', (c) => c.notNull())
        .addColumn('lease_until', 'bigint')
        .addColumn('last_error', 'text')
        .addColumn('payload', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('jobs_state_run_after').on('jobs').columns(['state', 'run_after']).execute();
      await db.schema.createIndex('jobs_video').on('jobs').column('video_id').execute();

      await db.schema.createTable('webhooks')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('events', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createTable('webhook_deliveries')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('webhook_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('event', 'varchar(64)', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  {
    version: 2,
    name: 'live_streams.abr: per-stream live ABR ladder',
    async up(db) {
      await db.schema.alterTable('live_streams').addColumn('abr', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    },
  },
  {
    version: 3,
    name: 'jobs.lease_owner: which node (and which lease) holds a running job',
    async up(db) {
      await db.schema.alterTable('jobs').addColumn('lease_owner', 'varchar(128)').execute();
    },
  },
  {
    version: 4,
    name: 'webhook_outbox: durable webhook deliveries leased like jobs; webhook_deliveries.delivery_id and indexes',
    async up(db) {
      await db.schema.createTable('webhook_outbox')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('webhook_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('event', 'varchar(64)', (c) => c.notNull())
        .addColumn('event_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('state', 'varchar(16)', (c) => c.notNull().defaultTo('pending'))
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('due_at', 'bigint', (c) => c.notNull())
        .addColumn('lease_owner', 'varchar(128)')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      // The poll's range scan: pending and delivering rows whose due_at (next try, lease expiry) has come.
      await db.schema.createIndex('webhook_outbox_due').on('webhook_outbox').columns(['state', 'due_at']).execute();
      await db.schema.createIndex('webhook_outbox_webhook').on('webhook_outbox').column('webhook_id').execute();
      await db.schema.alterTable('webhook_deliveries').addColumn('delivery_id', 'varchar(64)').execute();
      await db.schema.createIndex('webhook_deliveries_webhook').on('webhook_deliveries').columns(['webhook_id', 'created_at']).execute();
      await db.schema.createIndex('webhook_deliveries_created').on('webhook_deliveries').column('created_at').execute();
    },
  },
  {
    version: 5,
    name: 'live_outputs: restreaming destinations of a live stream (deleted with it)',
    async up(db) {
      await db.schema.createTable('live_outputs')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('stream_id', 'varchar(64)', (c) => c.notNull().references('live_streams.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('stream_key', 'text')
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('live_outputs_stream').on('live_outputs').columns(['stream_id', 'created_at']).execute();
    },
  },
  {
    version: 6,
    name: 'live_streams.srt_passphrase: per-stream SRT encryption passphrase (a secret, never shown)',
    async up(db) {
      await db.schema.alterTable('live_streams').addColumn('srt_passphrase', 'text').execute();
    },
  },
  {
    version: 7,
    name: 'video_captions: caption tracks of a video, one per language (deleted with it)',
    async up(db) {
      await db.schema.createTable('video_captions')
        .addColumn('video_id', 'varchar(64)', (c) => c.notNull().references('videos.id').onDelete('cascade'))
        .addColumn('language', 'varchar(64)', (c) => c.notNull())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('format', 'varchar(8)', (c) => c.notNull())
        .addColumn('vtt', 'text', (c) => c.notNull())
        .addColumn('cues', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('video_captions_pk', ['video_id', 'language'])
        .execute();
    },
  },
  {
    version: 8,
    name: 'direct_uploads: one-time tus upload URLs for a video, credential stored hashed',
    async up(db) {
      await db.schema.createTable('direct_uploads')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('video_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('state', 'varchar(16)', (c) => c.notNull().defaultTo('waiting'))
        .addColumn('max_size_bytes', 'bigint', (c) => c.notNull())
        .addColumn('cors_origin', 'text')
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('direct_uploads_video').on('direct_uploads').column('video_id').execute();
      await db.schema.createIndex('direct_uploads_expiry').on('direct_uploads').columns(['state', 'expires_at']).execute();
    },
  },
  {
    version: 9,
    name: 'videos.clip_of: the source video and range of a clip',
    async up(db) {
      await db.schema.alterTable('videos').addColumn('clip_of', 'text').execute();
    },
  },
  {
    version: 10,
    name: 'content protection: videos.protection, server_secrets (the content key derivation secret)',
    async up(db) {
      await db.schema.alterTable('videos').addColumn('protection', 'varchar(16)', (c) => c.notNull().defaultTo('none')).execute();
      await db.schema.createTable('server_secrets')
        .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  {
    version: 11,
    name: 'live_streams.source, source_on_demand: a stream pulled from a URL instead of pushed (the URL is a secret)',
    async up(db) {
      await db.schema.alterTable('live_streams').addColumn('source', 'text').execute();
      await db.schema.alterTable('live_streams').addColumn('source_on_demand', 'integer', (c) => c.notNull().defaultTo(1)).execute();
    },
  },
  {
    version: 12,
    name: 'live_streams.scheduled_start, expected_viewers: the audience of a scheduled stream, for the viewer forecast',
    async up(db) {
      await db.schema.alterTable('live_streams').addColumn('scheduled_start', 'bigint').execute();
      await db.schema.alterTable('live_streams').addColumn('expected_viewers', 'bigint').execute();
      // The forecast reads the streams scheduled within its window at every scrape.
      await db.schema.createIndex('live_streams_scheduled_start').on('live_streams').column('scheduled_start').execute();
    },
  },
];

/** Apply every migration newer than the database's version; returns the versions applied. */
export async function migrate(db: Kysely<Database>, d: SqlDialect): Promise<number[]> {
  if (d.shared) {
    return db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(trx);
      const applied: number[] = [];
      for (const m of await pending(trx)) {
        await apply(trx, m, d);
        applied.push(m.version);
      }
      return applied;
    });
  }
  const applied: number[] = [];
  for (const m of await pending(db)) {
    await db.transaction().execute((trx) => apply(trx, m, d));
    applied.push(m.version);
  }
  return applied;
}

/** The migrations not yet recorded (creating the bookkeeping table on first use). */
async function pending(db: Kysely<Database>): Promise<Migration[]> {
  await db.schema.createTable('schema_migrations').ifNotExists()
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('applied_at', 'bigint', (c) => c.notNull())
    .execute();
  const row = await db.selectFrom('schema_migrations').select(sql<number | null>`max(version)`.as('v')).executeTakeFirst();
  const current = row?.v ?? 0;
  return migrations.filter((m) => m.version > current);
}

/** Run one migration and record it, inside the caller's transaction. */
async function apply(trx: Kysely<Database>, m: Migration, d: SqlDialect): Promise<void> {
  await m.up(trx, d);
  await trx.insertInto('schema_migrations').values({ version: m.version, name: m.name, applied_at: Date.now() }).execute();
}
