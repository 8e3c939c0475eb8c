/**
 * Cluster mode of one node: its identity (`cluster.nodeId`, the URL other nodes reach it at) and
 * its Redis connections. Built only when `cluster.redisUrl` is set; a single node (the embedded
 * default) has no `Cluster` at all, and every subsystem that can use one takes it as optional.
 * What lives where (docs/SCALING.md): metadata in PostgreSQL (`store.url`), media in object
 * storage, and in Redis only what moves between nodes — events, invalidations, the live origin
 * map and shared rate-limit counters — each with a bound (stream length, TTL, window).
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { connectRedis, type RedisConnection } from './redis-connection.js';

/** The cluster as seen from this node. */
export interface Cluster {
  /** This node's id: unique among live nodes, stable for the process's life. */
  readonly nodeId: string;
  readonly redis: RedisConnection;
  /** The shared secret that authenticates node-to-node requests. */
  readonly secret: string;
  /** Base URL other nodes reach this node's HTTP port at (set once the port is bound). */
  advertiseUrl(): string;
  /** Record the bound HTTP address (`listen()` calls it). */
  setBoundUrl(url: string): void;
  /** Close the Redis connections (after every user of them stopped). */
  close(): Promise<void>;
}

/** The node id when `cluster.nodeId` is unset: host name and pid, unique among running nodes. */
export function defaultNodeId(): string {
  return `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** Create the cluster membership of this node, or null when `cluster.redisUrl` is unset. */
export function createCluster(config: Config, log: Logger): Cluster | null {
  const { redisUrl, secret } = config.cluster;
  if (redisUrl === null || secret === null) return null;
  const nodeId = config.cluster.nodeId ?? defaultNodeId();
  const clog = log.child({ component: 'cluster', nodeId });
  const redis = connectRedis(redisUrl, nodeId, clog);
  let bound: string | null = null;
  return {
    nodeId,
    redis,
    secret,
    advertiseUrl: () => config.cluster.advertiseUrl ?? bound ?? `http://${config.host}:${config.port}`,
    setBoundUrl: (url) => void (bound = url),
    close: () => redis.close(),
  };
}
