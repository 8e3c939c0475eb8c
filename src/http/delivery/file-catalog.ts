/**
 * The delivery origin's view of published asset files: metadata (size, mtime, strong ETag,
 * precomputed response headers) cached in memory so a hit costs no syscall, bodies of hot objects
 * held in the byte-bounded HotCache, concurrent misses for the same object coalesced into one read
 * (the pattern of undici's deduplicate interceptor), and symlinks leaving the asset root refused.
 *
 * Files below `assets/<id>/` are published atomically and then immutable, so metadata is trusted
 * for `metaTtlMs` and re-checked after that; deleting an asset calls `invalidateAsset`.
 * Once the hot cache is full, a missed body is admitted only on its second miss
 * (`admits`), and one not admitted is read into a pooled buffer (`bodyForSend`, read-pool.ts).
 *
 * With object storage (`storage.kind = s3`, `remote`), the same caches sit in front of the bucket:
 * a first miss of a hot kind is one ranged GET that brings size, ETag, mtime and — for objects up to
 * `maxObjectBytes` — the body (kept for the request that asked, `prefetched`), the re-check after
 * `metaTtlMs` is one LIST per asset (never a request per object or per hit), and larger objects
 * stream as ranged GETs (send-object.ts). The ETag is the bucket's, so every node sends the same
 * validator. On a file system the stat/readWhole path below is unchanged.
 */
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { HotCache } from '../../store/hot-cache.js';
import type { BlobRange, BlobStorage } from '../../storage/blob-storage.js';
import { extensionOf, objectKinds, type ObjectKind } from './object-kinds.js';
import { ReadPool } from './read-pool.js';
import type { AssetPath } from './safe-path.js';

/**
 * Read a file whose size is known with one open, one read and one close through the callback API:
 * `fs.promises.readFile` adds an fstat, chunked reads and promise plumbing per call, which shows on
 * the cache-miss path (bench scenario b). A file that shrank returns the bytes read, which the
 * caller rejects by length.
 */
function readWhole(file: string, size: number, into?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    fs.open(file, 'r', (err, fd) => {
      if (err) return reject(err);
      const buf = into ?? Buffer.allocUnsafe(size);
      const readFrom = (offset: number): void => {
        fs.read(fd, buf, offset, size - offset, offset, (rerr, n) => {
          if (rerr || n === 0 || offset + n >= size) {
            fs.close(fd, () => (rerr ? reject(rerr) : resolve(offset + n >= size ? buf : buf.subarray(0, offset + n))));
            return;
          }
          readFrom(offset + n);
        });
      };
      readFrom(0);
    });
  });
}

const noop = (): void => undefined;

/** Bodies fetched with their metadata from object storage, waiting for the request that asked (bounded). */
const MAX_PREFETCHED = 64;

/** Cache-Control of a media playlist without EXT-X-ENDLIST (half the shortest segment target). */
const GROWING_PLAYLIST_CACHE = 'public, max-age=1';

/**
 * The kind a playlist is served as: a media playlist still growing (EVENT, no ENDLIST: an asset
 * being published progressively) must not be cached for an hour by players and CDNs — SPECS.md
 * caps it at half a target.
 */
function servedKind(kind: ObjectKind, text: string): ObjectKind {
  return text.includes('#EXTINF') && !text.includes('#EXT-X-ENDLIST') ? { ...kind, cacheControl: GROWING_PLAYLIST_CACHE } : kind;
}

/** Cached facts about one servable file. */
export interface FileEntry {
  /** Cache key: the URL path (`/v/<id>/<rel>`). */
  key: string;
  assetId: string;
  /** The file's path, or its storage key (`assets/<id>/<rel>`) when the catalog reads object storage. */
  file: string;
  size: number;
  mtimeMs: number;
  etag: string;
  lastModified: string;
  lastModifiedS: number;
  kind: ObjectKind;
  /** When the metadata was last confirmed against the file system. */
  checkedAt: number;
  /** Headers shared by every response for this object (not length or range specific). */
  baseHeaders: string[];
  /** `baseHeaders` plus Content-Length of the whole object: the whole 200 header block. */
  fullHeaders: string[];
  /** Early-hint Link values (playlists only; undefined until computed). */
  hints?: string[];
}

/** Settings the catalog needs. */
export interface FileCatalogOptions {
  assetsDir: string;
  cacheBytes: number;
  maxObjectBytes: number;
  metaTtlMs: number;
  metaEntries: number;
  playlistMaxAgeS: number;
  /** Headers added to every media response (CORS), as a flat [name, value, …] list. */
  commonHeaders: string[];
  /** Object storage to read assets from instead of `assetsDir` (null or absent: the file system). */
  remote?: BlobStorage | null;
}

