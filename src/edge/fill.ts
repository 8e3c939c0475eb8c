/**
 * One origin request shared by every viewer that wants the same object while it is in flight —
 * request coalescing ("collapsed forwarding", RFC 9211 §2.6 `collapsed`).
 *
 * The body is kept as the list of chunks received so far. A viewer reads it with its own cursor
 * (viewer-response.ts, pumpFill), so each viewer gets the bytes as they arrive — an LL-HLS part or a chunked
 * LL-DASH segment reaches every waiting viewer chunk by chunk, never after the whole object —
 * and a slow viewer only holds its cursor, not a copy. The chunks are the object the cache stores
 * when the response completes, so buffering them costs nothing extra; a response that grows past
 * `maxObjectBytes` stops being storable (its current viewers still get it).
 */
import type { Dispatcher } from 'undici';
import { cachePolicy, type CachePolicy } from './cached-object.js';
import type { OriginPool, OriginRequest, OriginResponse } from './origin-pool.js';

/** What a fill is doing. */
export type FillState = 'pending' | 'streaming' | 'done' | 'failed';

/** The coalesced origin request for one cache key. */
export class Fill {
  state: FillState = 'pending';
  status = 0;
  headers: Record<string, string | string[] | undefined> = {};
  readonly chunks: Buffer[] = [];
  bytes = 0;
  /** Content-Length announced by the origin, or null (chunked). */
  length: number | null = null;
  policy: CachePolicy = { store: false, lifetimeMs: 0, immutable: false };
  /** True while the response may still be stored when it completes. */
  storable = false;
  error: Error | null = null;
  /** The origin that answered (for logs and metrics). */
  originUrl: string | null = null;
  /** Viewers attached (the first is the one that caused the request). */
  viewers = 0;
  private readonly listeners = new Set<() => void>();
  /** Resolves once the origin's head arrived or the request failed (never rejects). */
  readonly headed: Promise<void>;
  /** Resolves once the response is complete or failed (never rejects). */
  readonly settled: Promise<void>;
  private onHead!: () => void;
  private onSettled!: () => void;
  private body: Dispatcher.ResponseData['body'] | null = null;

  constructor(readonly key: string, private readonly maxObjectBytes: number) {
    this.headed = new Promise((resolve) => (this.onHead = resolve));
    this.settled = new Promise((resolve) => (this.onSettled = resolve));
  }

  /** Call `fn` on every change (head, chunk, end, failure) until the returned function is called. */
  watch(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Number of change listeners (viewers still reading). */
  get watchers(): number {
    return this.listeners.size;
  }

  /** The complete body (valid once `state === 'done'`). */
  whole(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bytes);
  }

  /** Send `req` through `pool` and receive the response into this fill. Never rejects. */
  async run(pool: OriginPool, req: OriginRequest, onBytes: (n: number) => void): Promise<void> {
    let r: OriginResponse;
    try {
      r = await pool.request(req);
    } catch (err) {
      return this.fail(err as Error);
    }
    this.originUrl = r.origin.url;
    this.status = r.status;
    this.headers = r.headers;
    const cl = r.headers['content-length'];
    this.length = typeof cl === 'string' && /^\d+$/.test(cl) ? Number(cl) : null;
    this.policy = cachePolicy(r.headers);
    this.storable = r.status === 200 && this.policy.store && (this.length === null || this.length <= this.maxObjectBytes) && r.headers.vary === undefined;
    this.state = 'streaming';
    this.body = r.body;
    this.emit();
    try {
      for await (const chunk of r.body as AsyncIterable<Buffer>) {
        this.chunks.push(chunk);
        this.bytes += chunk.length;
        onBytes(chunk.length);
        if (this.bytes > this.maxObjectBytes) this.storable = false;
        this.emit();
      }
    } catch (err) {
      return this.fail(err as Error);
    } finally {
      this.body = null;
    }
    if (this.length !== null && this.bytes !== this.length) return this.fail(new Error(`origin sent ${this.bytes} of ${this.length} bytes`));
    this.state = 'done';
    this.emit();
  }

  /** Stop receiving (nobody reads any more, or the edge is closing). */
  abort(why: string): void {
    this.body?.destroy(new Error(why));
  }

  private fail(err: Error): void {
    this.error = err;
    this.storable = false;
    this.state = 'failed';
    this.emit();
  }

  private emit(): void {
    if (this.state !== 'pending') this.onHead();
    if (this.state === 'done' || this.state === 'failed') this.onSettled();
    for (const fn of [...this.listeners]) fn();
  }
}
