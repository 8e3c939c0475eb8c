/**
 * Readiness checks behind `GET /readyz`: each returns null when fine or a reason naming what is
 * wrong. `storage` writes and deletes a probe file in every directory Strom writes media to
 * (creating it if missing), `database` runs `select 1` and fails, naming the database, after
 * `DB_CHECK_MS` at most (a stopped or unreachable PostgreSQL must not hang the probe),
 * `ffmpeg`/`ffprobe` run `-version` (a success is trusted for `health.toolCacheMs`),
 * `http`/`rtmp`/`metrics` check their listeners.
 */
import { execFile } from 'node:child_process';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { isStoreUnavailable } from '../store/db/store-outage.js';

/** One named check. */
export type Check = () => Promise<string | null>;

/** What the checks read. */
export interface ReadinessDeps {
  dataDir: string;
  db: () => Kysely<unknown> | null;
  /** The database as named in messages (engine, file or masked `store.url`). */
  dbWhere?: string;
  ffmpegPath: string;
  ffprobePath: string;
  toolCacheMs: number;
  httpListening: () => boolean;
  /** null when RTMP is disabled (the check is left out). */
  rtmpListening: (() => boolean) | null;
  /** null without a separate metrics listener. */
  metricsListening: (() => boolean) | null;
  /** null on a single node; in cluster mode, whether the Redis command connection is ready. */
  redisReady?: (() => boolean) | null;
  /** `storage.kind = s3`: whether the bucket answers (src/storage/create-storage.ts `bucketCheck`); null on a file system. */
  bucket?: (() => Promise<string | null>) | null;
}

/** Longest the `database` check waits for `select 1`. */
export const DB_CHECK_MS = 2000;

/** Directories under the data directory that must be writable. */
export const WRITABLE_DIRS = ['assets', 'tmp'] as const;

let probeSeq = 0;

function runVersion(file: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(file, ['-version'], { timeout: 5000 }, (err, stdout) => {
      if (err) resolve(`${file} -version failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
      else resolve(stdout.includes('version') ? null : `${file} -version printed no version`);
    });
  });
}

/** A `-version` check whose success is cached for `ttlMs` (failures are re-checked every time). */
function toolCheck(file: string, ttlMs: number): Check {
  let okUntil = 0;
  return async () => {
    if (Date.now() < okUntil) return null;
    const why = await runVersion(file);
    if (why === null) okUntil = Date.now() + ttlMs;
    return why;
  };
}

/** Build the named checks. */
export function readinessChecks(d: ReadinessDeps): Record<string, Check> {
  const checks: Record<string, Check> = {
    storage: async () => {
      for (const dir of WRITABLE_DIRS) {
        const full = path.join(d.dataDir, dir);
        // Unique per run: /readyz and a /metrics scrape (strom_ready) may check at the same time.
        const probe = path.join(full, `.readyz-${process.pid}-${++probeSeq}`);
        try {
          await mkdir(full, { recursive: true });
          await writeFile(probe, 'ok');
          await unlink(probe);
        } catch (err) {
          return `${full} is not writable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
        }
      }
      return null;
    },
    database: async () => {
      const db = d.db();
      const name = d.dbWhere ?? 'database';
      if (db === null) return `${name} not open`;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`${name} did not answer select 1 within ${DB_CHECK_MS} ms`), DB_CHECK_MS)));
      const query = sql`select 1`.execute(db).then(
        () => null,
        // STORE_UNAVAILABLE already names the database; anything else gets its name added.
        (err: unknown) => (isStoreUnavailable(err) ? err.message : `select 1 on ${name} failed: ${(err as Error).message}`),
      );
      return Promise.race([query, late]).finally(() => clearTimeout(timer));
    },
    ffmpeg: toolCheck(d.ffmpegPath, d.toolCacheMs),
    ffprobe: toolCheck(d.ffprobePath, d.toolCacheMs),
    http: async () => (d.httpListening() ? null : 'HTTP listener not up'),
  };
  if (d.rtmpListening) {
    const up = d.rtmpListening;
    checks.rtmp = async () => (up() ? null : 'RTMP listener not up');
  }
  if (d.metricsListening) {
    const up = d.metricsListening;
    checks.metrics = async () => (up() ? null : 'metrics listener not up');
  }
  if (d.redisReady) {
    const up = d.redisReady;
    checks.redis = async () => (up() ? null : 'Redis (cluster.redisUrl) unreachable');
  }
  if (d.bucket) checks.bucket = d.bucket;
  return checks;
}

/** Run every check in parallel: `{ready, checks: {name: 'ok' | reason}, failing: [names]}`. */
export async function runChecks(checks: Record<string, Check>): Promise<{ ready: boolean; checks: Record<string, string>; failing: string[] }> {
  const names = Object.keys(checks);
  const results = await Promise.all(names.map((n) => checks[n]!().catch((err: unknown) => `check threw: ${(err as Error).message}`)));
  const out: Record<string, string> = {};
  const failing: string[] = [];
  names.forEach((n, i) => {
    out[n] = results[i] ?? 'ok';
    if (results[i] !== null) failing.push(n);
  });
  return { ready: failing.length === 0, checks: out, failing };
}
