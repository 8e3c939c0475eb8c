/**
 * The edge cache's two tiers, each an LRU bounded by body bytes:
 *
 * - memory (`edge.cacheBytes`): whole objects; a hit is a Map lookup.
 * - disk (`edge.diskDir`, `edge.diskBytes`, optional): every stored object is also written there
 *   (write-behind, one write at a time so a burst of fills cannot queue unbounded I/O: a write
 *   that finds the queue full is skipped and counted). A memory miss that the disk holds is read
 *   back and promoted. The directory is emptied at start: the index lives in memory only, and an
 *   edge is stateless by design — a restart refills from the origin.
 *
 * Map insertion order is the recency order (delete + set = most recent), as in HotCache.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { CachedObject } from './cached-object.js';

/** Counters read by the edge's metrics. */
export interface TierStats {
  objects: number;
  bytes: number;
  maxBytes: number;
  evictions: number;
}

const MAX_PENDING_WRITES = 64;

/** Memory LRU of whole objects bounded by body bytes. */
class MemoryTier {
  readonly map = new Map<string, CachedObject>();
  bytes = 0;
  evictions = 0;
  constructor(readonly maxBytes: number, private readonly onEvict: (o: CachedObject) => void) {}

  /** The most recently used object (already last in `map`: a repeat hit skips the re-insertion). */
  private newest: CachedObject | undefined;

  get(key: string): CachedObject | undefined {
    const o = this.map.get(key);
    if (o !== undefined && o !== this.newest) {
      this.map.delete(key);
      this.map.set(key, o);
      this.newest = o;
    }
    return o;
  }

  set(o: CachedObject): void {
    if (o.body.length > this.maxBytes) return;
    this.delete(o.key);
    this.map.set(o.key, o);
    this.newest = o;
    this.bytes += o.body.length;
    for (const [k, old] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= old.body.length;
      this.evictions++;
      this.onEvict(old);
    }
  }

  delete(key: string): void {
    const o = this.map.get(key);
    if (o === undefined) return;
    this.map.delete(key);
    if (o === this.newest) this.newest = undefined;
    this.bytes -= o.body.length;
  }
}

/** Disk LRU: the index (object without body) in memory, bodies in files named by key hash. */
class DiskTier {
  readonly index = new Map<string, { meta: Omit<CachedObject, 'body'>; size: number; file: string }>();
  bytes = 0;
  evictions = 0;
  skipped = 0;
  private pending = 0;
  /**
   * Writes in flight by key: an object evicted from memory before its first write finished is not
   * written (and counted) twice, and one deleted meanwhile (an invalidation) is not indexed after.
   */
  private readonly writing = new Map<string, { cancelled: boolean }>();
  constructor(private readonly dir: string, readonly maxBytes: number) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  put(o: CachedObject): void {
    if (o.body.length > this.maxBytes || this.index.has(o.key) || this.writing.has(o.key)) return;
    if (this.pending >= MAX_PENDING_WRITES) return void this.skipped++;
    const file = path.join(this.dir, createHash('sha256').update(o.key).digest('hex'));
    // The reused response heads are rebuilt on use: kept here they would hold small bodies in memory.
    const { body, head: _head, lean: _lean, ...meta } = o;
    const w = { cancelled: false };
    this.pending++;
    this.writing.set(o.key, w);
    writeFile(file, body).then(() => {
      if (w.cancelled) return void unlink(file).catch(() => undefined);
      this.index.set(o.key, { meta, size: body.length, file });
      this.bytes += body.length;
      this.evict();
    }, () => void this.skipped++).finally(() => {
      this.pending--;
      this.writing.delete(o.key);
    });
  }

  async get(key: string): Promise<CachedObject | undefined> {
    const e = this.index.get(key);
    if (e === undefined) return undefined;
    this.index.delete(key);
    this.index.set(key, e);
    try {
      return { ...e.meta, body: await readFile(e.file) };
    } catch {
      this.delete(key);
      return undefined;
    }
  }

