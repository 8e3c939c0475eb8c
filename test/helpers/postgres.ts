/**
 * A private PostgreSQL for tests, and `forEachDialect` to run one set of store tests on SQLite and
 * on PostgreSQL. The server is started once per test file (each file is its own process): `initdb`
 * into a temporary directory, listening on 127.0.0.1 at a free port with its socket in that
 * directory and `fsync=off` (a test database need not survive a power cut; commits still reach the
 * operating system at once, so a stopped or killed server loses nothing). PostgreSQL refuses to
 * run as root, so as root it runs as the `postgres` system user the Debian package creates (or
 * `nobody`) through `runuser`, in a directory that user owns. Each test gets its own database.
 * The server is destroyed (`pg_ctl stop -m immediate`, directory removed) after the file, at exit
 * if the file ends early, or by a small watchdog shell if the file is killed. `stop()` and
 * `start()` take the server away and bring it back on the same port and data directory, as an
 * outage does, for degraded-mode tests.
 */
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, type TestContext } from 'node:test';
import pg from 'pg';
import type { RawSettings } from '../../src/config.js';
import { openStore, type Store, type StoreOptions } from '../../src/store/db/database.js';
import type { DialectName } from '../../src/store/db/sql-dialect.js';
import { freePort } from './free-port.js';

const run = promisify(execFile);

/** A running private PostgreSQL. */
export interface PgServer {
  port: number;
  /** A new empty database; returns its `postgres://` URL. */
  createDatabase(): Promise<string>;
  /** Stop the server at once (`pg_ctl stop -m immediate`: connections are cut, as in a crash), keeping its data. */
  stop(): Promise<void>;
  /** Start the stopped server again on the same port and data directory. */
  start(): Promise<void>;
  /** Stop the server and remove its directory. */
  destroy(): Promise<void>;
}

/** The directory holding initdb/pg_ctl: /usr/lib/postgresql/<newest version>/bin, else PATH; null when absent. */
export function postgresBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(path.join(base, v, 'bin', 'pg_ctl'))) return path.join(base, v, 'bin');
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir && existsSync(path.join(dir, 'pg_ctl')) && existsSync(path.join(dir, 'initdb'))) return dir;
  return null;
}

/** The unprivileged user to run as when we are root (PostgreSQL refuses root), else null. */
function serverUser(): { name: string; uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      return { name, uid, gid };
    } catch {
      // no such user: try the next
    }
  }
  throw new Error('running as root, but neither a "postgres" nor a "nobody" user exists to run PostgreSQL as');
}

/** Start a private PostgreSQL (see the file header). Fails with the package to install when absent. */
export async function startPostgres(): Promise<PgServer> {
  const bin = postgresBinDir();
  if (!bin) {
    throw new Error('PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/<version>/bin or on PATH: '
      + 'install the Debian package "postgresql" (apt-get install postgresql, or bash scripts/setup.sh test'
      + `${process.env.CI ? ', which CI runs first: check that step' : ''})`);
  }
  const user = serverUser();
  // As root the server user must reach the directory: /tmp is traversable by everyone, a TMPDIR may not be.
  const dir = mkdtempSync(path.join(user ? '/tmp' : tmpdir(), 'strom-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const argv = (tool: string, args: string[]): [string, string[]] =>
    user ? ['runuser', ['-u', user.name, '--', path.join(bin, tool), ...args]] : [path.join(bin, tool), args];
  const exec = (tool: string, args: string[]) => run(...argv(tool, args), { cwd: dir });

  const stopArgv = argv('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
  // A file killed by a signal runs no exit handler and would leave the server running: a detached
  // shell waits for this process to end and then stops the server and removes its directory.
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; `
    + `${[stopArgv[0], ...stopArgv[1]].map(quote).join(' ')} >/dev/null 2>&1; rm -rf ${quote(dir)}`], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    watchdog.kill();
    spawnSync(...stopArgv, { cwd: dir, stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stopSync);
  try {
    await exec('initdb', ['-D', data, '-U', 'strom', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    let port = 0;
    const pgStart = () => exec('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', '-o',
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=16MB`, 'start']);
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await pgStart();
        break;
      } catch (err) {
        if (attempt >= 3) throw err; // the port may have been taken between freePort and the bind
      }
    }
    // The admin connection is opened when needed and again after a stop()/start().
    let admin: pg.Client | null = null;
    const adminClient = async (): Promise<pg.Client> => {
      if (admin) return admin;
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'strom', database: 'postgres' });
      c.on('error', () => {
        if (admin === c) admin = null; // the server was stopped under it
      });
      await c.connect();
      return (admin = c);
    };
    const closeAdmin = async () => {
      const c = admin;
      admin = null;
      await c?.end().catch(() => undefined);
    };
    let n = 0;
    return {
      port,
      async createDatabase() {
        const name = `strom_test_${++n}`;
        await (await adminClient()).query(`create database ${name}`);
        return `postgres://strom@127.0.0.1:${port}/${name}`;
      },
      async stop() {
        await closeAdmin();
        await exec('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      },
      start: async () => void (await pgStart()),
      async destroy() {
        await closeAdmin();
        stopSync();
        process.removeListener('exit', stopSync);
      },
    };
  } catch (err) {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
    stopSync();
    process.removeListener('exit', stopSync);
    throw new Error(`could not start a private PostgreSQL: ${(err as Error).message}${log ? `\nserver log:\n${log}` : ''}`, { cause: err });
  }
}