/** Metadata + body cache over `<dataDir>/assets`. */
export class FileCatalog {
  readonly hot: HotCache<string>;
  private readonly meta = new Map<string, FileEntry>();
  private readonly invalidationListeners: Array<(assetId: string | null) => void> = [];
  private readonly pendingReads = new Map<string, Promise<Buffer>>();
  private readonly pendingMeta = new Map<string, Promise<FileEntry | null>>();
  /** Admission: keys that missed once while the cache was full (at most as many as it holds objects). */
  private readonly doorkeeper = new Set<string>();
  /** Read buffers for bodies not admitted to the cache. */
  private readonly pool: ReadPool;
  private readonly kinds: ReadonlyMap<string, ObjectKind>;
  private realRoot: string | undefined;
  /** Object storage the assets are read from, or null for files under `assetsDir`. */
  readonly remote: BlobStorage | null;
  /** Bodies that came with their metadata (one GET), until `body` takes them. */
  private readonly prefetched = new Map<string, Buffer>();
  /** Assets whose entries are being re-checked with one LIST (object storage). */
  private readonly revalidating = new Set<string>();

  constructor(private readonly opts: FileCatalogOptions) {
    this.remote = opts.remote ?? null;
    this.hot = new HotCache(opts.cacheBytes);
    this.pool = ReadPool.forCache(opts.cacheBytes);
    this.kinds = objectKinds(opts.playlistMaxAgeS);
  }

  /** Entry from memory when fresh, without any syscall; undefined when it must be (re)loaded. */
  cached(key: string, now: number): FileEntry | undefined {
    const e = this.meta.get(key);
    if (e !== undefined && now - e.checkedAt < this.opts.metaTtlMs) return e;
    return undefined;
  }

  /**
   * Entry from memory even when its metadata is older than `metaTtlMs`; a stale entry is served
   * as is while one coalesced re-check runs in the background (stale-while-revalidate), so the hot
   * path never waits on a syscall. A file removed behind Strom's back is noticed by that re-check.
   */
  peek(key: string, now: number): FileEntry | undefined {
    const e = this.meta.get(key);
    if (e !== undefined && now - e.checkedAt >= this.opts.metaTtlMs && !this.pendingMeta.has(key)) {
      e.checkedAt = now; // one re-check per TTL, however many requests arrive meanwhile
      if (this.remote !== null) this.revalidateAsset(this.remote, e.assetId, key);
      else void this.load(key, { assetId: e.assetId, rel: key.slice(key.indexOf('/', 3) + 1) }).catch(() => undefined);
    }
    return e;
  }

  /**
   * Object storage: re-check every cached entry of one asset with one LIST of its prefix (size and
   * ETag of each object) instead of a HEAD per object — hundreds of hot segments would otherwise
   * cost hundreds of HEADs per `metaTtlMs` (measured: half the throughput against s3rver). An
   * object gone or changed is forgotten and loaded again by its next request; a failed LIST keeps
   * the entries (retried after the next TTL).
   */
  private revalidateAsset(remote: BlobStorage, assetId: string, trigger: string): void {
    if (this.revalidating.has(assetId)) return;
    this.revalidating.add(assetId);
    const prefix = `assets/${assetId}/`;
    remote.list(prefix).then((listed) => {
      const now = Date.now();
      let seen = false;
      for (const o of listed) {
        const key = `/v/${o.key.slice('assets/'.length)}`;
        if (key === trigger) seen = true;
        const e = this.meta.get(key);
        if (e === undefined) continue;
        if (e.size === o.size && (o.etag === undefined || o.etag === e.etag)) e.checkedAt = now;
        else this.forget(key);
      }
      if (!seen) this.forget(trigger);
    }, () => undefined).finally(() => this.revalidating.delete(assetId));
  }

  /** Load (stat + realpath check) the entry for a validated path; null when not servable. */
  load(key: string, p: AssetPath): Promise<FileEntry | null> {
    let pending = this.pendingMeta.get(key);
    if (pending === undefined) {
      pending = this.loadUncoalesced(key, p).finally(() => this.pendingMeta.delete(key));
      this.pendingMeta.set(key, pending);
    }
    return pending;
  }

