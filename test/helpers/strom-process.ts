/**
 * Helpers for tests that run the `strom` executable as an operator does (`node bin/strom.js`):
 * a compiled dist/ no older than src/, an environment free of the caller's STROM_* settings, and
 * a check that a port has been released.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import assert from 'node:assert/strict';

/** Newest mtime below a directory (for "is dist older than src?"). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Compile dist/ when it is missing or older than src/ (bin/strom.js runs dist/main.js). */
export async function ensureDist(root: string): Promise<void> {
  const main = path.join(root, 'dist', 'main.js');
  if (!existsSync(main) || statSync(main).mtimeMs < newest(path.join(root, 'src'))) {
    // tsc emits even when it reports type errors elsewhere in the tree; the tests decide.
    await new Promise<void>((resolve) => execFile('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, timeout: 240_000 }, () => resolve()));
  }
  assert.ok(existsSync(main), 'dist/main.js was not built');
}

/** The environment without the caller's STROM_* settings, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('STROM_')) env[k] = v;
  return { ...env, ...extra };
}

/** Resolves true when a TCP connection to the port is refused. */
export function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}
