/** Waiting in tests for a state reached asynchronously (another node, a poller), instead of sleeping a guessed time. */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

/** Poll `cond` every `everyMs` until it holds; after `ms` fail naming `what`. */
export async function until(cond: () => Promise<boolean> | boolean, what: string, ms = 30_000, everyMs = 25): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(everyMs);
  }
  assert.fail(`timed out: ${what}`);
}

/** `p`, or a failure naming `what` after `ms`: an awaited event that never comes names its step instead of hanging the file. */
export async function within<T>(p: Promise<T>, what: string, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new assert.AssertionError({ message: `timed out after ${ms} ms: ${what}` })), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
