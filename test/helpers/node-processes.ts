/**
 * Strom nodes as separate `node bin/strom.js serve` processes (the compiled server, started as an operator does), for cluster tests that must kill a
 * node the hard way (SIGKILL: no shutdown hook runs, its leases are left to expire). Each node gets
 * its own data directory and free port; settings go in as `--set key=value` flags. A node is
 * ready when `/readyz` answers 200. Every node still running when the file ends is killed and
 * its directory removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RawSettings } from '../../src/config.js';
import { freePort } from './free-port.js';
import { cleanEnv, ensureDist } from './strom-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/** One node process. */
export interface NodeProcess {
  name: string;
  url: string;
  dataDir: string;
  /** Lines the node wrote to stderr (its log at `logLevel`), for failure messages. */
  log: string[];
  /** SIGKILL: the node dies mid-work, as on a power cut. */
  kill(): Promise<void>;
  /** SIGTERM and wait for a graceful exit. */
  stop(): Promise<void>;
}

/** Start `node bin/strom.js serve` with `settings`; resolves once `/readyz` is 200. */
export async function startNode(name: string, settings: RawSettings, readyTimeoutMs = 60_000): Promise<NodeProcess> {
  await ensureDist(root);
  const dataDir = mkdtempSync(path.join(tmpdir(), `strom-${name}-`));
  const port = await freePort();
  const args = ['bin/strom.js', 'serve', '--data', dataDir, '--port', String(port)];
  for (const [k, v] of Object.entries({ logLevel: 'warn', 'rtmp.enabled': false, 'delivery.workers': 0, ...settings })) {
    args.push('--set', `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  }
  const child = spawn(process.execPath, args, { cwd: root, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  const log: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (s: string) => log.push(...s.split('\n').filter(Boolean)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    running.delete(child);
    resolve();
  }));
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before it was ready:\n${log.slice(-20).join('\n')}`);
    const ok = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > until) throw new Error(`${name} was not ready within ${readyTimeoutMs} ms:\n${log.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { name, url, dataDir, log, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}
