/**
 * Which node pulls a live stream's source (cluster mode): a lease in Redis, so a camera or an
 * upstream server gets ONE connection from the cluster however many nodes have viewers.
 *
 *   key strom:live:pull:<streamId>   value <nodeId>   PX ttl
 *
 * `acquire` is SET NX (or a refresh when this node already holds it); the holder refreshes every
 * ttl/3 while it pulls, so the lease of a node that died lapses within one ttl and another node
 * takes the source over. Release is compare-and-delete. Other nodes' viewers are served through
 * the internal relay once the holder's publish claims the origin map.
 */
import type { Logger } from 'pino';
import type { RedisConnection } from './redis-connection.js';

/** Who may pull a stream's source. */
export interface PullLock {
  /** True when this node holds (or now took) the lease of `streamId`; false when another node holds it; rejects while Redis is away. */
  acquire(streamId: string): Promise<boolean>;
  /** Give the lease up (the pull stopped). */
  release(streamId: string): void;
  /** Called when a refresh finds the lease held by another node: stop pulling. */
  onLost: ((streamId: string) => void) | null;
  /** Stop refreshing and release every lease. */
  close(): Promise<void>;
}

const KEY_PREFIX = 'strom:live:pull:';
// Take the lease if free or ours (refreshing its expiry); 1 = held by us, 0 = another node holds it.
const ACQUIRE_LUA = `local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** The Redis lease. */
export class RedisPullLock implements PullLock {
  onLost: ((streamId: string) => void) | null = null;
  private readonly held = new Set<string>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly redis: RedisConnection, private readonly nodeId: string, private readonly ttlMs: number, private readonly log: Logger) {
    this.timer = setInterval(() => void this.refresh(), Math.max(100, Math.floor(ttlMs / 3)));
    this.timer.unref();
  }

  async acquire(streamId: string): Promise<boolean> {
    const r = await this.redis.cmd.eval(ACQUIRE_LUA, 1, KEY_PREFIX + streamId, this.nodeId, this.ttlMs);
    if (r === 1) this.held.add(streamId);
    return r === 1;
  }

  release(streamId: string): void {
    if (!this.held.delete(streamId)) return;
    this.redis.cmd.eval(RELEASE_LUA, 1, KEY_PREFIX + streamId, this.nodeId).catch((err: unknown) => {
      this.log.warn({ err: (err as Error).message, streamId }, 'could not release a pull lease (it lapses by itself)');
    });
  }

  private async refresh(): Promise<void> {
    for (const id of [...this.held]) {
      try {
        if (!(await this.acquire(id)) && this.held.delete(id)) this.onLost?.(id);
      } catch (err) {
        this.log.warn({ err: (err as Error).message, streamId: id }, 'could not refresh a pull lease');
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    const ids = [...this.held];
    this.held.clear();
    await Promise.all(ids.map((id) => this.redis.cmd.eval(RELEASE_LUA, 1, KEY_PREFIX + id, this.nodeId).catch(() => 0)));
  }
}
