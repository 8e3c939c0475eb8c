/**
 * The node's Redis connections (ioredis). One command connection serves every key and stream
 * operation; a subscriber connection (Redis forbids commands on a connection in subscribe mode)
 * is opened on first use. Both reconnect by themselves with a capped backoff, forever: a Redis
 * that restarts is picked up again without restarting Strom.
 *
 * While Redis is unreachable, commands fail at once instead of queueing (`enableOfflineQueue`
 * off, one retry per request): callers turn that into a 503 naming Redis, or fall back to what
 * the node can do alone, rather than holding requests until a timeout.
 */
import type * as IoRedis from 'ioredis';
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { optionalModule } from '../optional-module.js';

/** Redis as the cluster uses it. */
export interface RedisConnection {
  /** The command connection. */
  readonly cmd: Redis;
  /** The subscriber connection (opened on first call). */
  subscriber(): Redis;
  /** True while the command connection is ready. */
  ready(): boolean;
  /** A new connection with the same options (for a blocking reader such as XREAD BLOCK). */
  duplicate(name: string): Redis;
  /** Close every connection. */
  close(): Promise<void>;
}

/** Open the connections to `url`; `nodeId` names them in CLIENT LIST. */
export function connectRedis(url: string, nodeId: string, log: Logger): RedisConnection {
  const opts: RedisOptions = {
    connectionName: `strom:${nodeId}`,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    lazyConnect: false,
  };
  const { Redis: RedisClient } = optionalModule<typeof IoRedis>('ioredis'); // cluster mode only
  const opened: Redis[] = [];
  const open = (name: string, extra: RedisOptions = {}): Redis => {
    const r = new RedisClient(url, { ...opts, ...extra, connectionName: `${opts.connectionName}:${name}` });
    let down = false;
    r.on('error', (err: Error) => {
      if (!down) log.warn({ err: err.message, connection: name }, 'redis unreachable; retrying');
      down = true;
    });
    r.on('ready', () => {
      if (down) log.info({ connection: name }, 'redis reachable again');
      down = false;
    });
    opened.push(r);
    return r;
  };
  const cmd = open('cmd');
  let sub: Redis | null = null;
  return {
    cmd,
    // A subscriber must queue its SUBSCRIBE until connected and resubscribes after reconnects.
    subscriber: () => (sub ??= open('sub', { enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true })),
    ready: () => cmd.status === 'ready',
    // A blocking reader waits on the server, so it gets no per-request retry limit.
    duplicate: (name) => open(name, { enableOfflineQueue: true, maxRetriesPerRequest: null }),
    async close() {
      // QUIT waits for Redis' reply: a connection still (re)connecting — Redis away — would wait
      // forever (the subscriber queues commands offline), so it is dropped instead.
      await Promise.all(opened.map((r) => (r.status === 'ready' ? r.quit().catch(() => r.disconnect()) : r.disconnect())));
    },
  };
}
