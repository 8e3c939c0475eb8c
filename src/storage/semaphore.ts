/**
 * A counting semaphore with a FIFO wait queue: how media storage bounds the requests it has in
 * flight against a bucket (`storage.s3.maxConcurrentGets` / `maxConcurrentWrites`), so a burst of
 * cache misses or a large publication queues here instead of opening unbounded sockets.
 */

/** Bounded concurrency: `run(fn)` waits for a permit, `acquire()` hands one out to release later. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  /** @param limit permits (≥ 1). */
  constructor(readonly limit: number) {}

  /** Permits in use. */
  get inUse(): number {
    return this.active;
  }

  /** Callers waiting for a permit. */
  get queued(): number {
    return this.waiting.length;
  }

  /** A permit; call the returned function exactly once to give it back. */
  acquire(): Promise<() => void> {
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve) => this.waiting.push(() => resolve(this.releaser())));
  }

  /** Run `fn` holding a permit. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) next(); // the permit passes on; `active` stays
      else this.active--;
    };
  }
}

/** Run `fn` over `items` with at most `limit` at once; rejects with the first failure after the running ones settle. */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failed === null && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== null) throw (failed as { err: unknown }).err;
}