  /** Refresh the stored metadata of `key` (after a 304). */
  touch(o: CachedObject): void {
    const e = this.index.get(o.key);
    if (e !== undefined) e.meta = { ...e.meta, storedAt: o.storedAt, lifetimeMs: o.lifetimeMs, originAgeS: o.originAgeS, headers: o.headers };
  }

  /** Cancel the writes in flight whose key matches (they are not indexed when they finish). */
  cancelWrites(match: (key: string) => boolean): void {
    for (const [k, w] of this.writing) if (match(k)) w.cancelled = true;
  }

  delete(key: string): void {
    const w = this.writing.get(key);
    if (w !== undefined) w.cancelled = true;
    const e = this.index.get(key);
    if (e === undefined) return;
    this.index.delete(key);
    this.bytes -= e.size;
    void unlink(e.file).catch(() => undefined);
  }

  private evict(): void {
    for (const [k] of this.index) {
      if (this.bytes <= this.maxBytes) break;
      this.delete(k);
      this.evictions++;
    }
  }

  /** Remove every file (at close: an edge keeps nothing between runs). */
  clear(): void {
    for (const k of [...this.index.keys()]) this.delete(k);
  }
}

/** Memory tier plus the optional disk tier. */
export class ObjectStore {
  readonly memory: MemoryTier;
  readonly disk: DiskTier | null;

  constructor(memoryBytes: number, diskDir: string | null, diskBytes: number) {
    this.disk = diskDir !== null && diskBytes > 0 ? new DiskTier(diskDir, diskBytes) : null;
    this.memory = new MemoryTier(memoryBytes, (o) => this.disk?.put(o));
  }

  /** The object from memory (synchronous, the hot path). */
  hot(key: string): CachedObject | undefined {
    return this.memory.get(key);
  }

  /** The object from the disk tier, promoted to memory; undefined when not there. */
  async cold(key: string): Promise<CachedObject | undefined> {
    if (this.disk === null || !this.disk.has(key)) return undefined;
    const o = await this.disk.get(key);
    if (o !== undefined) this.memory.set(o);
    return o;
  }

  /** Store a complete object in memory (and on disk behind it). */
  set(o: CachedObject): void {
    this.memory.set(o);
    this.disk?.put(o);
  }

  /** After a 304: the stored object's freshness and headers were updated in place. */
  refreshed(o: CachedObject): void {
    this.disk?.touch(o);
  }

  /** Remove every object whose key starts with `prefix` (all when null). Returns how many. */
  deletePrefix(prefix: string | null): number {
    let n = 0;
    const match = (k: string) => prefix === null || k.startsWith(prefix);
    for (const k of [...this.memory.map.keys()]) {
      if (!match(k)) continue;
      this.memory.delete(k);
      n++;
    }
    this.disk?.cancelWrites(match);
    for (const k of this.disk ? [...this.disk.index.keys()] : []) {
      if (!match(k)) continue;
      this.disk!.delete(k);
      n++;
    }
    return n;
  }

  /** Mark every object stale: the next use revalidates it (after a missed stretch of invalidations). */
  expireAll(): void {
    const expire = (o: { lifetimeMs: number; immutable: boolean }) => {
      o.lifetimeMs = 0;
      o.immutable = false;
    };
    for (const o of this.memory.map.values()) expire(o);
    for (const e of this.disk?.index.values() ?? []) expire(e.meta);
  }

  /** Tier statistics for metrics. */
  stats(): { memory: TierStats; disk: TierStats | null; diskSkipped: number } {
    return {
      memory: { objects: this.memory.map.size, bytes: this.memory.bytes, maxBytes: this.memory.maxBytes, evictions: this.memory.evictions },
      disk: this.disk && { objects: this.disk.index.size, bytes: this.disk.bytes, maxBytes: this.disk.maxBytes, evictions: this.disk.evictions },
      diskSkipped: this.disk?.skipped ?? 0,
    };
  }

  /** Drop everything (disk files too). */
  close(): void {
    this.disk?.clear();
  }
}

