/**
 * Runs durable jobs from the `jobs` table with bounded concurrency. Each running job holds a lease
 * that a heartbeat extends; a process killed mid-job leaves a lease that expires (or, at start in
 * single-node SQLite mode, is released at once by `recoverOrphans`) so the job runs again.
 * Every job gets an AbortSignal fired by cancellation (video deleted), the per-job timeout or
 * shutdown. Only transient failures are retried, with exponential backoff.
 *
 * A lease can be lost while the job runs: this process stalled past `leaseMs` and another node
 * (cluster mode) or worker took the job over, or the job was cancelled in the table by another
 * node. The heartbeat finds out (the row is no longer leased to this run) and aborts the job with
 * reason 'cancelled', so handlers treat it like a deletion: stop and record nothing. Completing or
 * failing a lost lease changes nothing in the table either. `concurrency` is per process (node).
 *
 * While the metadata store is unreachable (STORE_UNAVAILABLE) the poll backs off and logs once
 * (store-outage.ts), and running jobs keep going as long as their lease is surely still theirs:
 * the pool tracks when each lease ends by its last successful heartbeat, and when the next
 * heartbeat could come too late it stops the job ('cancelled') before the lease expires — after
 * an outage of about two thirds of `leaseMs`. So no other node can lease the job while this one
 * still runs it: the job runs again, from the start, once the store is back and the lease expired.
 */
import type { Logger } from 'pino';
import type { JobsRepo } from '../store/db/jobs-repo.js';
import type { JobRow } from '../store/db/schema.js';
import { isStromError } from '../errors.js';
import { isStoreUnavailable, StoreOutage } from '../store/db/store-outage.js';

/** What a job handler receives besides the job row. */
export interface JobContext {
  signal: AbortSignal;
  log: Logger;
}

/** Runs one job; throw to fail it (a StromError is permanent, other errors are retried). */
export type JobHandler = (job: JobRow, ctx: JobContext) => Promise<void>;

/** Pool settings. */
export interface WorkerPoolOptions {
  jobs: JobsRepo;
  log: Logger;
  handlers: Record<string, JobHandler>;
  concurrency: number;
  /** Per-job timeout; the job's signal aborts with reason 'timeout'. */
  timeoutMs: number;
  leaseMs?: number;
  pollMs?: number;
  retryBaseMs?: number;
}

/** Counters for metrics. */
export interface WorkerPoolStats {
  running: number;
  completed: number;
  failed: number;
  retried: number;
}

const TRANSIENT_ERRNO = new Set([
  'EAGAIN', 'EMFILE', 'ENFILE', 'EBUSY', 'ENOMEM', 'SQLITE_BUSY', 'ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED',
  // PostgreSQL SQLSTATEs: serialization failure, deadlock, too many connections, server shutting down
  '40001', '40P01', '53300', '57P01',
]);

/** Whether a failure is worth retrying: catalog errors (bad media, limits) are not. */
export function isTransient(err: unknown): boolean {
  if (isStromError(err)) return err.statusCode >= 500 && err.code !== 'JOB_TIMEOUT';
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return TRANSIENT_ERRNO.has(code);
  return true; // unknown failures get the remaining attempts, bounded by max_attempts
}

/** A pool of job runners polling one queue. */
export class WorkerPool {
  private readonly running = new Map<string, { job: JobRow; ctrl: AbortController }>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private stopped = true;
  private readonly idle = new Set<() => void>();
  private readonly outage: StoreOutage;
  readonly counters: WorkerPoolStats = { running: 0, completed: 0, failed: 0, retried: 0 };
  /** Metrics hook: called once per finished attempt with its outcome and run time. */
  onSettled: ((kind: string, outcome: 'completed' | 'failed' | 'retried', ms: number) => void) | null = null;

  constructor(private readonly o: WorkerPoolOptions) {
    this.outage = new StoreOutage(o.log, 'job poller', o.pollMs ?? 1000);
  }

