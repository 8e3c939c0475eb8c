/**
 * Every pulled source of this node (live streams with a `source` URL instead of a publisher).
 *
 * - The registry asks `pull(streamId)` when a viewer of any protocol wants a stream that is not
 *   live here (StreamRegistry.acquire): a stream with a stored source is connected on demand and
 *   the viewer waits for its first media (pulled-source.ts). Streams without a source answer null
 *   at once (the stored answer is cached for 2 s; API changes clear it through `changed`).
 * - Always-on sources connect at `start` and stay connected.
 * - Bounded: at most `live.maxPulledSources` sources connect at once; a viewer of one more gets
 *   503 BUSY.
 * - Cluster: one node pulls each source. A viewer on a node that does not hold the pull lease
 *   (src/cluster/pull-lock.ts) gets null here, after waiting for the holder's origin claim, and
 *   the registry falls through to the internal relay, which brings the stream from the holder.
 *   Always-on sources are pulled by whichever node holds the lease; the others try again every
 *   ttl/2, so a node that dies is replaced. Sources' states travel the event bus
 *   (`live.source.state`) so every node's API shows them.
 */
import type { Logger } from 'pino';
import { fail } from '../../errors.js';
import type { OriginLookup } from '../../cluster/origin-map.js';
import type { PullLock } from '../../cluster/pull-lock.js';
import type { LiveStream } from '../stream/stream.js';
import type { RemoteStreamSource, StreamRegistry } from '../stream/stream-registry.js';
import { PullMetrics } from './pull-metrics.js';
import { PulledSource, type PullTuning, type SourceSpec, type SourceState } from './pulled-source.js';
import type { ConnectorRegistry } from './connector/source-connector.js';
import { maskSourceUrl } from './connector/source-url.js';

/** A source's status as the API shows it. */
export interface SourceStatus {
  url: string;
  onDemand: boolean;
  state: SourceState;
  since: string | null;
  reason: string | null;
  protocol: string | null;
}

/** What the manager is built from. */
export interface PullManagerOptions {
  registry: StreamRegistry;
  connectors: ConnectorRegistry;
  tuning: PullTuning;
  maxSources: number;
  log: Logger;
  /** The stored source of a stream, or null (a pushed stream, or none). */
  lookup(streamId: string): Promise<SourceSpec | null>;
  /** Every stored source (always-on ones connect at start). */
  listAll(): Promise<SourceSpec[]>;
  /** Whether anyone still watches `streamId` (viewers of any protocol, other nodes' relays). */
  demand(streamId: string): boolean;
  /** State changes, for the event bus. */
  onState?(streamId: string, s: SourceStatus): void;
  /** A source was changed through this node's API (cluster: the other nodes call `changed` too). */
  onChanged?(streamId: string): void;
  /** Cluster mode: the origin map and the pull lease; absent on a single node. */
  cluster?: { origins: OriginLookup; lock: PullLock; ttlMs: number };
}

const LOOKUP_TTL_MS = 2000;

/** Pulled sources of the process. */
export class PullManager implements RemoteStreamSource {
  readonly metrics: PullMetrics;
  private readonly sources = new Map<string, PulledSource>();
  private readonly cache = new Map<string, { spec: SourceSpec | null; at: number }>();
  private readonly connects = new Map<string, number>();
  private readonly waiting = new Map<string, NodeJS.Timeout>();
  private retiredBytes = 0;
  private closed = false;

  constructor(private readonly o: PullManagerOptions) {
    this.metrics = new PullMetrics({
      byState: () => {
        const n: Record<SourceState, number> = { idle: 0, connecting: 0, live: 0, failed: 0 };
        for (const s of this.sources.values()) n[s.state]++;
        return n;
      },
      connects: () => this.connects,
      bytesIn: () => this.retiredBytes + [...this.sources.values()].reduce((n, s) => n + s.bytesIn, 0),
    });
    if (o.cluster) o.cluster.lock.onLost = (id) => this.sources.get(id)?.stop('another node pulls this source now', true);
  }

  /** Connect `streamId`'s source if it has one (see the file header); null when it has none or another node pulls it. */
  async pull(streamId: string): Promise<LiveStream | null> {
    if (this.closed) return null;
    const spec = await this.spec(streamId);
    if (spec === null) return null;
    const c = this.o.cluster;
    if (c !== undefined) {
      const origin = await c.origins.lookup(streamId).catch(() => null);
      if (origin !== null && origin.nodeId !== c.origins.nodeId) return null; // the relay brings it
      if (!(await this.lease(streamId))) {
        await waitForClaim(c.origins, streamId, this.o.tuning.connectTimeoutMs);
        return null;
      }
    }
    return this.source(spec).acquire();
  }

  /** Throw LIVE_SOURCE_BAD_URL / LIVE_SOURCE_SCHEME_UNSUPPORTED when no connector can pull `url` (before it is stored). */
  validate(url: string): void {
    this.o.connectors.resolve(url);
  }

  /** Connect every always-on source (at start). */
  async start(): Promise<void> {
    for (const spec of await this.o.listAll()) {
      this.cache.set(spec.streamId, { spec, at: Date.now() });
      if (!spec.onDemand) void this.keepOn(spec);
    }
  }

