/**
 * Child processes a test or benchmark starts: wait until one listens on its port, stop it
 * gracefully (SIGTERM, SIGKILL after 10 s) and wait for its exit.
 */
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolve once 127.0.0.1:port accepts connections; reject when `child` exits or `ms` passes. */
export async function waitPort(port: number, child: ChildProcess | null, ms: number, what: () => string): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child !== null && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`process exited (${child.exitCode ?? child.signalCode}): ${what()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listening on ${port} after ${ms} ms: ${what()}`);
}

/** SIGTERM a child we started and wait for it (SIGKILL after 10 s). */
export async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

