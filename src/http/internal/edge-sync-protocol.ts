/**
 * The wire format of the edge sync, `GET /internal/edge/sync`: how an origin node hands the state
 * of signed playback to its edges (`strom edge`), so an edge verifies playback tokens itself and
 * never asks the origin per request. Server-Sent Events (WHATWG HTML §9.2), one JSON object per
 * `data:` line:
 *
 *   event: snapshot     data: {"keys":[{"kid","secret","alg"}…],"signed":["<id>"…]}   always first
 *   event: key-added    data: {"kid","secret","alg"}
 *   event: key-revoked  data: {"kid"}
 *   event: visibility   data: {"id","signed":true|false}        a video or live stream id
 *   event: invalidate   data: {"assetId":"<id>"|null}          null = every asset
 *   : heartbeat                                                 a comment every EDGE_SYNC_HEARTBEAT_MS
 *
 * Keys carry what verification needs and nothing more (no creation or revocation times). There are
 * no event ids and no resume: an edge that reconnects gets a new snapshot, which replaces its state.
 * Shared by both ends, so it sits with the origin's route (the edge layer is above the HTTP layer).
 */
import { fail } from '../../errors.js';

/** Path of the edge sync on an origin node. */
export const EDGE_SYNC_PATH = '/internal/edge/sync';
/** What the node-to-node Authorization header (src/live/relay/relay-auth.ts) of the edge sync is bound to. */
export const EDGE_SYNC_SCOPE = 'edge-sync';
/** The origin writes a heartbeat comment this often; an edge that hears nothing for 3× this reconnects. */
export const EDGE_SYNC_HEARTBEAT_MS = 15_000;

/** A signing key as an edge needs it: the base64url HMAC secret and its algorithm (always HS256). */
export interface SyncKey {
  kid: string;
  secret: string;
  alg: string;
}

/** One message of the edge sync. */
export type SyncMessage =
  | { type: 'snapshot'; keys: SyncKey[]; signed: string[] }
  | { type: 'key-added'; key: SyncKey }
  | { type: 'key-revoked'; kid: string }
  | { type: 'visibility'; id: string; signed: boolean }
  | { type: 'invalidate'; assetId: string | null };

/** The SSE frame of `m`. */
export function frame(m: SyncMessage): string {
  const { type, ...rest } = m;
  return `event: ${type}\ndata: ${JSON.stringify(m.type === 'key-added' ? m.key : rest)}\n\n`;
}

type Json = Record<string, unknown>;

const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';

function key(v: unknown, source: string): SyncKey {
  const k = v as Json | null;
  if (typeof k !== 'object' || k === null || !isString(k.kid) || !isString(k.secret) || !isString(k.alg)) throw malformed(source, 'a key needs string kid, secret and alg');
  return { kid: k.kid, secret: k.secret, alg: k.alg };
}

function malformed(source: string, why: string) {
  return fail('EDGE_SYNC_MALFORMED', source, why);
}

/**
 * The message of one event received from `source` (an origin URL, for errors); null for an event
 * type this edge does not know (a newer origin's: ignored). Throws EDGE_SYNC_MALFORMED.
 */
export function decodeSyncMessage(event: string, data: string, source: string): SyncMessage | null {
  let d: Json;
  try {
    d = JSON.parse(data) as Json;
  } catch {
    throw malformed(source, `event ${event}: data is not JSON`);
  }
  if (typeof d !== 'object' || d === null) throw malformed(source, `event ${event}: data is not an object`);
  switch (event) {
    case 'snapshot': {
      if (!Array.isArray(d.keys) || !Array.isArray(d.signed)) throw malformed(source, 'a snapshot needs arrays keys and signed');
      const signed = d.signed as unknown[];
      if (!signed.every(isString)) throw malformed(source, 'signed ids must be strings');
      return { type: 'snapshot', keys: (d.keys as unknown[]).map((k) => key(k, source)), signed };
    }
    case 'key-added':
      return { type: 'key-added', key: key(d, source) };
    case 'key-revoked':
      if (!isString(d.kid)) throw malformed(source, 'key-revoked needs a kid');
      return { type: 'key-revoked', kid: d.kid };
    case 'visibility':
      if (!isString(d.id) || typeof d.signed !== 'boolean') throw malformed(source, 'visibility needs an id and a boolean signed');
      return { type: 'visibility', id: d.id, signed: d.signed };
    case 'invalidate':
      if (d.assetId !== null && !isString(d.assetId)) throw malformed(source, 'invalidate needs an assetId (a string, or null for every asset)');
      return { type: 'invalidate', assetId: d.assetId };
    default:
      return null;
  }
}
