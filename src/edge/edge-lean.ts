/**
 * The edge's lean HTTP/1.1 path: the origin's lean connection handling (src/http/delivery/workers)
 * answering from the edge's cache. Through node:http a hit costs several times the CPU of writing
 * a pre-serialised response to the socket, and the edge is measured against nginx `proxy_cache`
 * (docs/BENCHMARKS.md), so the request shape players send all the time is answered here:
 *
 *   `GET|HEAD /v/<asset>/<path> HTTP/1.1` (the shape parseLeanRequest accepts: one Host, no Range,
 *   If-*, CMCD, body or upgrade) for a public asset, once the policy snapshot is in:
 *   - fresh in memory → one write: the object's head of the current second (its fields, `Age`,
 *     `Cache-Status: strom-edge; hit; ttl=…`, Date, keep-alive), then the body;
 *   - absent from both tiers → the request joins (or starts) the coalesced fill for its key and,
 *     when the origin answers 200 with a Content-Length, is streamed chunk by chunk as it arrives,
 *     exactly as a node:http viewer of the same fill would be.
 *
 * Everything else — signed assets, stale or disk-tier objects (revalidation, promotion), origin
 * answers other than a framed 200, the media limit refusing — goes to node:http and the full edge
 * handler with every unanswered byte (the connection stays there for the rest of its life). A
 * request given up after its fill started joins that fill there if it is still in flight.
 */
import type { Socket } from 'node:net';
import { clientIp } from '../auth/playback-tokens.js';
import { parseAssetPath } from '../http/delivery/safe-path.js';
import type { LeanConnection } from '../http/delivery/workers/lean-connection.js';
import { LeanServerBase, type LeanServerOptions } from '../http/delivery/workers/lean-server-base.js';
import { freshnessLeftMs, ageOf, type CachedObject } from './cached-object.js';
import { ttlSeconds, type EdgeCache, type EdgeTarget, type UpstreamHeaders } from './edge-cache.js';
import { forwardHeaders } from './edge-routes.js';
import type { Fill } from './fill.js';
import type { Prefetcher } from './prefetch.js';
import { CACHE_NAME, fillHeaders, pumpFill } from './viewer-response.js';
import type { ViewerCounter } from './viewer-counter.js';

/** What the lean path needs from the edge. */
export interface EdgeLeanDeps extends LeanServerOptions {
  cache: EdgeCache;
  prefetcher: Prefetcher;
  synced: () => boolean;
  isSigned: (assetId: string) => boolean;
  /** The media rate limit for `ip`; throws to refuse (node:http then answers the 429). */
  admit: (ip: string, now: number) => void;
  viewers?: ViewerCounter;
  /** `Via` of this edge. */
  via: string;
}

/** Bodies up to this size go out in the same buffer as their head (one write, one syscall). */
const ASSEMBLE_MAX = 16 * 1024;
const XFF = /^x-forwarded-for:[ \t]*(.*?)[ \t]*\r?$/im;
const TRACEPARENT = /^traceparent:[ \t]*(.*?)[ \t]*\r?$/im;

/** Serves edge viewer connections until one needs node:http. */
export class EdgeLean extends LeanServerBase {
  constructor(private readonly d: EdgeLeanDeps) {
    super(d);
  }

  answer(conn: LeanConnection, method: string, path: string, t0: number): 'yes' | 'async' | 'no' {
    const d = this.d;
    if (!d.synced() || d.isSigned(path.slice(3, path.indexOf('/', 3)))) return 'no';
    const now = t0 + this.wallOffset;
    const { cache } = d;
    const o = cache.store.hot(path);
    if (o !== undefined) {
      if (!o.immutable && freshnessLeftMs(o, now) <= 0) return 'no'; // revalidation: node:http
      if (!this.admit(conn, now)) return 'no';
      cache.stats.hit++;
      this.writeHit(conn.socket, o, method === 'HEAD', now);
      if (o.prefetched === true) {
        o.prefetched = false;
        d.prefetcher.after(vodTarget(path), this.upstream(conn));
      }
      return 'yes';
    }
    if (cache.store.disk?.has(path) === true) return 'no'; // read and promoted by node:http
    try {
      parseAssetPath(path, '/v/');
    } catch {
      return 'no'; // node:http answers the precise 400
    }
    if (!this.admit(conn, now)) return 'no';
    const t = vodTarget(path);
    const up = this.upstream(conn);
    const joined = cache.join(t, () => up);
    if (joined === null) return 'no'; // node:http answers 503 EDGE_BUSY
    d.prefetcher.after(t, up);
    const { fill, leader } = joined;
    void fill.headed.then(() => this.streamFill(conn, fill, leader, method === 'HEAD'));
    return 'async';
  }

