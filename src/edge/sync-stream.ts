/**
 * One playback sync stream from one origin (used by playback-sync.ts): `GET /internal/edge/sync`
 * signed with `cluster.secret`, parsed incrementally as it arrives, each event decoded and handed
 * on, until the stream ends, fails, falls silent for IDLE_MS or `signal` aborts it. It resolves
 * with how it ended rather than throwing, so the caller decides between the next origin (never
 * opened) and a reconnect (was open).
 *
 * A dedicated undici Client per stream: the stream is long-lived, and must not hold a connection
 * of the origin pools that fetch media (`edge.upstreamConnections` may be 1).
 */
import { Client, type Dispatcher } from 'undici';
import { fail, isStromError } from '../errors.js';
import { signRelayRequest } from '../live/relay/relay-auth.js';
import { decodeSyncMessage, EDGE_SYNC_HEARTBEAT_MS, EDGE_SYNC_PATH, EDGE_SYNC_SCOPE, type SyncMessage } from '../http/internal/edge-sync-protocol.js';
import type { Origin } from './origin-pool.js';
import { SseReader } from './sse-reader.js';

/** A stream silent this long (three missed heartbeats) is dead. */
export const IDLE_MS = 3 * EDGE_SYNC_HEARTBEAT_MS;
/** Characters of a refusal's body read for the log. */
const REASON_CHARS = 4096;

/** What one stream needs and whom it tells. */
export interface SyncStreamOptions {
  secret: string;
  nodeId: string;
  /** Time allowed to connect and for the response head. */
  timeoutMs: number;
  signal: AbortSignal;
  /** The origin accepted the stream (200). */
  onOpen(): void;
  /** Bytes arrived (an event or a heartbeat). */
  onBytes(): void;
  /** A message, snapshot first (a delta before it ends the stream as malformed); may throw to end it. */
  onMessage(m: SyncMessage): void;
}

/** How a stream ended: never opened (`connectError` set when the origin could not be reached at all), or ended after opening. */
export type SyncStreamEnd = { opened: false; why: string; connectError: Error | null } | { opened: true; why: string };

/** Follow the sync stream of `origin` until it ends. */
export async function followSyncStream(origin: Origin, o: SyncStreamOptions): Promise<SyncStreamEnd> {
  const client = new Client(origin.url, { headersTimeout: o.timeoutMs, bodyTimeout: IDLE_MS, connect: { timeout: Math.min(o.timeoutMs, 5_000) } });
  let opened = false;
  try {
    const res = await client.request({
      path: EDGE_SYNC_PATH,
      method: 'GET',
      headers: { authorization: signRelayRequest(o.secret, o.nodeId, EDGE_SYNC_SCOPE), accept: 'text/event-stream' },
      signal: o.signal,
    });
    if (res.statusCode !== 200) return { opened: false, why: `answered ${res.statusCode} ${await reason(res.body)}`, connectError: null };
    opened = true;
    o.onOpen();
    let first = true;
    const reader = new SseReader((type, data) => {
      const m = decodeSyncMessage(type, data, origin.url);
      if (m === null) return; // an event type of a newer origin
      if (first && m.type !== 'snapshot') throw fail('EDGE_SYNC_MALFORMED', origin.url, `${m.type} before the snapshot`);
      first = false;
      o.onMessage(m);
    }, origin.url);
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      o.onBytes();
      reader.push(chunk);
    }
    return { opened: true, why: 'the origin ended the stream' };
  } catch (err) {
    const why = describe(err);
    return opened ? { opened: true, why } : { opened: false, why, connectError: isStromError(err) || o.signal.aborted ? null : (err as Error) };
  } finally {
    await client.destroy().catch(() => undefined);
  }
}

/** The catalog error code and message of a refusal, or the start of its body. */
async function reason(body: Dispatcher.ResponseData['body']): Promise<string> {
  let text = '';
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8');
      if (text.length > REASON_CHARS) break;
    }
  } catch {
    // the status says enough
  }
  body.destroy();
  try {
    const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    if (e?.code) return `${e.code}: ${e.message ?? ''}`;
  } catch {
    // not a catalog error
  }
  return text.slice(0, 200);
}

function describe(err: unknown): string {
  if (isStromError(err)) return `${err.code}: ${err.message}`;
  const e = err as Error & { code?: string };
  return e.code ? `${e.code} ${e.message}` : e.message;
}