  /** Start polling (and pick up any orphaned job at once). */
  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.o.pollMs ?? 1000);
    this.timer.unref();
    this.kick();
  }

  /** Look for work now (called after enqueue so a new job starts without waiting a poll). */
  kick(): void {
    if (this.stopped || this.polling || !this.outage.ready()) return;
    this.polling = true;
    this.fill().then((asked) => asked && this.outage.ok(), (err: unknown) => {
      if (!this.outage.failed(err)) this.o.log.error({ err }, 'job poll failed');
    }).finally(() => {
      this.polling = false;
    });
  }

  /**
   * Lease jobs while there is room; true when the store was asked. A full pool asks nothing, so it
   * says nothing about an outage (counting it as a success logged the same outage twice).
   */
  private async fill(): Promise<boolean> {
    const kinds = Object.keys(this.o.handlers);
    let asked = false;
    while (!this.stopped && this.running.size < this.o.concurrency) {
      asked = true;
      const job = await this.o.jobs.lease(kinds, this.o.leaseMs ?? 30_000);
      if (!job) break;
      this.run(job);
    }
    return asked;
  }

  private run(job: JobRow): void {
    const ctrl = new AbortController();
    const log = this.o.log.child({ jobId: job.id, videoId: job.video_id, kind: job.kind });
    this.running.set(job.id, { job, ctrl });
    this.counters.running = this.running.size;
    const leaseMs = this.o.leaseMs ?? 30_000;
    const beatMs = leaseMs / 3; // three tries per lease: one failed heartbeat is survived
    let leaseLost = false;
    // When the lease surely still runs: from the send time of the last heartbeat that held it, on
    // the monotonic clock (performance.now), so a step of the wall clock neither stops a job whose
    // heartbeats succeed nor lets one run on past its lease while they fail.
    let heldUntil = performance.now() + Math.min(leaseMs, (job.lease_until ?? Infinity) - Date.now());
    let beatFailures = 0;
    const beat = setInterval(() => {
      if (ctrl.signal.aborted) return;
      if (performance.now() + beatMs >= heldUntil) {
        leaseLost = true;
        log.warn({ heartbeatFailures: beatFailures }, 'lease could not be renewed before it expires (metadata store unreachable?): stopping the job; it runs again once the lease expired');
        return ctrl.abort('cancelled');
      }
      const sentAt = performance.now();
      this.o.jobs.heartbeat(job, leaseMs).then((held) => {
        beatFailures = 0;
        if (held) return void (heldUntil = Math.max(heldUntil, sentAt + leaseMs));
        if (ctrl.signal.aborted) return;
        leaseLost = true;
        log.warn('lease lost (taken over after expiry, or the job was cancelled): stopping the job');
        ctrl.abort('cancelled');
      }, (err: unknown) => {
        if (beatFailures++ === 0) log.warn({ err: isStoreUnavailable(err) ? err.message : err }, 'heartbeat failed; trying again at the next one');
      });
    }, beatMs);
    const timeout = setTimeout(() => ctrl.abort('timeout'), this.o.timeoutMs);
    const started = Date.now();
    log.info({ attempt: job.attempts, owner: job.lease_owner }, 'job started');
    this.o.handlers[job.kind]!(job, { signal: ctrl.signal, log })
      .then(async () => {
        if (!(await this.o.jobs.complete(job))) return log.warn('job finished after its lease was lost; the result is not recorded');
        this.counters.completed++;
        this.onSettled?.(job.kind, 'completed', Date.now() - started);
        log.info({ ms: Date.now() - started }, 'job done');
      })
      .catch(async (err: unknown) => {
        if (ctrl.signal.aborted && ctrl.signal.reason === 'shutdown') {
          await this.o.jobs.release(job);
          return log.info('job released at shutdown; it will run again');
        }
        if (ctrl.signal.aborted && ctrl.signal.reason === 'cancelled') return log.info(leaseLost ? 'job stopped: its lease was lost' : 'job cancelled');
        const timedOut = ctrl.signal.aborted && ctrl.signal.reason === 'timeout';
        const retry = !timedOut && isTransient(err) && job.attempts < job.max_attempts;
        const delay = (this.o.retryBaseMs ?? 2000) * 2 ** (job.attempts - 1);
        const recorded = await this.o.jobs.fail(job, err instanceof Error ? err.message : String(err), retry ? delay : 0, retry);
        if (!recorded) return log.warn({ err }, 'job failed after its lease was lost; the failure is not recorded');
        if (retry) this.counters.retried++;
        else this.counters.failed++;
        this.onSettled?.(job.kind, retry ? 'retried' : 'failed', Date.now() - started);
        log.warn({ err, retry, delayMs: retry ? delay : undefined }, 'job failed');
      })
      .catch((err: unknown) => log.error({ err }, 'job bookkeeping failed'))
      .finally(() => {
        clearInterval(beat);
        clearTimeout(timeout);
        this.running.delete(job.id);
        this.counters.running = this.running.size;
        if (this.running.size === 0) for (const f of this.idle) f();
        this.kick();
      });
  }

  /** Abort running jobs of a video (it was deleted); queued ones are cancelled in the table by the caller. */
  cancelVideo(videoId: string): void {
    for (const { job, ctrl } of this.running.values()) if (job.video_id === videoId) ctrl.abort('cancelled');
  }

  /** Number of jobs running now. */
  get active(): number {
    return this.running.size;
  }

  /** Stop polling, abort running jobs (they go back to the queue) and wait for them to unwind. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.running.size === 0) return;
    const done = new Promise<void>((resolve) => this.idle.add(resolve));
    for (const { ctrl } of this.running.values()) ctrl.abort('shutdown');
    await done;
  }
}
