/**
 * The internal live relay, pulling side (cluster mode). A viewer on this node asks for a stream
 * that is not live here; `pull(streamId)` finds the node publishing it in the origin map, opens ONE
 * `GET /internal/live/<id>.flv` to that node (signed with the cluster secret, relay-auth.ts),
 * demuxes the FLV into MediaUnits and publishes them into this node's registry as a relay
 * publisher, so every local output (HTTP-FLV, WS-FLV, RTMP, LL-HLS, LL-DASH, WHEP) serves it
 * unchanged. FLV carries every codec the hub holds (Enhanced RTMP FourCC tags), and the origin
 * sends its source codecs, so the audio bridge runs here, for this node's viewers only.
 *
 * - Coalescing: one RelayPull per stream; concurrent viewers wait on the same promise (undici's
 *   deduplicate interceptor). At most `cluster.relayMaxStreams` pulls; more → 503 BUSY.
 * - A waiting viewer is held until the first media unit arrives, at most
 *   `cluster.relayConnectTimeoutMs`: live nowhere → null (the caller's 404), origin unreachable →
 *   LIVE_ORIGIN_UNREACHABLE naming the node, Redis away → LIVE_ORIGIN_LOOKUP_FAILED.
 * - Publisher moves: when the upstream ends (the publisher stopped or moved, the origin died), the
 *   relay publisher stays attached — viewers keep their connections — and the origin is looked up
 *   again, woken at once by the origin map's claim notification, else retried with backoff
 *   100 ms → 2 s. The new upstream joins as a registry takeover: readers skip to its first
 *   keyframe (its GOP cache comes first) and timestamps continue. No origin within the connect
 *   timeout → the stream ends like a publish.stop. At most 30 upstream connections a minute per
 *   stream (a flapping origin), then the stream ends (counted).
 * - Idle: a pull whose stream had no reader for `cluster.relayIdleMs` is released (LL-HLS muxers,
 *   audio bridges and recorders are readers too).
 * - Origins: the cluster's origin map, or — on an edge (src/edge) — its configured origins, which
 *   name URLs rather than nodes (`anyNode`) and offer the next one when one cannot serve the
 *   stream (`next`: unreachable, an error, or not live there), tried at once in the same search.
 * One upstream connection is a RelayUpstream (relay-upstream.ts).
 */
import type { Logger } from 'pino';
import { fail, type StromError } from '../../errors.js';
import type { OriginEntry, OriginLookup } from '../../cluster/origin-map.js';
import type { MediaUnit } from '../stream/media-unit.js';
import type { LiveStream } from '../stream/stream.js';
import type { RemoteStreamSource, StreamRegistry } from '../stream/stream-registry.js';
import { signRelayRequest } from './relay-auth.js';
import { RelayMetrics, RelayStats } from './relay-metrics.js';
import { RelayUpstream, type Attempt } from './relay-upstream.js';

/** Settings of the relay (from `cluster.*`). */
export interface RelayOptions {
  /** This node's id (signs requests; an origin entry naming it is never pulled). */
  nodeId: string;
  secret: string;
  connectTimeoutMs: number;
  idleMs: number;
  maxStreams: number;
}

/** Where the relay finds a stream's origin: the cluster's origin map, or an edge's list of origins. */
export interface RelayOrigins extends OriginLookup {
  /** Entries name a URL, not a node: accept whichever node answers there (an edge in front of a cluster or a load balancer). */
  readonly anyNode?: boolean;
  /** `tried` (in order) could not serve `streamId`, the last with `attempt`: another origin to try at once, or null. */
  next?(streamId: string, tried: readonly OriginEntry[], attempt: Attempt): OriginEntry | null;
}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 2000;
const MAX_CONNECTS_PER_MINUTE = 30;

/** Every stream this node relays from other nodes. */
export class RelayIngest implements RemoteStreamSource {
  readonly stats = new RelayStats();
  readonly metrics: RelayMetrics;
  private readonly pulls = new Map<string, RelayPull>();
  private closed = false;

  constructor(readonly registry: StreamRegistry, readonly origins: RelayOrigins, readonly o: RelayOptions, readonly log: Logger) {
    this.metrics = new RelayMetrics(this.stats, () => this.pulls.size, () => registry.list().reduce((n, s) => n + s.viewers.relay, 0));
  }

  /** Streams being relayed (or looked for) now. */
  get size(): number {
    return this.pulls.size;
  }

  /** Bring `streamId` here from the node publishing it; see the file header. */
  pull(streamId: string): Promise<LiveStream | null> {
    if (this.closed) return Promise.resolve(null);
    let p = this.pulls.get(streamId);
    if (p === undefined) {
      if (this.pulls.size >= this.o.maxStreams) {
        this.stats.refused++;
        return Promise.reject(fail('BUSY', `the live relay (${this.o.maxStreams} streams relayed, cluster.relayMaxStreams)`));
      }
      const created = new RelayPull(streamId, this, () => {
        if (this.pulls.get(streamId) === created) this.pulls.delete(streamId);
      });
      this.pulls.set(streamId, created);
      created.start();
      p = created;
    }
    return p.ready;
  }

