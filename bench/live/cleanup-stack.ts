/**
 * Resources a live bench script must release however it ends (done, failed, hard limit, Ctrl-C):
 * push a release function as each one is acquired; cleanup() runs them newest first, logging and
 * skipping the ones that throw, so one failure never leaves the rest (a Strom, a browser) running.
 */

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