  /** The media rate limit, then the viewer counted; false = node:http answers (the 429). */
  private admit(conn: LeanConnection, now: number): boolean {
    try {
      this.d.admit(clientIp(conn.remoteAddress), now);
    } catch {
      return false;
    }
    this.d.viewers?.saw(conn.remoteAddress, 'vod', now);
    return true;
  }

  /** Stream a fill to a lean viewer, or hand the request to node:http when it is not a framed 200. */
  private streamFill(conn: LeanConnection, fill: Fill, leader: boolean, head: boolean): void {
    const socket = conn.socket;
    if (socket.destroyed) return;
    if (fill.state === 'failed' || fill.status !== 200 || fill.length === null) return conn.giveUp();
    if (leader) this.d.cache.stats.miss++;
    const cacheStatus = leader ? `fwd=miss; fwd-status=200${fill.storable ? '; stored' : ''}` : 'fwd=miss; fwd-status=200; collapsed';
    let stop: (() => void) | null = null;
    const onClose = (): void => stop?.();
    stop = pumpFill(fill, socket, () => {
      const f = fillHeaders(fill, { cacheStatus, privateCache: false });
      let s = 'HTTP/1.1 200 OK\r\n';
      for (let i = 0; i < f.length; i += 2) s += `${f[i]}: ${f[i + 1]}\r\n`;
      socket.write(Buffer.concat([Buffer.from(s, 'latin1'), this.dateAndConnection(performance.now() + this.wallOffset)]));
      return !head;
    }, (ok) => {
      socket.removeListener('close', onClose);
      if (ok) conn.resume();
    });
    if (!socket.destroyed) socket.once('close', onClose);
  }

  /** One fresh hit: the object's head of this second and its body, in one write when small. */
  private writeHit(socket: Socket, o: CachedObject, head: boolean, now: number): void {
    const second = Math.floor(now / 1000);
    let l = o.lean;
    if (l === undefined || l.second !== second) {
      let s = 'HTTP/1.1 200 OK\r\n';
      for (const [n, v] of o.headers) s += `${n}: ${v}\r\n`;
      s += `Age: ${ageOf(o, now)}\r\nCache-Status: ${CACHE_NAME}; hit; ttl=${ttlSeconds(o, now)}\r\nAccept-Ranges: bytes\r\nContent-Length: ${o.body.length}\r\n`;
      const h = Buffer.concat([Buffer.from(s, 'latin1'), this.dateAndConnection(now)]);
      l = o.lean = { second, head: h, whole: o.body.length <= ASSEMBLE_MAX ? Buffer.concat([h, o.body]) : null };
    }
    if (head) socket.write(l.head);
    else if (l.whole !== null) socket.write(l.whole);
    else {
      socket.cork();
      socket.write(l.head);
      socket.write(o.body);
      socket.uncork();
    }
  }

  /** The fields sent upstream for this connection's current request (read from its head: misses only). */
  private upstream(conn: LeanConnection): UpstreamHeaders {
    const text = conn.currentHead();
    return forwardHeaders(conn.remoteAddress, XFF.exec(text)?.[1], TRACEPARENT.exec(text)?.[1], this.d.via);
  }
}

/** The cache target of a public VOD path (key and upstream path are the path itself). */
function vodTarget(path: string): EdgeTarget {
  return { key: path, upstreamPath: path, privateCache: false, live: false };
}
