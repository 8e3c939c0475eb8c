/**
 * Reusable read buffers for bodies that are sent but not cached. A cache miss that the
 * admission policy keeps out of the hot cache would otherwise allocate a fresh ~0.5 MB Buffer per
 * request — outside the V8 heap, but each one pushes the external-memory counter that triggers
 * full garbage collections (28 % of a worker's CPU in benchmark scenario (b) without the pool). A buffer
 * goes back to the pool once the socket has taken its bytes; idle bytes are bounded.
 */

const MIB = 1024 * 1024;

/** A free list of Buffers, bounded by idle bytes. */
export class ReadPool {
  private readonly free: Buffer[] = [];
  private idle = 0;

  /** @param maxIdleBytes idle bytes kept for reuse; released buffers beyond it are dropped. */
  constructor(readonly maxIdleBytes: number) {}

  /** The pool bound Strom uses: a quarter of the hot-cache budget, at least 8 MiB, at most 64 MiB. */
  static forCache(cacheBytes: number): ReadPool {
    return new ReadPool(Math.min(64 * MIB, Math.max(8 * MIB, Math.floor(cacheBytes / 4))));
  }

  /** A buffer of at least `size` bytes (reused when one is free, else allocated in 64 KiB steps). */
  take(size: number): Buffer {
    for (let i = this.free.length - 1; i >= 0; i--) {
      const b = this.free[i]!;
      if (b.length >= size) {
        this.free.splice(i, 1);
        this.idle -= b.length;
        return b;
      }
    }
    return Buffer.allocUnsafeSlow(Math.ceil(size / 65536) * 65536);
  }

  /** Return a buffer taken from `take` once nothing reads it any more. */
  give(b: Buffer): void {
    if (this.idle + b.length > this.maxIdleBytes) return;
    this.free.push(b);
    this.idle += b.length;
  }
}
