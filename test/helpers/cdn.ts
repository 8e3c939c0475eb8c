/**
 * Private nginx and Varnish instances running the shipped edge configurations (deploy/cdn/) in
 * front of a test origin: placeholders filled with a temp cache directory and random ports,
 * pid/logs/temp files/working directory in one temp directory, no daemon, stopped by the test.
 * Nothing touches the machine's own nginx or Varnish (their configuration, ports or logs).
 */
import { spawn, execFile } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';
import { terminate, waitPort } from './child-process.js';

const execFileP = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The shipped edge configurations. */
export const NGINX_CONF = path.join(ROOT, 'deploy', 'cdn', 'nginx.conf');
export const VARNISH_VCL = path.join(ROOT, 'deploy', 'cdn', 'varnish.vcl');

/** Absolute path of a command on PATH or in /usr/sbin (Debian puts nginx and varnishd there), or null. */
export function findBinary(name: string): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/local/sbin']) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Why a CDN test file cannot run, or null when it can. Missing binaries fail under CI (setup.sh
 * test installs them, so CI must run these tests) and skip elsewhere with what to install.
 */
export function cdnUnavailable(binary: string, debianPackage: string): string | null {
  if (findBinary(binary) !== null) return null;
  const why = `${binary} is not installed: run \`bash scripts/setup.sh test\` (Debian package ${debianPackage})`;
  if (process.env.CI) throw new Error(`${why}; CI installs it, so these tests must run there`);
  return why;
}

/** Replace `${NAME}` placeholders; every placeholder of the file must be given, none may be left. */
export function fillPlaceholders(text: string, values: Record<string, string>): string {
  const out = text.replace(/\$\{([A-Z][A-Z0-9_]*)\}/g, (whole, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`no value for placeholder ${whole}`);
    return v;
  });
  for (const name of Object.keys(values)) if (!text.includes(`\${${name}}`)) throw new Error(`the file has no placeholder \${${name}}`);
  return out;
}

/** A running edge. */
export interface Edge {
  url: string;
  port: number;
  /** Its private directory (logs, cache, pid, working directory). */
  dir: string;
  /** nginx: lines of its access log (`<status> <cache status> <request uri>`). */
  accessLog(): string[];
  /** What the edge itself reported (error log / varnishd output), for assertion messages. */
  diagnostics(): string;
  stop(): Promise<void>;
}

/** A temp directory the unprivileged worker users (nginx `user`, Varnish's jail users) can enter. */
function edgeDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * deploy/cdn/nginx.conf inside a minimal main configuration (the part an operator's nginx.conf
 * already has: workers, pid, logs, temp paths), 2 workers, in front of 127.0.0.1:`originPort`.
 */
export async function startNginx(originPort: number): Promise<Edge> {
  const bin = findBinary('nginx');
  if (bin === null) throw new Error('nginx is not installed');
  const dir = edgeDir('strom-nginx-');
  const cache = path.join(dir, 'cache');
  mkdirSync(cache);
  const port = await freePort();
  writeFileSync(path.join(dir, 'strom-cdn.conf'), fillPlaceholders(readFileSync(NGINX_CONF, 'utf8'), {
    STROM_ORIGIN: `127.0.0.1:${originPort}`, CDN_LISTEN: `127.0.0.1:${port}`, CDN_CACHE_DIR: cache, CDN_CACHE_MAX_SIZE: '256m',
  }));
  const me = userInfo();
  // As root, nginx would switch its workers to `nobody`, which cannot write this directory.
  const user = me.uid === 0 ? 'user root root;\n' : '';
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${path.join(dir, `${k}_temp`)};`).join('\n');
  writeFileSync(path.join(dir, 'nginx.conf'), `${user}daemon off;
worker_processes 2;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} info;
events { worker_connections 1024; }
http {
  log_format edge '$status $upstream_cache_status $request_uri';
  access_log ${path.join(dir, 'access.log')} edge;
${temp}
  include ${path.join(dir, 'strom-cdn.conf')};
}
`);
  const args = ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')];
  const read = (f: string) => {
    try {
      return readFileSync(path.join(dir, f), 'utf8');
    } catch {
      return '';
    }
  };
  await execFileP(bin, ['-t', '-q', ...args]).catch((e: Error & { stderr?: string }) => {
    throw new Error(`nginx -t failed: ${e.stderr ?? e.message}`);
  });
  const child = spawn(bin, args, { stdio: 'ignore' });
  await waitPort(port, child, 10_000, () => read('error.log')).catch(async (e: unknown) => {
    await terminate(child);
    throw e;
  });
  return {
    url: `http://127.0.0.1:${port}`, port, dir,
    accessLog: () => read('access.log').split('\n').filter(Boolean),
    diagnostics: () => read('error.log'),
    async stop() {
      await terminate(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Varnish instance running deploy/cdn/varnish.vcl in front of 127.0.0.1:`originPort`. */
export interface VarnishEdge extends Edge {
  /** `varnishadm backend.list` of this instance. */
  backends(): Promise<string>;
}

/** varnishd in the foreground (-F) with its own working directory (-n) and 64 MB of malloc storage. */
export async function startVarnish(originPort: number): Promise<VarnishEdge> {
  const bin = findBinary('varnishd');
  if (bin === null) throw new Error('varnishd is not installed');
  const dir = edgeDir('strom-varnish-');
  const port = await freePort();
  const vcl = path.join(dir, 'strom-cdn.vcl');
  writeFileSync(vcl, fillPlaceholders(readFileSync(VARNISH_VCL, 'utf8'), { STROM_ORIGIN_HOST: '127.0.0.1', STROM_ORIGIN_PORT: String(originPort) }));
  const work = path.join(dir, 'work');
  let output = '';
  // -T: the management CLI on a random loopback port (varnishadm finds it through -n).
  const child = spawn(bin, ['-F', '-a', `127.0.0.1:${port}`, '-T', '127.0.0.1:0', '-f', vcl, '-n', work, '-s', 'malloc,64m'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await waitPort(port, child, 30_000, () => output).catch(async (e: unknown) => {
    await terminate(child);
    throw e;
  });
  const adm = findBinary('varnishadm');
  return {
    url: `http://127.0.0.1:${port}`, port, dir,
    accessLog: () => [],
    diagnostics: () => output,
    async backends() {
      if (adm === null) throw new Error('varnishadm is not installed');
      return (await execFileP(adm, ['-n', work, 'backend.list'])).stdout;
    },
    async stop() {
      await terminate(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
