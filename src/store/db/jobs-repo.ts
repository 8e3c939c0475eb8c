/**
 * The `jobs` table: a durable queue with leases. A worker leases the oldest runnable job for a
 * while; if it dies the lease expires and another worker picks the job up again (at-least-once).
 * Failures retry with a delay until `max_attempts`.
 *
 * Every lease carries an owner, `<node id>/<random>`, fresh per lease. Heartbeat, complete, fail
 * and release only touch the row while it is still `running` under that owner, so a worker whose
 * lease expired and was taken over (or whose job was cancelled) learns it from a `false` and
 * stops, instead of finishing the job a second time over the new owner's run.
 *
 * Leasing is one UPDATE … RETURNING whose subquery picks the job. SQLite has one writer at a time,
 * so that statement alone is atomic. On PostgreSQL, shared by the nodes of a cluster, the
 * subquery is `SELECT … FOR UPDATE SKIP LOCKED`: concurrent leases lock different rows and never
 * wait for each other, and a row another node has just leased is skipped (without SKIP LOCKED the
 * second UPDATE would wait, then lease the same job again). On PostgreSQL a starting node never
 * releases `running` jobs: they may be leased by live nodes, so only lease expiry recovers them.
 *
 * Why this table rather than graphile-worker or pg-boss: it already is the durable queue both
 * engines share, with heartbeats, lease expiry, retries with backoff and cancellation per video,
 * and the jobs sit next to the videos they change. A PostgreSQL-only queue would need a second
 * implementation for the embedded SQLite default and a second schema to migrate.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, JobRow } from './schema.js';
import { diagnosticText, type SqlDialect } from './sql-dialect.js';
import { newId } from './ids.js';

/** What identifies a lease: the job and the owner it was leased to (a leased JobRow is one). */
export type Lease = Pick<JobRow, 'id' | 'lease_owner'>;

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
  /**
   * `nodeId` names this process in `lease_owner` (a random part is added per lease);
   * `d` decides how leases are taken and whether orphans may be released at start.
   */
  constructor(private readonly db: Kysely<Database>, private readonly d: SqlDialect, readonly nodeId = `node-${newId('', 8)}`) {}

  /** Add a queued job. */
  async enqueue(j: NewJob): Promise<JobRow> {
    const now = Date.now();
    const row: JobRow = {
      id: newId('j_'), video_id: j.videoId ?? null, kind: j.kind, state: 'queued', attempts: 0,
      max_attempts: j.maxAttempts ?? 3, run_after: j.runAfter ?? now, lease_until: null, lease_owner: null, last_error: null,
      payload: JSON.stringify(j.payload ?? {}), created_at: now, updated_at: now,
    };
    await this.db.insertInto('jobs').values(row).execute();
    return row;
  }

  /**
   * Lease the oldest runnable job of `kinds` (queued and due, or running with an expired lease)
   * for `leaseMs` under a new owner; increments `attempts`. Undefined when nothing is runnable.
   */
  async lease(kinds: readonly string[], leaseMs: number, now = Date.now()): Promise<JobRow | undefined> {
    if (kinds.length === 0) return undefined;
    return this.db.updateTable('jobs')
      .set({ state: 'running', lease_until: now + leaseMs, lease_owner: `${this.nodeId.slice(0, 100)}/${newId('', 12)}`, attempts: sql<number>`attempts + 1`, updated_at: now })
      .where('id', '=', (eb) => eb.selectFrom('jobs').select('id')
        .where('kind', 'in', kinds)
        .where((w) => w.or([
          w.and([w('state', '=', 'queued'), w('run_after', '<=', now)]),
          w.and([w('state', '=', 'running'), w('lease_until', '<', now)]),
        ]))
        .orderBy('run_after').orderBy('created_at').limit(1)
        .$if(this.d.shared, (q) => q.forUpdate().skipLocked()))
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Extend a running job's lease (call periodically from long work). False when the lease is no
   * longer this one's (expired and taken over, cancelled, released): the holder must stop.
   */
  async heartbeat(lease: Lease, leaseMs: number): Promise<boolean> {
    if (lease.lease_owner === null) return false;
    const now = Date.now();
    const r = await this.db.updateTable('jobs').set({ lease_until: now + leaseMs, updated_at: now })
      .where('id', '=', lease.id).where('state', '=', 'running').where('lease_owner', '=', lease.lease_owner).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Mark done; false (and nothing changed) when the lease was lost. */
  async complete(lease: Lease): Promise<boolean> {
    if (lease.lease_owner === null) return false;
    const r = await this.db.updateTable('jobs').set({ state: 'done', lease_until: null, lease_owner: null, updated_at: Date.now() })
      .where('id', '=', lease.id).where('state', '=', 'running').where('lease_owner', '=', lease.lease_owner).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * Record a failure: back to queued after `retryDelayMs` while attempts remain and `retry` allows
   * (permanent failures such as bad media pass false), else `failed`. Undefined when the lease
   * was lost (the job belongs to someone else now) or the job is gone.
   */
  async fail(lease: Lease, error: string, retryDelayMs: number, retry = true): Promise<JobRow | undefined> {
    if (lease.lease_owner === null) return undefined;
    const job = await this.get(lease.id);
    if (!job) return undefined;
    const now = Date.now();
    const again = retry && job.attempts < job.max_attempts;
    return this.db.updateTable('jobs')
      .set({ state: again ? 'queued' : 'failed', run_after: again ? now + retryDelayMs : job.run_after, lease_until: null, lease_owner: null, last_error: diagnosticText(this.d, error.slice(0, 2000)), updated_at: now })
      .where('id', '=', lease.id).where('state', '=', 'running').where('lease_owner', '=', lease.lease_owner)
      .returningAll().executeTakeFirst();
  }

  /** Give a running job back to the queue without counting the attempt (graceful shutdown). */
  async release(lease: Lease): Promise<void> {
    if (lease.lease_owner === null) return;
    await this.db.updateTable('jobs')
      // CASE rather than SQLite's two-argument max() or PostgreSQL's greatest(): both engines run it.
      .set({ state: 'queued', lease_until: null, lease_owner: null, attempts: sql<number>`case when attempts > 0 then attempts - 1 else 0 end`, updated_at: Date.now() })
      .where('id', '=', lease.id).where('state', '=', 'running').where('lease_owner', '=', lease.lease_owner).execute();
  }

  /**
   * Queue again every job left `running` by a process that died (kill -9, power loss); returns how
   * many. Only on single-node SQLite, where no other process can hold a live lease. On a shared
   * PostgreSQL another live node may hold those leases, so this does nothing and returns 0: lease
   * expiry alone hands a dead node's jobs to the others.
   */
  async recoverOrphans(): Promise<number> {
    if (this.d.shared) return 0;
    const now = Date.now();
    const r = await this.db.updateTable('jobs').set({ state: 'queued', lease_until: null, lease_owner: null, run_after: now, updated_at: now })
      .where('state', '=', 'running').executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** Jobs by state, for metrics and the dashboard. */
  async countByState(): Promise<Record<string, number>> {
    const rows = await this.db.selectFrom('jobs').select(['state', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('state').execute();
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }

  /** Unfinished (queued or running) jobs of one kind, over every node sharing the store: the bound of a queue. */
  async countActive(kind: string): Promise<number> {
    const row = await this.db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('kind', '=', kind).where('state', 'in', ['queued', 'running']).executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** Cancel every unfinished job of a video (on delete); returns the ids cancelled. */
  async cancelForVideo(videoId: string): Promise<string[]> {
    const rows = await this.db.updateTable('jobs').set({ state: 'cancelled', lease_until: null, lease_owner: null, updated_at: Date.now() })
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