  private async loadUncoalesced(key: string, p: AssetPath): Promise<FileEntry | null> {
    const kind = this.kinds.get(extensionOf(p.rel));
    if (kind === undefined) return null;
    if (this.remote !== null) return this.loadRemote(this.remote, key, p, kind);
    const file = path.join(this.opts.assetsDir, p.assetId, p.rel);
    let st;
    try {
      const [real, root] = await Promise.all([fsp.realpath(file), this.root()]);
      if (!real.startsWith(root + path.sep)) return null; // a symlink pointing outside the asset tree
      st = await fsp.stat(real);
    } catch {
      this.forget(key);
      return null;
    }
    if (!st.isFile()) return null;
    const previous = this.meta.get(key);
    if (previous && previous.size === st.size && previous.mtimeMs === st.mtimeMs) {
      previous.checkedAt = Date.now();
      return previous;
    }
    if (previous) this.hot.delete(key);
    let effectiveKind = kind;
    if (kind.playlist && st.size <= this.opts.maxObjectBytes) effectiveKind = servedKind(kind, await fsp.readFile(file, 'utf8').catch(() => ''));
    const entry = this.makeEntry(key, p.assetId, file, st.size, st.mtimeMs, effectiveKind);
    this.remember(entry);
    return entry;
  }

  /**
   * Metadata from object storage: a first load of a hot kind is one GET that may bring the body
   * too; loading a known entry again (a delivery-handler `load` after its TTL) is one HEAD. Storage
   * failures reject (STORAGE_UNAVAILABLE); `peek` keeps serving a known entry meanwhile.
   */
  private async loadRemote(remote: BlobStorage, key: string, p: AssetPath, kind: ObjectKind): Promise<FileEntry | null> {
    const skey = `assets/${p.assetId}/${p.rel}`;
    const previous = this.meta.get(key);
    let body: Buffer | null = null;
    let st;
    if (previous === undefined && kind.hot) {
      const got = await remote.fetchSmall(skey, Math.min(this.opts.maxObjectBytes, this.opts.cacheBytes));
      st = got?.stat ?? null;
      body = got?.body ?? null;
    } else {
      st = await remote.stat(skey);
    }
    if (st === null) {
      this.forget(key);
      return null;
    }
    if (previous && previous.size === st.size && previous.etag === st.etag) {
      previous.checkedAt = Date.now();
      return previous;
    }
    if (previous) this.hot.delete(key);
    let effectiveKind = kind;
    if (kind.playlist && st.size <= this.opts.maxObjectBytes) {
      body ??= await remote.readAll(skey).catch(() => null);
      effectiveKind = servedKind(kind, body?.toString('utf8') ?? '');
    }
    const entry = this.makeEntry(key, p.assetId, skey, st.size, st.mtimeMs, effectiveKind, st.etag);
    this.remember(entry);
    if (body !== null && body.length === st.size && this.cacheable(entry)) {
      this.prefetched.delete(key);
      this.prefetched.set(key, body);
      if (this.prefetched.size > MAX_PREFETCHED) this.prefetched.delete(this.prefetched.keys().next().value!);
    }
    return entry;
  }

  /** A stream of one byte range of an entry in object storage (send-object.ts, large objects). */
  openRange(e: FileEntry, range: BlobRange): Promise<Readable> {
    return this.remote!.read(e.file, range);
  }

  private makeEntry(key: string, assetId: string, file: string, size: number, mtimeMs: number, kind: ObjectKind, storageEtag?: string): FileEntry {
    const lastModifiedS = Math.floor(mtimeMs / 1000);
    const lastModified = new Date(lastModifiedS * 1000).toUTCString();
    // Strong ETag from size and mtime (ns resolution kept): objects are immutable once published.
    const etag = storageEtag ?? `"${size.toString(16)}-${Math.round(mtimeMs * 1000).toString(16)}"`;
    const baseHeaders = [
      'Content-Type', kind.type,
      'ETag', etag,
      'Last-Modified', lastModified,
      'Cache-Control', kind.cacheControl,
      'Accept-Ranges', 'bytes',
      ...this.opts.commonHeaders,
    ];
    return {
      key, assetId, file, size, mtimeMs, etag, lastModified, lastModifiedS, kind,
      checkedAt: Date.now(),
      baseHeaders,
      fullHeaders: [...baseHeaders, 'Content-Length', String(size)],
    };
  }

  /** Whether the body of this entry belongs in memory. */
  cacheable(e: FileEntry): boolean {
    return e.kind.hot && e.size <= this.opts.maxObjectBytes && e.size <= this.opts.cacheBytes;
  }

  /** Body of a cacheable entry: from memory, or read once (coalesced) and kept when admitted. */
  body(e: FileEntry): Promise<Buffer> {
    const hit = this.hot.get(e.key);
    if (hit !== undefined) return Promise.resolve(hit);
    return this.pendingReads.get(e.key) ?? this.read(e, this.admits(e.key, e.size));
  }