  /**
   * The stream's stored source changed (created, patched, deleted): restart or stop its pull here,
   * and (unless the news came from another node) tell the other nodes through `onChanged`.
   */
  async changed(streamId: string, fromPeer = false): Promise<void> {
    if (!fromPeer) this.o.onChanged?.(streamId);
    this.cache.delete(streamId);
    clearTimeout(this.waiting.get(streamId));
    this.waiting.delete(streamId);
    const spec = await this.spec(streamId);
    const running = this.sources.get(streamId);
    if (running !== undefined && (spec === null || spec.url !== running.spec.url || spec.onDemand !== running.spec.onDemand)) {
      this.retire(running, spec === null ? 'source removed' : 'source changed');
    }
    if (spec !== null && !spec.onDemand) await this.keepOn(spec);
  }

  /** Cluster: the last state another node reported for a stream's source (the bus), else null. */
  remoteStatus: (streamId: string) => SourceStatus | null = () => null;

  /** Status of a stream's source: this node's pull, else what the node pulling it last reported; null when it has none. */
  async status(streamId: string): Promise<SourceStatus | null> {
    const spec = await this.spec(streamId);
    if (spec === null) return null;
    const s = this.sources.get(streamId);
    const remote = s === undefined || s.state === 'idle' ? this.remoteStatus(streamId) : null;
    return remote === null ? statusOf(spec, s) : { ...remote, url: maskSourceUrl(spec.url), onDemand: spec.onDemand };
  }

  /** Stop every pull (shutdown); the registry ends the streams. */
  close(): void {
    this.closed = true;
    for (const t of this.waiting.values()) clearTimeout(t);
    this.waiting.clear();
    for (const s of this.sources.values()) s.stop('server shutting down', false, true);
    void this.o.cluster?.lock.close();
  }

  /** Always on: pull now if this node may, else look again every ttl/2 (cluster). */
  private async keepOn(spec: SourceSpec): Promise<void> {
    clearTimeout(this.waiting.get(spec.streamId));
    this.waiting.delete(spec.streamId);
    if (this.closed) return;
    // Stop looking once the source was removed or changed (the store, read at most every 2 s).
    const now = await this.spec(spec.streamId).catch(() => spec);
    if (now === null || now.url !== spec.url || now.onDemand) return;
    const c = this.o.cluster;
    if (c !== undefined && !(await this.lease(spec.streamId))) {
      const t = setTimeout(() => void this.keepOn(spec), Math.max(100, Math.floor(c.ttlMs / 2)));
      t.unref();
      this.waiting.set(spec.streamId, t);
      return;
    }
    this.source(spec).start();
  }

  private async lease(streamId: string): Promise<boolean> {
    const c = this.o.cluster!;
    try {
      return await c.lock.acquire(streamId);
    } catch (err) {
      throw fail('LIVE_ORIGIN_LOOKUP_FAILED', streamId, (err as Error).message);
    }
  }

  private source(spec: SourceSpec): PulledSource {
    let s = this.sources.get(spec.streamId);
    if (s !== undefined && s.spec.url === spec.url && s.spec.onDemand === spec.onDemand) return s;
    if (s !== undefined) this.retire(s, 'source changed');
    const busy = [...this.sources.values()].filter((x) => x.busy).length;
    if (busy >= this.o.maxSources) throw fail('BUSY', `pulling sources (${this.o.maxSources} connected, live.maxPulledSources)`);
    s = new PulledSource(spec, {
      registry: this.o.registry,
      connectors: this.o.connectors,
      tuning: this.o.tuning,
      log: this.o.log,
      demand: (id) => this.o.demand(id),
      onState: (src) => this.stateChanged(src),
      counted: (protocol, result) => {
        const k = `${protocol} ${result}`;
        this.connects.set(k, (this.connects.get(k) ?? 0) + 1);
      },
    });
    this.sources.set(spec.streamId, s);
    return s;
  }

  private retire(s: PulledSource, reason: string): void {
    s.stop(reason, true, true);
    this.retiredBytes += s.bytesIn;
    if (this.sources.get(s.spec.streamId) === s) this.sources.delete(s.spec.streamId);
    this.o.cluster?.lock.release(s.spec.streamId);
  }

  private stateChanged(src: PulledSource): void {
    const st = statusOf(src.spec, src);
    this.o.log.info({ streamId: src.spec.streamId, source: st.url, state: st.state, reason: st.reason }, 'source state');
    // An on-demand source that went idle or failed frees its lease: the next viewer's node may pull.
    if (this.o.cluster && src.spec.onDemand && (st.state === 'idle' || st.state === 'failed')) this.o.cluster.lock.release(src.spec.streamId);
    this.o.onState?.(src.spec.streamId, st);
  }

  private async spec(streamId: string): Promise<SourceSpec | null> {
    const hit = this.cache.get(streamId);
    if (hit !== undefined && Date.now() - hit.at < LOOKUP_TTL_MS) return hit.spec;
    const spec = await this.o.lookup(streamId);
    if (this.cache.size > 10_000) this.cache.clear(); // bounded: ids from the network
    this.cache.set(streamId, { spec, at: Date.now() });
    return spec;
  }
}

function statusOf(spec: SourceSpec, s: PulledSource | undefined): SourceStatus {
  return {
    url: maskSourceUrl(spec.url),
    onDemand: spec.onDemand,
    state: s?.state ?? 'idle',
    since: s === undefined ? null : new Date(s.since).toISOString(),
    reason: s?.reason ?? null,
    protocol: s?.protocol ?? null,
  };
}

/** Wait until some node claims `streamId` in the origin map, at most `ms`. */
function waitForClaim(origins: OriginLookup, streamId: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const off = origins.onClaim(streamId, done);
    const t = setTimeout(done, ms);
    // The claim may have come between the caller's lookup and this subscription.
    origins.lookup(streamId).then((o) => o !== null && done(), () => undefined);
    function done(): void {
      clearTimeout(t);
      off();
      resolve();
    }
  });
}
