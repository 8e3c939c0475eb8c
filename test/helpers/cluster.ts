/**
 * Several Strom nodes of one cluster in this process, for cluster tests: each node its own data
 * directory and port, all on one private Redis (and, when given, one metadata store URL), with
 * the shared settings a cluster needs (secret, API JWT secret). Plus small helpers the cluster
 * tests share: a GET on a fresh connection, an SSE reader.
 */
import http from 'node:http';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { RawSettings } from '../../src/config.js';
import { startApi, type ApiServer } from './api-server.js';
import { onSseEvents, type SseEvent } from './sse.js';
import { until } from './until.js';

/** The cluster secret and API JWT secret every test node shares. */
export const CLUSTER_SETTINGS: RawSettings = {
  'cluster.secret': 'test-cluster-secret-0123456789',
  'auth.jwtSecret': 'test-api-jwt-secret-shared-by-nodes-0123456789',
};

/** Start node `name` of the cluster on `redisUrl`. */
export function startNode(t: TestContext, redisUrl: string, name: string, extra: RawSettings = {}, dataDir?: string): Promise<ApiServer> {
  return startApi(t, { ...CLUSTER_SETTINGS, 'cluster.redisUrl': redisUrl, 'cluster.nodeId': name, ...extra }, dataDir);
}

/** Status of a GET on a new connection (so a node's connections spread over its delivery workers). */
export function freshGet(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

/** An open SSE stream collecting events; `next(n)` waits for n of them. */
export interface SseClient {
  events: SseEvent[];
  next(n: number, ms?: number): Promise<SseEvent[]>;
  close(): void;
}

/** Open `GET url` as an event stream (closed after the test at the latest; close it before, or the nodes wait for it to end). */
export async function openSse(t: TestContext, url: string, headers: Record<string, string>): Promise<SseClient> {
  const events: SseEvent[] = [];
  const req = http.get(url, { headers, agent: false });
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  assert.equal(res.statusCode, 200, `SSE ${url}`);
  onSseEvents(res, (e) => events.push(e));
  res.on('error', () => undefined);
  const close = () => req.destroy();
  t.after(close);
  return {
    events,
    close,
    async next(n, ms = 5_000) {
      await until(() => events.length >= n, `${n} events on ${url} (got ${events.length})`, ms, 5);
      return events.slice(0, n);
    },
  };
}
