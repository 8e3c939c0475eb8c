/**
 * Lower the load generator's CPU priority below the server it measures. On Linux a niceness
 * belongs to a thread, so every thread of this process is reniced (libuv's pool, V8's helpers);
 * children spawned afterwards (ffmpeg publishers, Chromium) inherit it from the spawning thread.
 */
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Set `niceness` on every thread of this process; returns how many threads were changed. */
export function reniceSelf(niceness: number): number {
  let changed = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      setPriority(Number(tid), niceness);
      changed += 1;
    } catch {
      // a thread that ended between the listing and the call
    }
  }
  return changed;
}