let shared: Promise<PgServer> | null = null;
let stopRegistered = false;

/** The file's PostgreSQL, started on first use and stopped after the file's last test. */
export function sharedPostgres(): Promise<PgServer> {
  shared ??= startPostgres();
  return shared;
}

/** What a test body gets per dialect. */
export interface DialectHarness {
  name: DialectName;
  /** Where a new, empty store lives; open it (more than once if wanted) with `openStore(dataDir, { url })`. */
  location(t: TestContext): Promise<{ dataDir: string; url: string | null }>;
  /** Open a store on a new, empty database; closed after the test. */
  open(t: TestContext, o?: Omit<StoreOptions, 'url'>): Promise<Store>;
  /** Settings selecting a new, empty database, for `startApi(t, settings)`/`testConfig`: `{}` on SQLite. */
  settings(): Promise<RawSettings>;
}

function harness(name: DialectName): DialectHarness {
  const url = async (): Promise<string | null> => (name === 'postgres' ? (await sharedPostgres()).createDatabase() : null);
  return {
    name,
    async location(t) {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-store-'));
      t.after(() => rmSync(dataDir, { recursive: true, force: true }));
      return { dataDir, url: await url() };
    },
    async open(t, o = {}) {
      const store = await openStore(':memory:', { ...o, url: await url() });
      t.after(() => store.close());
      return store;
    },
    async settings() {
      const u = await url();
      return u === null ? {} : { 'store.url': u };
    },
  };
}

/** The dialects every store test runs on. */
export const DIALECTS: readonly DialectName[] = ['sqlite', 'postgres'];

/**
 * Declare the tests of `fn` once per dialect, each set in a `describe` named after it. Call at the
 * top level of a test file; PostgreSQL starts before the first PostgreSQL test and stops after the file.
 */
export function forEachDialect(fn: (d: DialectHarness) => void): void {
  declare(DIALECTS, fn);
}

/** Like `forEachDialect` for PostgreSQL-only tests (cluster behaviour SQLite does not have). */
export function onPostgres(fn: (d: DialectHarness) => void): void {
  declare(['postgres'], fn);
}

function declare(names: readonly DialectName[], fn: (d: DialectHarness) => void): void {
  if (!stopRegistered) {
    stopRegistered = true;
    after(async () => {
      if (shared) await (await shared.catch(() => null))?.destroy();
    });
  }
  for (const name of names) {
    describe(name, () => {
      if (name === 'postgres') before(() => sharedPostgres().then(() => undefined));
      fn(harness(name));
    });
  }
}
