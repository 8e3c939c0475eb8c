/**
 * Byte-bounded LRU cache for hot media objects (segments, init segments, playlists).
 *
 * A `Map` keeps insertion order, so "move to most-recent" is delete + set and the least recently
 * used entry is the first key: O(1) for get, set and evict with no linked list to maintain.
 * The budget counts payload bytes; per-entry overhead (~100 B) is small next to media objects.
 */

/** Counters exported as metrics by the observability layer. */
export interface HotCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  bytes: number;
  entries: number;
  maxBytes: number;
}

/** LRU of Buffers bounded by total byte size. */
export class HotCache<K = string> {
  private readonly map = new Map<K, Buffer>();
  private bytesUsed = 0;
  /** The last key in map order: a repeated hit on it (a polled playlist) needs no delete + set. */
  private mru: K | undefined;
  hits = 0;
  misses = 0;
  evictions = 0;

  /** @param maxBytes total payload budget; 0 disables caching. */
  constructor(readonly maxBytes: number) {}

  /** The cached buffer, refreshed as most recently used, or undefined (counted as a miss). */
  get(key: K): Buffer | undefined {
    const value = this.map.get(key);
    if (value === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    if (key !== this.mru) {
      this.map.delete(key);
      this.map.set(key, value);
      this.mru = key;
    }
    return value;
  }

  /** Look without counting or refreshing. */
  peek(key: K): Buffer | undefined {
    return this.map.get(key);
  }

  /** Insert; evicts least recently used entries until the budget holds. Too-large values are not kept. */
  set(key: K, value: Buffer): boolean {
    // Drop the previous value first: a refused replacement must not leave stale bytes under the key.
    this.delete(key);
    if (value.length > this.maxBytes) return false;
    this.map.set(key, value);
    this.mru = key;
    this.bytesUsed += value.length;
    while (this.bytesUsed > this.maxBytes) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
      this.evictions++;
    }
    return true;
  }

  /** Remove one entry. */
  delete(key: K): boolean {
    const value = this.map.get(key);
    if (value === undefined) return false;
    this.map.delete(key);
    if (key === this.mru) this.mru = undefined;
    this.bytesUsed -= value.length;
    return true;
  }

  /** Remove every entry whose key matches the predicate (used when an asset is deleted). */
  deleteWhere(match: (key: K) => boolean): number {
    let n = 0;
    for (const key of [...this.map.keys()]) if (match(key) && this.delete(key)) n++;
    return n;
  }

  /** Current counters. */
  stats(): HotCacheStats {
    return { hits: this.hits, misses: this.misses, evictions: this.evictions, bytes: this.bytesUsed, entries: this.map.size, maxBytes: this.maxBytes };
  }
}