  /** Stop every pull (shutdown; the registry closes the relayed streams themselves). */
  close(): void {
    this.closed = true;
    for (const p of [...this.pulls.values()]) p.close('server shutting down');
  }
}

/** The relay of one stream: its lookups, its upstream connections one after another, its idle check. */
class RelayPull {
  /** Settles once the stream is active here (with the stream), live nowhere (null) or unreachable (rejects). */
  readonly ready: Promise<LiveStream | null>;
  private settle!: (v: LiveStream | null | StromError) => void;
  private settled = false;
  /** The upstream attached to the stream as its publisher (stays attached while a new origin is sought). */
  private current: RelayUpstream | null = null;
  private stream: LiveStream | null = null;
  /** The upstream connecting or streaming now. */
  private upstream: RelayUpstream | null = null;
  private closed = false;
  private wake: (() => void) | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private lastRead = Date.now();
  private connectsAt: number[] = [];
  /** Why the last lookup or connection failed (what a waiting viewer is told at the deadline). */
  private failure: StromError | null = null;
  /** The origin node last found in the map. */
  private lastNode: string | null = null;
  /** Origins tried in the current search (since the last lookup), and the next one offered. */
  private tried: OriginEntry[] = [];
  private queued: OriginEntry | null = null;
  private readonly log: Logger;

