/**
 * A private Redis for tests: `redis-server` (Debian's package, installed by `scripts/setup.sh
 * test`) on 127.0.0.1 at a free port, without persistence, started once per test file and
 * stopped after it (or at exit if the file dies first). `stop()` and `start()` again on the same
 * port let degraded-mode tests take Redis away and bring it back empty, as a restarted Redis is.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { after } from 'node:test';
import { freePort } from './free-port.js';

/** A private redis-server. */
export interface RedisServer {
  port: number;
  url: string;
  /** Kill the server (SIGKILL: a crash, nothing flushed). */
  stop(): Promise<void>;
  /** Start it again on the same port, empty. */
  start(): Promise<void>;
}

/** Resolve once something accepts TCP connections on `port`. */
async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`redis-server did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Start a private Redis for this test file; it is stopped after the file's tests. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = async () => {
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning'], { stdio: ['ignore', 'ignore', 'pipe'] });
    c.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') console.error('redis-server not found: install the Debian package redis-server (bash scripts/setup.sh test)');
    });
    child = c;
    await waitForPort(port, 10_000);
  };
  const stop = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  after(stop);
  process.once('exit', () => {
    const c = child as ChildProcess | null;
    c?.kill('SIGKILL');
  });
  return { port, url: `redis://127.0.0.1:${port}`, stop, start };
}
