/**
 * Row types of the metadata database, one interface per table, as Kysely sees them. Columns use
 * only types both SQLite and PostgreSQL store the same way (TEXT, INTEGER/BIGINT, 8-byte floats),
 * booleans are 0/1 integers, times are epoch milliseconds and JSON is TEXT, so rows read the same
 * from either engine (BIGINT is parsed to a number on PostgreSQL, see database.ts).
 */

/** Who may play an asset: anyone (`public`) or holders of a signed playback token. */
export type Visibility = 'public' | 'signed';
/** Lifecycle of a video from upload to playable. */
export type VideoStatus = 'waiting' | 'queued' | 'processing' | 'ready' | 'errored';
/** Durable job states (src/jobs). */
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** `videos`: one uploaded or recorded video. */
export interface VideoRow {
  id: string;
  title: string;
  description: string;
  visibility: Visibility;
  status: VideoStatus;
  error_code: string | null;
  error_message: string | null;
  progress: number;
  duration_s: number | null;
  width: number | null;
  height: number | null;
  source_path: string | null;
  /** JSON object as text. */
  metadata: string;
  playable: number;
  created_at: number;
  updated_at: number;
}

/** `live_streams`: one live input with its secret stream key. */
export interface LiveStreamRow {
  id: string;
  title: string;
  stream_key: string;
  visibility: Visibility;
  status: 'idle' | 'active';
  record: number;
  /** Live ABR: 1 = transcode the `live.abrLadder` renditions while watched. */
  abr: number;
  created_at: number;
  updated_at: number;
}

/** `signing_keys`: HMAC keys for playback tokens; revoked keys stay for audit. */
export interface SigningKeyRow {
  kid: string;
  alg: string;
  /** base64url secret (HS256). */
  secret: string;
  created_at: number;
  revoked_at: number | null;
}

/** `jobs`: durable work items with leases and retries. */
export interface JobRow {
  id: string;
  video_id: string | null;
  kind: string;
  state: JobState;
  attempts: number;
  max_attempts: number;
  run_after: number;
  lease_until: number | null;
  /** Who holds the lease of a running job: `<node id>/<random per lease>`; null when not running. */
  lease_owner: string | null;
  last_error: string | null;
  /** JSON as text. */
  payload: string;
  created_at: number;
  updated_at: number;
}

/** `webhooks`: endpoints notified of events (sent by src/events/webhook-dispatcher.ts). */
export interface WebhookRow {
  id: string;
  url: string;
  secret: string;
  /** JSON array of event names as text. */
  events: string;
  created_at: number;
}

/** `webhook_deliveries`: one attempt log row per event delivery. */
export interface WebhookDeliveryRow {
  id: string;
  webhook_id: string;
  event: string;
  payload: string;
  status_code: number | null;
  attempts: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

/** `schema_migrations`: applied migration versions. */
export interface SchemaMigrationRow {
  version: number;
  name: string;
  applied_at: number;
}

/** The whole database, for `Kysely<Database>`. */
export interface Database {
  videos: VideoRow;
  live_streams: LiveStreamRow;
  signing_keys: SigningKeyRow;
  jobs: JobRow;
  webhooks: WebhookRow;
  webhook_deliveries: WebhookDeliveryRow;
  schema_migrations: SchemaMigrationRow;
}
