/**
 * Strom for bench/startup/vod.ts, run as an operator runs it: `strom serve` as a child process
 * (from src/ through tsx, the compiled dist/ with --dist, or a commit's src/ exported with
 * `git archive` into a temp dir with --strom-ref) on a temp data directory with the
 * defaults of `strom serve` (RTMP off so port 1935 stays free), an API token from
 * `strom token create`, and the source ingested through the REST API (multipart upload) until the
 * video is `ready`.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { openAsBlob, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { cleanEnv } from '../../test/helpers/strom-process.js';
import { freePort } from '../../test/helpers/free-port.js';
import { terminate, waitPort } from '../../test/helpers/child-process.js';

const execFileP = promisify(execFile);
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Which Strom code runs: `root`/src through tsx, or the checkout's compiled dist/. */
export interface StromCode {
  root: string;
  dist: boolean;
  /** What it is, for the report: "working tree", "dist/", "ref <rev> (<hash>)". */
  label: string;
}

/** `node … strom` arguments for `code`. */
function strom(code: StromCode): string[] {
  return code.dist ? [path.join(code.root, 'bin', 'strom.js')] : ['--import', 'tsx', path.join(code.root, 'src', 'main.ts')];
}

/** `rev`'s src/ (read with git archive: nothing in the checkout changes) in `dir`, run with the checkout's node_modules. */
export function codeAtRev(rev: string, dir: string): StromCode {
  const hash = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', `${rev}^{commit}`], { encoding: 'utf8' }).trim();
  execFileSync('sh', ['-c', 'git -C "$0" archive "$1" src package.json tsconfig.json | tar -x -C "$2"', ROOT, hash, dir]);
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return { root: dir, dist: false, label: `ref ${rev} (${hash})` };
}

/** The checkout's own code, with the src/ files that differ from HEAD named in the label. */
export function checkoutCode(dist: boolean): StromCode {
  let dirty = '';
  try {
    dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).split('\n').filter(Boolean).map((l) => l.slice(3)).join(', ');
  } catch {
    // not a git checkout
  }
  return { root: ROOT, dist, label: `${dist ? 'dist/ of the checkout' : 'working tree src/'}${dirty ? ` (uncommitted changes: ${dirty})` : ' (= HEAD)'}` };
}

/** A running `strom serve`. */
export interface StromServer {
  url: string;
  stop(): Promise<void>;
}

/** Start `strom serve --data dataDir` on a free loopback port and wait until /readyz answers 200. */
export async function startStromServer(dataDir: string, code: StromCode): Promise<StromServer> {
  const port = await freePort();
  let output = '';
  const child = spawn(process.execPath, [...strom(code), 'serve', '--host', '127.0.0.1', '--port', String(port), '--data', dataDir,
    '--set', 'rtmp.enabled=false', '--set', 'logLevel=warn'], { cwd: code.root, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitPort(port, child, 60_000, () => output);
    for (let i = 0; ; i++) {
      const r = await fetch(`${url}/readyz`).catch(() => null);
      if (r?.status === 200) break;
      if (i > 300) throw new Error(`strom not ready: ${output}`);
      await sleep(100);
    }
  } catch (e) {
    await terminate(child);
    throw e;
  }
  return { url, stop: () => terminate(child) };
}

function field(o: unknown, key: string): unknown {
  return typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
}

/**
 * Ingest `source` as a user does: a token from `strom token create`, a multipart upload to
 * POST /api/v1/video/upload, then GET /api/v1/videos/:id until `ready`. Returns the video id and
 * the wall time from the upload's start to `ready`.
 */
export async function ingest(url: string, dataDir: string, source: string, code: StromCode): Promise<{ id: string; ingestMs: number }> {
  const { stdout } = await execFileP(process.execPath, [...strom(code), 'token', 'create', '--scope', 'videos:read videos:write', '--ttl', '1h', '--data', dataDir],
    { cwd: code.root, env: cleanEnv() });
  const auth = { Authorization: `Bearer ${stdout.trim()}` };
  const t0 = performance.now();
  const form = new FormData();
  form.set('title', 'startup bench');
  form.set('file', await openAsBlob(source, { type: 'video/mp4' }), path.basename(source));
  const created = await fetch(`${url}/api/v1/video/upload`, { method: 'POST', headers: auth, body: form });
  const body: unknown = await created.json();
  const id = field(body, 'id');
  if (created.status !== 201 || typeof id !== 'string') throw new Error(`upload failed: ${created.status} ${JSON.stringify(body)}`);
  for (;;) {
    const v: unknown = await (await fetch(`${url}/api/v1/videos/${id}`, { headers: auth })).json();
    const status = field(v, 'status');
    if (status === 'ready') return { id, ingestMs: performance.now() - t0 };
    if (status === 'errored') throw new Error(`video ${id} errored: ${JSON.stringify(field(v, 'error'))}`);
    if (performance.now() - t0 > 300_000) throw new Error(`video ${id} not ready after 300 s (status ${String(status)})`);
    await sleep(250);
  }
}
