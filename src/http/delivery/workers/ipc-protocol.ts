/**
 * The messages between the main process and its delivery workers, over the IPC channel of
 * `child_process.fork`. Connections travel as socket handles next to a `conn`/`back` message (the
 * bytes already read ride along, latin1-encoded so any octet survives JSON). State the playback
 * guard needs — signed ids and signing keys — is pushed as a snapshot at start and as deltas when
 * the main changes it, so a worker never opens the database and never waits on the main per request.
 */
import type { Config } from '../../../config.js';

/** A signing key as the worker needs it (the HMAC secret is base64url, as in `signing_keys`). */
export interface WorkerKey {
  kid: string;
  secret: string;
}

/** Main → worker. */
export type ToWorker =
  /** `sharedLimits`: the media limit and stream cap are the cluster's, not divided among the processes. */
  /** `contentSecret`: the content key derivation secret (base64url), so workers answer key and license requests. */
  | { type: 'init'; index: number; processes: number; config: Config; signedIds: string[]; keys: WorkerKey[]; sharedLimits: boolean; contentSecret: string | null }
  /** A connection (handle attached); `head` = bytes the router already read from it. */
  | { type: 'conn'; head: string }
  | { type: 'visibility'; id: string; signed: boolean }
  | { type: 'key-added'; key: WorkerKey }
  | { type: 'key-revoked'; kid: string }
  /** Drop cached files of one asset, or of every asset (null). */
  | { type: 'invalidate'; assetId: string | null }
  /** The cluster's view of the limits (answer to `usage`, src/cluster/shared-limits.ts LimitView). */
  | { type: 'limits'; media: Array<[string, number]>; streams: Array<[string, number]> }
  /** Reply with `metrics` carrying this request id. */
  | { type: 'scrape'; id: number }
  /** Stop accepting, finish in-flight responses, exit 0 (forced after `graceMs`). */
  | { type: 'stop'; graceMs: number };

/** One CMCD record for the main's QoE tracker: the parsed CMCD and the content id. */
export interface QoeRecord {
  cmcd: Record<string, unknown>;
  id: string;
}

/** Worker → main. */
export type FromWorker =
  | { type: 'ready'; pid: number }
  /** A handed-off connection whose next request is not a delivery request (handle attached). */
  | { type: 'back'; head: string }
  | { type: 'metrics'; id: number; requests: number; metrics: unknown[] }
  | { type: 'qoe'; records: QoeRecord[] }
  /** With shared limits, every `rateLimit.syncMs`: admissions per IP since the last report, open responses per token. */
  | { type: 'usage'; media: Array<[string, number]>; streams: Array<[string, number]> };

/** Largest QoE batch a worker sends per 250 ms flush; records beyond it are dropped until the next flush. */
export const MAX_QOE_BATCH = 1000;
