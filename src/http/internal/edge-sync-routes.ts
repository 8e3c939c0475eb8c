/**
 * `GET /internal/edge/sync` (registered whenever `cluster.secret` is set): the state of signed
 * playback for edges (`strom edge`), as Server-Sent Events in the format of edge-sync-protocol.ts —
 * a snapshot of every active signing key and every signed id, then each change as it happens here.
 * An edge verifies playback tokens itself from this copy and never asks the origin per request.
 *
 * - Authentication: the node-to-node header of the live relay (relay-auth.ts) bound to
 *   `edge-sync`: missing or malformed → 401 CLUSTER_AUTH_REQUIRED, wrong secret or clock → 403.
 * - Sources: the same hooks that feed the delivery workers — PlaybackPolicy.onChange,
 *   PlaybackTokens.onChange, FileCatalog.onInvalidate. In cluster mode the other nodes' changes
 *   reach these hooks through the invalidation channel, so an edge in front of any node sees all.
 *   Each hook is subscribed once and fanned out to the subscribers.
 * - Bounds: at most `cluster.maxEdges` subscribers (more → 503 EDGE_SYNC_FULL); each subscriber's
 *   unsent bytes at most MAX_BACKLOG_BYTES beyond its snapshot, else it is disconnected (a stalled
 *   edge reconnects and resyncs by snapshot; the origin never buffers for it without bound).
 * - Shutdown: subscribers are ended before the server closes, so they do not hold the drain.
 * The snapshot and `key-added` carry HMAC secrets: reach origins over HTTPS or a private network.
 */
import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { fail } from '../../errors.js';
import type { PlaybackPolicy } from '../../auth/playback-guard.js';
import type { PlaybackTokens } from '../../auth/playback-tokens.js';
import { verifyRelayRequest } from '../../live/relay/relay-auth.js';
import { EDGE_SYNC_HEARTBEAT_MS, EDGE_SYNC_PATH, EDGE_SYNC_SCOPE, frame, type SyncMessage } from './edge-sync-protocol.js';

/** Unsent bytes one edge may have queued beyond its snapshot before it is disconnected. */
export const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;
/** The only algorithm PlaybackTokens signs and verifies. */
const ALG = 'HS256';

/** What the edge sync reads and where it reports. */
export interface EdgeSyncOptions {
  policy: PlaybackPolicy;
  tokens: PlaybackTokens;
  /** The file catalog (its invalidations: deleted, replaced or republished assets). */
  catalog: { onInvalidate(listener: (assetId: string | null) => void): void };
  secret: string;
  /** `cluster.maxEdges`. */
  maxEdges: number;
  log: Logger;
  registry: Registry;
  heartbeatMs?: number;
}

interface Subscriber {
  /** Fastify's raw response (an Http2ServerResponse at run time under tls.*). */
  res: ServerResponse;
  nodeId: string;
  /** Largest backlog allowed now: the snapshot's size plus MAX_BACKLOG_BYTES until it has drained once. */
  limit: number;
}

/** Bytes written to `res` and not yet handed to the kernel. */
function backlog(res: ServerResponse): number {
  const h2 = res as unknown as Partial<Http2ServerResponse>; // HTTP/2: the stream holds the queue
  return h2.stream ? h2.stream.writableLength : res.writableLength;
}

/** Fastify plugin with the edge sync endpoint. */
export function edgeSyncRoutes(o: EdgeSyncOptions) {
  const log = o.log.child({ component: 'edge-sync' });
  const heartbeatMs = o.heartbeatMs ?? EDGE_SYNC_HEARTBEAT_MS;
  const subs = new Set<Subscriber>();
  const registers = [o.registry];
  new Gauge({ name: 'strom_edge_sync_subscribers', help: 'Edges following this node\'s playback policy now (GET /internal/edge/sync)', registers, collect() {
    this.set(subs.size);
  } });
  const refused = new Counter({ name: 'strom_edge_sync_refused_total', help: 'Edge sync subscriptions refused because cluster.maxEdges edges were subscribed', registers });
  const dropped = new Counter({ name: 'strom_edge_sync_slow_disconnects_total', help: 'Edges disconnected because their unsent backlog outgrew the bound (they resync by snapshot)', registers });

  const write = (s: Subscriber, text: string): void => {
    if (backlog(s.res) > s.limit) {
      dropped.inc();
      log.warn({ edgeNode: s.nodeId, backlogBytes: backlog(s.res) }, 'edge sync: edge not reading, disconnected (it resyncs by snapshot)');
      subs.delete(s);
      s.res.destroy();
      return;
    }
    s.res.write(text);
  };
  const broadcast = (m: SyncMessage): void => {
    if (subs.size === 0) return;
    const text = frame(m);
    for (const s of subs) write(s, text);
  };
  o.policy.onChange((id, visibility) => broadcast({ type: 'visibility', id, signed: visibility === 'signed' }));
  o.tokens.onChange((c) => broadcast(c.type === 'added' ? { type: 'key-added', key: { kid: c.kid, secret: c.secret, alg: ALG } } : { type: 'key-revoked', kid: c.kid }));
  o.catalog.onInvalidate((assetId) => broadcast({ type: 'invalidate', assetId }));

  const beat = setInterval(() => {
    for (const s of subs) write(s, ': heartbeat\n\n');
  }, heartbeatMs);
  beat.unref();

  return async function routes(app: FastifyInstance): Promise<void> {
    app.addHook('preClose', async () => {
      clearInterval(beat);
      for (const s of subs) s.res.end();
      subs.clear();
    });
    app.get(EDGE_SYNC_PATH, async (req, reply) => {
      const nodeId = verifyRelayRequest(req.headers.authorization, o.secret, EDGE_SYNC_SCOPE);
      if (subs.size >= o.maxEdges) {
        refused.inc();
        log.warn({ edgeNode: nodeId, maxEdges: o.maxEdges }, 'edge sync: subscription refused, cluster.maxEdges reached');
        throw fail('EDGE_SYNC_FULL', o.maxEdges);
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Accel-Buffering': 'no',
        ...(req.raw.httpVersionMajor === 1 ? { Connection: 'keep-alive' } : {}),
      });
      // Snapshot and subscription in the same tick: no change can fall between them.
      const signed = o.policy.signedIds();
      const snapshot = frame({ type: 'snapshot', keys: o.tokens.activeKeys().map((k) => ({ ...k, alg: ALG })), signed });
      const s: Subscriber = { res, nodeId, limit: Buffer.byteLength(snapshot) + MAX_BACKLOG_BYTES };
      subs.add(s);
      res.write(snapshot);
      res.once('drain', () => void (s.limit = MAX_BACKLOG_BYTES));
      log.info({ edgeNode: nodeId, subscribers: subs.size, signedIds: signed.length }, 'edge sync: edge subscribed');
      res.once('close', () => {
        if (subs.delete(s)) log.info({ edgeNode: nodeId, subscribers: subs.size }, 'edge sync: edge unsubscribed');
      });
    });
  };
}
