/**
 * The `jobs` table: a durable queue with leases. A worker leases the oldest runnable job for a
 * while; if it dies the lease expires and another worker picks the job up again (at-least-once).
 * Failures retry with a delay until `max_attempts`. Each lease is one UPDATE … RETURNING, which
 * SQLite (single writer) and PostgreSQL (row lock) both run atomically.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, JobRow } from './schema.js';
import { newId } from './ids.js';

/** What `enqueue` needs. */
export interface NewJob {
  kind: string;
  videoId?: string | null;
  payload?: unknown;
  maxAttempts?: number;
  runAfter?: number;
}

/** Repository of jobs. */
export class JobsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Add a queued job. */
  async enqueue(j: NewJob): Promise<JobRow> {
    const now = Date.now();
    const row: JobRow = {
      id: newId('j_'), video_id: j.videoId ?? null, kind: j.kind, state: 'queued', attempts: 0,
      max_attempts: j.maxAttempts ?? 3, run_after: j.runAfter ?? now, lease_until: null, last_error: null,
      payload: JSON.stringify(j.payload ?? {}), created_at: now, updated_at: now,
    };
    await this.db.insertInto('jobs').values(row).execute();
    return row;
  }

  /**
   * Lease the oldest runnable job of `kinds` (queued and due, or running with an expired lease)
   * for `leaseMs`; increments `attempts`. Undefined when nothing is runnable.
   */
  async lease(kinds: readonly string[], leaseMs: number, now = Date.now()): Promise<JobRow | undefined> {
    if (kinds.length === 0) return undefined;
    return this.db.updateTable('jobs')
      .set({ state: 'running', lease_until: now + leaseMs, attempts: sql<number>`attempts + 1`, updated_at: now })
      .where('id', '=', (eb) => eb.selectFrom('jobs').select('id')
        .where('kind', 'in', kinds)
        .where((w) => w.or([
          w.and([w('state', '=', 'queued'), w('run_after', '<=', now)]),
          w.and([w('state', '=', 'running'), w('lease_until', '<', now)]),
        ]))
        .orderBy('run_after').orderBy('created_at').limit(1))
      .returningAll()
      .executeTakeFirst();
  }

  /** Extend a running job's lease (call periodically from long work). */
  async heartbeat(id: string, leaseMs: number): Promise<boolean> {
    const now = Date.now();
    const r = await this.db.updateTable('jobs').set({ lease_until: now + leaseMs, updated_at: now }).where('id', '=', id).where('state', '=', 'running').executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Mark done. */
  async complete(id: string): Promise<void> {
    await this.db.updateTable('jobs').set({ state: 'done', lease_until: null, updated_at: Date.now() }).where('id', '=', id).execute();
  }

  /**
   * Record a failure: back to queued after `retryDelayMs` while attempts remain and `retry` allows
   * (permanent failures such as bad media pass false), else `failed`.
   */
  async fail(id: string, error: string, retryDelayMs: number, retry = true): Promise<JobRow | undefined> {
    const job = await this.get(id);
    if (!job) return undefined;
    const now = Date.now();
    const again = retry && job.attempts < job.max_attempts;
    return this.db.updateTable('jobs')
      .set({ state: again ? 'queued' : 'failed', run_after: again ? now + retryDelayMs : job.run_after, lease_until: null, last_error: error.slice(0, 2000), updated_at: now })
      .where('id', '=', id).returningAll().executeTakeFirst();
  }

  /** Give a running job back to the queue without counting the attempt (graceful shutdown). */
  async release(id: string): Promise<void> {
    await this.db.updateTable('jobs')
      .set({ state: 'queued', lease_until: null, attempts: sql<number>`max(attempts - 1, 0)`, updated_at: Date.now() })
      .where('id', '=', id).where('state', '=', 'running').execute();
  }

  /**
   * Queue again every job left `running` by a process that died (kill -9, power loss). Only for
   * single-node SQLite, where no other process can hold a live lease; returns how many.
   */
  async recoverOrphans(): Promise<number> {
    const r = await this.db.updateTable('jobs').set({ state: 'queued', lease_until: null, run_after: Date.now(), updated_at: Date.now() })
      .where('state', '=', 'running').executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** Jobs by state, for metrics and the dashboard. */
  async countByState(): Promise<Record<string, number>> {
    const rows = await this.db.selectFrom('jobs').select(['state', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('state').execute();
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }

  /** Cancel every unfinished job of a video (on delete); returns the ids cancelled. */
  async cancelForVideo(videoId: string): Promise<string[]> {
    const rows = await this.db.updateTable('jobs').set({ state: 'cancelled', lease_until: null, updated_at: Date.now() })
      .where('video_id', '=', videoId).where('state', 'in', ['queued', 'running']).returning('id').execute();
    return rows.map((r) => r.id);
  }

  /** The row, or undefined. */
  async get(id: string): Promise<JobRow | undefined> {
    return this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Jobs of one video, oldest first. */
  async forVideo(videoId: string): Promise<JobRow[]> {
    return this.db.selectFrom('jobs').selectAll().where('video_id', '=', videoId).orderBy('created_at').execute();
  }
}