  constructor(readonly id: string, private readonly relay: RelayIngest, private readonly onEnd: () => void) {
    this.ready = new Promise((resolve, reject) => {
      this.settle = (v) => {
        if (this.settled) return;
        this.settled = true;
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
    });
    this.ready.catch(() => undefined); // a rejection whose viewers went away is not "unhandled"
    this.log = relay.log.child({ streamId: id });
  }

  start(): void {
    const { connectTimeoutMs, idleMs } = this.relay.o;
    // Waiting viewers are answered by the deadline even when an upstream is slow to send media.
    this.timers.push(setTimeout(() => {
      if (this.current !== null && this.stream?.active) this.settle(this.stream);
      else this.settle(this.failure ?? fail('LIVE_ORIGIN_UNREACHABLE', this.id, this.lastNode ?? 'unknown', `no media within ${connectTimeoutMs} ms`));
    }, connectTimeoutMs));
    const idle = setInterval(() => this.checkIdle(idleMs), Math.max(50, Math.min(1000, Math.floor(idleMs / 4))));
    idle.unref();
    this.timers.push(idle);
    this.run().catch((err: unknown) => {
      this.log.error({ err }, 'live relay failed');
      this.finish(fail('INTERNAL', `live relay of ${this.id} failed`), 'relay failed');
    });
  }

  /** Stop without ending the stream's readers (shutdown: the registry ends them). */
  close(reason: string): void {
    this.current = null;
    this.finish(null, reason);
  }

  private async run(): Promise<void> {
    const { connectTimeoutMs, nodeId } = this.relay.o;
    const stats = this.relay.stats;
    let since = Date.now(); // start of the current search for an origin
    let backoff = BACKOFF_MIN_MS;
    while (!this.closed) {
      const left = since + connectTimeoutMs - Date.now();
      if (left <= 0) {
        stats.originGone++;
        return this.finish(this.failure, this.current === null ? this.failure?.message ?? 'origin unreachable' : `no origin within ${connectTimeoutMs} ms after the upstream ended`);
      }
      let entry: OriginEntry | null = this.queued;
      this.queued = null;
      if (entry === null) {
        this.tried = [];
        try {
          entry = await this.relay.origins.lookup(this.id);
        } catch (err) {
          this.failure = fail('LIVE_ORIGIN_LOOKUP_FAILED', this.id, (err as Error).message);
          if (this.current === null) return this.finish(this.failure, this.failure.message); // fail fast while Redis is away
          entry = null;
        }
      }
      if (this.closed) return;
      if (entry !== null && entry.nodeId === nodeId) entry = null; // a stale entry of this node: nothing to pull
      if (entry === null) {
        if (this.current === null) return this.finish(null, 'not live on any node');
      } else {
        this.lastNode = entry.nodeId;
        if (!this.allowConnect()) {
          stats.reconnectLimited++;
          return this.finish(null, `more than ${MAX_CONNECTS_PER_MINUTE} upstream connections in a minute`);
        }
        const a = await this.connect(entry, Math.max(1, since + connectTimeoutMs - Date.now()));
        if (this.closed) return;
        if (a.streamed) {
          this.log.info({ originNode: entry.nodeId, why: a.why }, 'relay upstream ended; looking the origin up again');
          since = Date.now();
          backoff = BACKOFF_MIN_MS;
          this.failure = null;
          continue;
        }
        stats.connectFailures++;
        this.tried.push(entry);
        if (a.status !== 404) this.failure = fail('LIVE_ORIGIN_UNREACHABLE', this.id, entry.nodeId, a.why); // what a first viewer hears if the search ends here
        this.queued = this.relay.origins.next?.(this.id, this.tried, a) ?? null;
        if (this.queued !== null) {
          this.log.info({ originNode: entry.nodeId, status: a.status, why: a.why, next: this.queued.nodeId }, 'origin cannot serve the relay; trying the next one');
          continue;
        }
        if (this.current === null && a.status === 404) return this.finish(null, `not live on node ${entry.nodeId}`);
        this.failure = fail('LIVE_ORIGIN_UNREACHABLE', this.id, entry.nodeId, a.why);
        // A first viewer is not kept waiting for a node whose port refuses connections.
        if (this.current === null && a.refused) return this.finish(this.failure, a.why);
        if (this.current === null && (a.status === 401 || a.status === 403)) {
          this.log.error({ originNode: entry.nodeId, status: a.status, why: a.why }, 'origin refused the relay: check cluster.secret and the node clocks');
          return this.finish(this.failure, a.why);
        }
        this.log.warn({ originNode: entry.nodeId, status: a.status, why: a.why }, 'relay upstream failed; retrying');
      }
      await this.pause(Math.min(backoff, Math.max(0, since + connectTimeoutMs - Date.now())));
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }

  /** One upstream connection to `entry`'s node, from the request to the end of its response. */
  private async connect(entry: OriginEntry, headMs: number) {
    const { nodeId, secret } = this.relay.o;
    const up = new RelayUpstream(entry, {
      accepted: (u) => this.attach(u),
      unit: (u, unit, bytes, meta) => this.ingest(u, unit, bytes, meta),
      closed: (u, reason) => this.publisherClosed(u, reason),
    }, this.relay.stats, this.relay.origins.anyNode === true);
    this.upstream = up;
    try {
      return await up.run(this.id, signRelayRequest(secret, nodeId, this.id), nodeId, headMs);
    } finally {
      if (this.upstream === up) this.upstream = null;
    }
  }

  /** Attach an upstream as the stream's publisher (a takeover of the previous one); false when a real publisher is here. */
  private attach(up: RelayUpstream): boolean {
    const registry = this.relay.registry;
    const here = registry.active(this.id);
    if (here !== null && here.publisher?.relayFrom === undefined) {
      // The publisher moved to this very node meanwhile: serve it, stop relaying.
      this.settle(here);
      this.close('a publisher connected to this node');
      return false;
    }
    const first = this.current === null;
    this.current = up; // before startPublish: the previous upstream's close() then sees it is replaced
    this.stream = registry.startPublish(this.id, up);
    if (!first) this.relay.stats.reconnects++;
    this.log.info({ originNode: up.relayFrom, origin: up.remote, publisher: up.id }, first ? 'relay started' : 'relay continues from a new origin');
    return true;
  }

  /** A unit from the origin → the stream; the first media unit answers the waiting viewers. */
  private ingest(up: RelayUpstream, u: MediaUnit, bytes: number, meta: Record<string, unknown> | null): void {
    const s = this.stream;
    if (s === null || s.publisher !== up) return;
    if (meta !== null && (u.kind === 'data' || typeof s.meta.width !== 'number')) s.meta = u.kind === 'data' ? meta : { ...s.meta, ...meta };
    s.push(u, bytes);
    if (!u.config && u.kind !== 'data') this.settle(s);
  }

  /** The registry closed an upstream: replaced by the next one (ignored), or by a local publisher / shutdown. */
  private publisherClosed(u: RelayUpstream, reason: string): void {
    if (u !== this.current || this.closed) return;
    this.current = null; // the registry has already detached it
    this.settle(this.relay.registry.active(this.id));
    this.finish(null, reason);
  }

  private checkIdle(idleMs: number): void {
    const s = this.stream;
    if (!this.settled || (s !== null && s.readers.size > 0)) {
      this.lastRead = Date.now();
      return;
    }
    if (Date.now() - this.lastRead < idleMs) return;
    this.relay.stats.idleClosed++;
    this.finish(null, `no reader for ${idleMs} ms`);
  }

  private allowConnect(): boolean {
    const now = Date.now();
    this.connectsAt = this.connectsAt.filter((t) => now - t < 60_000);
    if (this.connectsAt.length >= MAX_CONNECTS_PER_MINUTE) return false;
    this.connectsAt.push(now);
    return true;
  }

  /** Wait `ms`, or less when some node claims the stream (a publish started there). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let off = () => {};
      const done = () => {
        clearTimeout(t);
        off();
        this.wake = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      off = this.relay.origins.onClaim(this.id, done);
      this.wake = done;
    });
  }

  /** End the pull: the stream ends (publish.stop) if an upstream is still attached. */
  private finish(outcome: StromError | null, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.wake?.();
    this.upstream?.destroy();
    const up = this.current;
    this.current = null;
    if (up !== null && this.stream !== null) {
      this.relay.registry.stopPublish(this.stream, up, reason);
      up.destroy();
    }
    this.settle(outcome);
    this.onEnd();
    this.log.info({ reason }, 'relay ended');
  }
}
