/**
 * Per-node load forecasts shared through Redis, so every node can export the cluster-wide
 * forecast (docs/SCALING.md "Predictive scaling"):
 *
 *   hash strom:forecast:nodes   field <nodeId>   value JSON ForecastShareEntry
 *
 * Each node writes its own field after every sample; readers ignore entries older than `ttlMs`
 * (a node that died stops counting within one TTL) and delete them. A hash, not one key per node
 * with PX, so reading every node is one HGETALL instead of a SCAN. What a node shares is its
 * model-only forecast and its viewers of the scheduled streams: the scheduled audience itself is
 * read from the shared store and added once for the cluster, never once per node.
 */
import type { RedisConnection } from './redis-connection.js';

const KEY = 'strom:forecast:nodes';

/** What one node publishes. */
export interface ForecastShareEntry {
  /** When it was written (epoch ms). */
  at: number;
  /** Model-only forecasts by horizon label. */
  viewers: Record<string, number>;
  egressBps: Record<string, number>;
  /** This node's viewers of each scheduled stream that has any. */
  scheduledViewers: Record<string, number>;
}

/** The shared forecasts of the cluster's nodes. */
export class ForecastShare {
  constructor(private readonly redis: RedisConnection, readonly nodeId: string, private readonly ttlMs: number) {}

  /** Write this node's entry. Rejects while Redis is unreachable. */
  async publish(e: ForecastShareEntry): Promise<void> {
    await this.redis.cmd.hset(KEY, this.nodeId, JSON.stringify(e));
  }

  /** Every node's fresh entry (this node's included); stale and unreadable ones are deleted. */
  async readAll(now: number): Promise<Map<string, ForecastShareEntry>> {
    const raw = await this.redis.cmd.hgetall(KEY);
    const out = new Map<string, ForecastShareEntry>();
    const stale: string[] = [];
    for (const [node, json] of Object.entries(raw)) {
      let e: ForecastShareEntry | null;
      try {
        e = JSON.parse(json) as ForecastShareEntry;
      } catch {
        e = null;
      }
      if (e === null || typeof e.at !== 'number' || now - e.at > this.ttlMs) stale.push(node);
      else out.set(node, e);
    }
    if (stale.length > 0) await this.redis.cmd.hdel(KEY, ...stale);
    return out;
  }

  /** Remove this node's entry (at shutdown). */
  async withdraw(): Promise<void> {
    await this.redis.cmd.hdel(KEY, this.nodeId);
  }
}
