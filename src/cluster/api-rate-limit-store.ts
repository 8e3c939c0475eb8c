/**
 * The API rate limit counted for the whole cluster: a store for @fastify/rate-limit that keeps
 * each caller's fixed window in Redis (`strom:rl:api:<sub:… | ip:…>`, INCR and PEXPIRE in one
 * script, as the plugin's own Redis store does), on the node's command connection.
 *
 * While Redis is unreachable the API keeps answering: the window is counted in this node's
 * memory instead (the same limit per node, so the cluster admits at most N × the limit until Redis
 * is back), and each such decision is counted. Refusing every API call while Redis is away would
 * take the control plane down with a store that holds nothing durable; admitting unlimited calls
 * would drop the protection the limit exists for.
 */
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import { Counter, type Registry } from 'prom-client';
import type { RedisConnection } from './redis-connection.js';

/** Key prefix of the API windows in Redis. */
export const API_LIMIT_PREFIX = 'strom:rl:api:';
/** Windows kept in memory while Redis is unreachable (oldest dropped beyond). */
const LOCAL_KEYS = 10_000;

// KEYS[1]: the caller's window. ARGV[1]: window length, ms. Returns {count, ms left}.
const INCR_SCRIPT = `
local c = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if c == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {c, ttl}`;

type Result = { current: number; ttl: number };
type Callback = (error: Error | null, result?: Result) => void;

/** A store class for `@fastify/rate-limit`'s `store` option (see the file header). */
export function clusterApiRateLimitStore(redis: RedisConnection, registry: Registry): FastifyRateLimitStoreCtor {
  const local = new Counter({ name: 'strom_cluster_api_rate_limit_local_total', help: 'API rate-limit decisions counted on this node alone because Redis was unreachable', registers: [registry] });
  const windows = new Map<string, { n: number; resetAt: number }>();

  function incrLocal(key: string, timeWindow: number, cb: Callback): void {
    local.inc();
    const now = Date.now();
    let w = windows.get(key);
    if (w === undefined || w.resetAt <= now) {
      windows.delete(key);
      if (windows.size >= LOCAL_KEYS) windows.delete(windows.keys().next().value!);
      w = { n: 0, resetAt: now + timeWindow };
      windows.set(key, w);
    }
    w.n++;
    cb(null, { current: w.n, ttl: w.resetAt - now });
  }

  class ClusterApiRateLimitStore implements FastifyRateLimitStore {
    constructor(_options?: unknown, private readonly prefix = API_LIMIT_PREFIX) {}

    incr(key: string, cb: Callback, timeWindow: number): void {
      const k = this.prefix + key;
      if (!redis.ready()) return incrLocal(k, timeWindow, cb);
      redis.cmd.eval(INCR_SCRIPT, 1, k, String(timeWindow)).then(
        (r) => {
          const [current, ttl] = r as [number, number];
          cb(null, { current, ttl });
        },
        () => incrLocal(k, timeWindow, cb),
      );
    }

    /** A store for a route with its own limit: the plugin passes the merged options with `routeInfo`. */
    child(routeOptions: object): FastifyRateLimitStore {
      const info = (routeOptions as { routeInfo?: { method?: unknown; url?: unknown } }).routeInfo ?? {};
      return new ClusterApiRateLimitStore(undefined, `${this.prefix}${String(info.method ?? '')}${String(info.url ?? '')}-`);
    }
  }
  return ClusterApiRateLimitStore as unknown as FastifyRateLimitStoreCtor;
}
