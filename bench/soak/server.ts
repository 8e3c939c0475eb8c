/**
 * The Strom under soak, run as an operator runs it: `node bin/strom.js serve` (the compiled
 * dist/) as a child process on a temp data directory, delivery workers at their default, RTMP on a
 * free port and static stream keys for the soak's publishers. Its JSON log goes to a file; error
 * and fatal lines are counted as they arrive. The pids of the main process and of its delivery
 * workers (its `node` children) are read from /proc for the sampler.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { cleanEnv } from '../../test/helpers/strom-process.js';
import { freePort } from '../../test/helpers/free-port.js';
import { terminate } from '../../test/helpers/child-process.js';

const execFileP = promisify(execFile);

/** A running `strom serve` child. */
export interface SoakServer {
  url: string;
  rtmpPort: number;
  dataDir: string;
  /** Bearer token with every API scope. */
  token: string;
  /** Pid of the main process. */
  pid: number;
  /** Error/fatal log lines so far, and the last few of them. */
  errors: { count: number; last: string[] };
  /** Warn lines so far. */
  warnings: number;
  /** The main pid and its delivery workers' pids (node children), read now. */
  pids(): number[];
  stop(): Promise<void>;
}

/** Pids whose parent is `ppid` and whose command is `comm`. */
export function childPids(ppid: number, comm: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const parent = Number(stat.slice(close + 2).split(' ')[1]);
      if (parent === ppid && name === comm) out.push(Number(e));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Start `strom serve` from `root`'s dist/ with extra `--set` settings; resolves when /readyz is 200. */
export async function startSoakServer(root: string, dataDir: string, settings: Record<string, string>): Promise<SoakServer> {
  const port = await freePort();
  const rtmpPort = await freePort();
  const sets = Object.entries({ logLevel: 'info', ...settings }).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
  // STROM_NODE_ARGS: extra node flags for the server (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
  const nodeArgs = (process.env.STROM_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, path.join(root, 'bin', 'strom.js'), 'serve', '--host', '127.0.0.1', '--port', String(port),
    '--rtmp-port', String(rtmpPort), '--data', dataDir, ...sets], { cwd: root, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(path.join(dataDir, 'strom.log'));
  const errors = { count: 0, last: [] as string[] };
  let warnings = 0;
  let partial = '';
  const onData = (d: Buffer): void => {
    log.write(d);
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const level = /"level":(\d+)/.exec(line);
      const n = level ? Number(level[1]) : /error|fatal/i.test(line) ? 50 : 30;
      if (n >= 50) {
        errors.count++;
        errors.last = [...errors.last.slice(-4), line.slice(0, 600)];
      } else if (n === 40) warnings++;
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`strom serve exited ${child.exitCode}; see ${path.join(dataDir, 'strom.log')}`);
    const r = await fetch(`${url}/readyz`).catch(() => null);
    if (r?.status === 200) break;
    if (i > 600) {
      await terminate(child);
      throw new Error('strom serve not ready after 60 s');
    }
    await sleep(100);
  }
  const { stdout } = await execFileP(process.execPath, [path.join(root, 'bin', 'strom.js'), 'token', 'create', '--scope', 'videos:read videos:write live:write admin',
    '--ttl', '48h', '--data', dataDir], { cwd: root, env: cleanEnv() });
  const pid = child.pid!;
  return {
    url, rtmpPort, dataDir, token: stdout.trim(), pid, errors,
    get warnings() {
      return warnings;
    },
    pids: () => [pid, ...childPids(pid, 'node')],
    async stop() {
      await terminate(child);
      await new Promise((r) => log.end(r));
    },
  };
}
