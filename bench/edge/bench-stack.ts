/**
 * What the edge benches (bench/edge/hot-vod.ts, bench/edge/coalescing.ts) share: the tiers they put
 * in front of an origin, each a child process — nginx running the CDN configuration we ship
 * (deploy/cdn/nginx.conf) and `strom edge` from dist/ — their temp directories, and `runBench`,
 * which stops every child and removes every directory however the bench ends.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { fillPlaceholders, findBinary, NGINX_CONF } from '../../test/helpers/cdn.js';
import { freePort } from '../../test/helpers/free-port.js';

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `cluster.secret` of the bench origins and the `strom edge` in front of them. */
export const BENCH_SECRET = 'bench-edge-secret-0123456789';

const children: ChildProcess[] = [];
const dirs: string[] = [];

/** A new temp directory, removed when the bench ends. */
export function benchDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Compile the server into dist/, which `startStromEdge` runs. */
export function buildDist(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
}

/** A tier running in front of the origin. */
export interface Tier {
  url: string;
  /** SIGTERM it now rather than when the bench ends. */
  stop(): void;
}

function tier(child: ChildProcess, port: number): Tier {
  children.push(child);
  return { url: `http://127.0.0.1:${port}`, stop: () => void child.kill('SIGTERM') };
}

/** GET `urlPath` on 127.0.0.1:`port` until `ok(status)`; reject after `ms`. */
async function waitHttp(port: number, urlPath: string, ok: (status: number) => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const status = await new Promise<number>((resolve) => {
      http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      }).on('error', () => resolve(0));
    });
    if (status !== 0 && ok(status)) return;
    await sleep(100);
  }
  throw new Error(`127.0.0.1:${port}${urlPath} not ready after ${ms} ms`);
}

/**
 * nginx with deploy/cdn/nginx.conf in front of 127.0.0.1:`originPort`, inside a minimal main
 * configuration: 2 workers (one per core), `workerConnections` each, access log off, a 1 GB cache
 * in its own temp directory. Resolves once it answers HTTP.
 */
export async function startNginxCdn(originPort: number, workerConnections: number): Promise<Tier> {
  const dir = benchDir('strom-bench-nginx-');
  mkdirSync(path.join(dir, 'cache'));
  const port = await freePort();
  writeFileSync(path.join(dir, 'strom-cdn.conf'), fillPlaceholders(readFileSync(NGINX_CONF, 'utf8'), {
    STROM_ORIGIN: `127.0.0.1:${originPort}`, CDN_LISTEN: `127.0.0.1:${port}`, CDN_CACHE_DIR: path.join(dir, 'cache'), CDN_CACHE_MAX_SIZE: '1g',
  }));
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${path.join(dir, k)};`).join('\n');
  writeFileSync(path.join(dir, 'nginx.conf'), `${process.getuid?.() === 0 ? 'user root root;\n' : ''}daemon off;
worker_processes 2;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections ${workerConnections}; }
http {
  access_log off;
${temp}
  include ${path.join(dir, 'strom-cdn.conf')};
}
`);
  const nginx = findBinary('nginx');
  if (nginx === null) throw new Error('nginx is not installed');
  const t = tier(spawn(nginx, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: 'ignore' }), port);
  await waitHttp(port, '/healthz', () => true).catch((err: unknown) => {
    let log = '';
    try {
      log = readFileSync(path.join(dir, 'error.log'), 'utf8');
    } catch {
      // nginx wrote no log
    }
    throw new Error(`nginx did not start: ${(err as Error).message}\n${log}`);
  });
  await sleep(300);
  return t;
}

/**
 * `strom edge` (dist/main.js, `nodeArgs` before it) in front of `originUrl` with the bench secret,
 * RTMP off, warn logging and no media rate limit, then `args`. Resolves once /readyz answers 200.
 */
export async function startStromEdge(originUrl: string, args: string[] = [], nodeArgs: string[] = []): Promise<Tier> {
  const port = await freePort();
  const t = tier(spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'dist/main.js'), 'edge', '--origin', originUrl, '--port', String(port), '--secret', BENCH_SECRET,
    '--set', 'rtmp.enabled=false', '--set', 'logLevel=warn', '--set', 'rateLimit.media.perMinute=0', ...args], { stdio: ['ignore', 'ignore', 'inherit'] }), port);
  await waitHttp(port, '/readyz', (status) => status === 200);
  return t;
}

/** Run the bench's `main`; however it ends, stop every child, remove every temp directory, and exit (a failure sets the exit code). */
export function runBench(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  }).finally(() => {
    for (const c of children) c.kill('SIGTERM');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    setTimeout(() => process.exit(), 500).unref();
  });
}
