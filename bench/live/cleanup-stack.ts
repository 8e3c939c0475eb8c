/**
 * Resources a live bench script must release however it ends (done, failed, hard limit, Ctrl-C):
 * push a release function as each one is acquired; cleanup() runs them newest first, logging and
 * skipping the ones that throw, so one failure never leaves the rest (a Strom, a browser) running.
 * `servePage` serves a bench's browser page and registers its close.
 */

import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Release functions, oldest first (a script may also unwind a tail with `splice(mark)`). */
export const cleanups: Array<() => Promise<unknown> | unknown> = [];

/** Run and forget every release function, newest first. */
export async function cleanup(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch (e) {
      console.error('cleanup:', (e as Error).message);
    }
  }
}

/** Serve one HTML page on a loopback port until cleanup(); returns its URL. */
export async function servePage(html: string): Promise<string> {
  const server = http.createServer((_q, r) => r.writeHead(200, { 'Content-Type': 'text/html' }).end(html));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

/**
 * Run a bench's `main` with a hard limit: past `limitMs` everything is released and the process
 * exits 2; otherwise cleanup() runs when `main` ends, and a failure sets exit code 1.
 */
export function runBench(main: () => Promise<void>, limitMs: number): void {
  const watchdog = setTimeout(() => void cleanup().finally(() => process.exit(2)), limitMs);
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  }).finally(async () => {
    await cleanup();
    clearTimeout(watchdog);
  });
}