  /** Read a whole body once (callers coalesce on `pendingReads`), caching it when `admit`. */
  private read(e: FileEntry, admit: boolean): Promise<Buffer> {
    const pending = (this.remote === null ? readWhole(e.file, e.size) : this.fetchRemote(e)).then((buf) => {
      // A file that changed between stat and read is not cached under stale validators.
      if (admit && buf.length === e.size) this.hot.set(e.key, buf);
      return buf;
    }).finally(() => this.pendingReads.delete(e.key));
    this.pendingReads.set(e.key, pending);
    return pending;
  }

  /** A body from object storage: the one fetched with the metadata, else one GET. */
  private fetchRemote(e: FileEntry): Promise<Buffer> {
    const pre = this.prefetched.get(e.key);
    if (pre !== undefined) {
      this.prefetched.delete(e.key);
      if (pre.length === e.size) return Promise.resolve(pre);
    }
    return this.remote!.readAll(e.file);
  }

  /**
   * Admission: a missed body enters the cache while there is room; once the cache is
   * full, only on its second miss while its key is still in the doorkeeper (TinyLFU's first
   * stage, Einziger et al. 2017). With a working set larger than the cache, admitting every miss
   * evicts a just-cached object per request — CPU spent copying and collecting for no later hit.
   */
  admits(key: string, size: number): boolean {
    const s = this.hot.stats();
    if (s.bytes + size <= s.maxBytes) return true;
    if (this.doorkeeper.delete(key)) return true;
    this.doorkeeper.add(key);
    const cap = Math.max(16, s.entries);
    for (const k of this.doorkeeper) {
      if (this.doorkeeper.size <= cap) break;
      this.doorkeeper.delete(k);
    }
    return false;
  }

  /**
   * Body of a cacheable entry for one send (the lean HTTP/1.1 path): from memory, read and cached
   * when admitted, else read into a pooled buffer that `release` returns once the socket has taken
   * the bytes — a miss that is not cached then allocates nothing for the garbage collector.
   */
  bodyForSend(e: FileEntry): Promise<{ buf: Buffer; release: () => void }> {
    // The caller (hotBody) already counted this lookup: peek, and decide admission exactly once.
    const hit = this.hot.peek(e.key);
    if (hit !== undefined) return Promise.resolve({ buf: hit, release: noop });
    let shared = this.pendingReads.get(e.key) ?? null;
    if (shared === null) {
      const admit = this.admits(e.key, e.size);
      if (admit || this.remote !== null) shared = this.read(e, admit); // object storage: no pooled read
    }
    if (shared !== null) return shared.then((buf) => ({ buf, release: noop }));
    const pooled = this.pool.take(e.size);
    return readWhole(e.file, e.size, pooled.subarray(0, e.size)).then((buf) => ({ buf, release: () => this.pool.give(pooled) }), (err: Error) => {
      this.pool.give(pooled);
      throw err;
    });
  }

  /** Synchronous hot-cache hit for the fast path. */
  hotBody(key: string): Buffer | undefined {
    return this.hot.get(key);
  }

  /** Drop every cached fact about one asset (called when it is deleted or republished). */
  invalidateAsset(assetId: string): void {
    const prefix = `/v/${assetId}/`;
    for (const key of [...this.meta.keys()]) if (key.startsWith(prefix)) this.meta.delete(key);
    for (const key of [...this.prefetched.keys()]) if (key.startsWith(prefix)) this.prefetched.delete(key);
    this.hot.deleteWhere((k) => k.startsWith(prefix));
    for (const l of this.invalidationListeners) l(assetId);
  }

  /** Drop every cached fact about every asset (a cluster node that may have missed invalidations). */
  invalidateAll(): void {
    this.meta.clear();
    this.prefetched.clear();
    this.hot.deleteWhere(() => true);
    for (const l of this.invalidationListeners) l(null);
  }

  /** Call `listener` after every invalidateAsset() (null: invalidateAll()); delivery workers drop their copies. */
  onInvalidate(listener: (assetId: string | null) => void): void {
    this.invalidationListeners.push(listener);
  }

  /** Number of metadata entries held. */
  get metaSize(): number {
    return this.meta.size;
  }

  private remember(e: FileEntry): void {
    this.meta.delete(e.key);
    this.meta.set(e.key, e);
    if (this.meta.size > this.opts.metaEntries) {
      const oldest = this.meta.keys().next().value;
      if (oldest !== undefined) this.forget(oldest);
    }
  }

  private forget(key: string): void {
    this.meta.delete(key);
    this.hot.delete(key);
  }

  private async root(): Promise<string> {
    if (this.realRoot === undefined) {
      await fsp.mkdir(this.opts.assetsDir, { recursive: true });
      this.realRoot = await fsp.realpath(this.opts.assetsDir);
    }
    return this.realRoot;
  }
}
