/**
 * Where an edge's live relay finds a stream: its configured origins (`edge.origins`, the
 * OriginPool), in failover order, in place of the cluster's origin map. The relay (src/live/relay)
 * asks `lookup` at the start of each search for an origin and `next` after an origin could not
 * serve the stream:
 *
 * - `lookup` → the pool's preferred origin (healthy first, then configured order).
 * - `next` → the next origin of the pool not yet tried in this search, or null. An origin that was
 *   unreachable or failed (no answer, 5xx) is marked unhealthy in the pool first, exactly as a
 *   failed cache fill marks it, so the edge's HTTP cache skips it too until its health check
 *   passes. A 404 (not live there) leaves it healthy but still moves on: an encoder that lost its
 *   origin publishes to a backup origin, and the edge must find it there.
 *
 * Entries name URLs, not nodes (`anyNode`): whichever Strom node answers — a single origin, any
 * node of a cluster (which redirects to the publishing node) or a load balancer — names itself in
 * `X-Strom-Node`. An edge receives no claim notifications (`onClaim` is inert): after an upstream
 * ends, the relay retries with its backoff until `cluster.relayConnectTimeoutMs`.
 */
import type { OriginEntry } from '../cluster/origin-map.js';
import type { RelayOrigins } from '../live/relay/relay-ingest.js';
import type { Attempt } from '../live/relay/relay-upstream.js';
import type { Origin, OriginPool } from './origin-pool.js';

/** The edge's origins as the live relay's origin lookup. */
export class PoolRelayOrigins implements RelayOrigins {
  readonly anyNode = true;
  /** Searches that moved on to another origin because one could not serve the stream. */
  failovers = 0;

  constructor(readonly nodeId: string, private readonly pool: OriginPool) {}

  /** The origin a new search for `streamId` starts with. */
  async lookup(): Promise<OriginEntry | null> {
    return this.entry(this.pool.preferred());
  }

  /** After `tried` failed (the last one with `attempt`): the next untried origin, or null. */
  next(_streamId: string, tried: readonly OriginEntry[], attempt: Attempt): OriginEntry | null {
    const last = this.pool.origins.find((o) => o.url === tried.at(-1)?.url);
    if (last !== undefined && (attempt.status === 0 || attempt.status >= 500)) {
      last.failures++;
      this.pool.markFailed(last, new Error(`live relay: ${attempt.why}`));
    }
    const untried = this.pool.candidates().find((o) => !tried.some((t) => t.url === o.url));
    if (untried === undefined) return null;
    this.failovers++;
    return this.entry(untried);
  }

  /** No claims reach an edge. */
  onClaim(): () => void {
    return () => undefined;
  }

  /** An entry naming `origin` by its URL (the node that answers there names itself). */
  private entry(origin: Origin): OriginEntry {
    origin.requests++;
    return { nodeId: origin.url, url: origin.url, since: 0 };
  }
}
