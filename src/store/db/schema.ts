/**
 * Row types of the metadata database, one interface per table, as Kysely sees them. Columns use
 * only types both SQLite and PostgreSQL store the same way (TEXT, INTEGER/BIGINT, 8-byte floats),
 * booleans are 0/1 integers, times are epoch milliseconds and JSON is TEXT, so rows read the same
 * from either engine (BIGINT is parsed to a number on PostgreSQL, see database.ts).
 */

/** Who may play an asset: anyone (`public`) or holders of a signed playback token. */
export type Visibility = 'public' | 'signed';
/** Content protection of a video's media (docs/VOD.md "Content protection"). */
export type Protection = 'none' | 'aes-128' | 'cenc';
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
  /** How the published media is encrypted (fixed at creation: the keys are derived from the id). */
  protection: Protection;
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
  /** A clip: JSON `{videoId, start, end}` of the range of the video it was cut from (seconds, snapped); null otherwise. */
  clip_of: string | null;
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
  /** SRT publishers and readers of this stream must encrypt with it (null: `srt.passphrase`); a secret. */
  srt_passphrase: string | null;
  /** Pulled source URL (rtsp://, rtmp://, srt://, http(s)://….m3u8 / .flv), null for pushed streams; a secret (may carry credentials). */
  source: string | null;
  /** 1: connect the source while someone watches; 0: always connected. */
  source_on_demand: number;
  /** Scheduled start (epoch ms) for the viewer forecast, null when unscheduled. */
  scheduled_start: number | null;
  /** Viewers expected once the scheduled stream starts, null when unknown. */
  expected_viewers: number | null;
  created_at: number;
  updated_at: number;
}

/** `live_outputs`: a restreaming destination of a live stream; `url` and `stream_key` are secrets (never shown in full). */
export interface LiveOutputRow {
  id: string;
  stream_id: string;
  name: string;
  /** rtmp://, rtmps://…, possibly with userinfo and the key in its path. */
  url: string;
  /** Appended to `url`'s path as the stream name when set. */
  stream_key: string | null;
  enabled: number;
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

/** `webhook_deliveries`: the attempt log, one row per delivery attempt (kept `webhooks.retentionMs`). */
export interface WebhookDeliveryRow {
  id: string;
  webhook_id: string;
  /** The outbox delivery the attempt belongs to (`Strom-Delivery-Id`); null on rows older than the outbox. */
  delivery_id: string | null;
  event: string;
  payload: string;
  status_code: number | null;
  attempts: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

/** Where a webhook delivery stands in the outbox; a delivered one is deleted. */
export type OutboxState = 'pending' | 'delivering' | 'failed';

/** `webhook_outbox`: one durable delivery of one event to one webhook, leased like a job. */
export interface WebhookOutboxRow {
  /** `dlv_…`, sent as `Strom-Delivery-Id`: receivers deduplicate on it. */
  id: string;
  webhook_id: string;
  /** Event type. */
  event: string;
  /** `evt_…`, the same for every webhook the event went to (`Strom-Event-Id`). */
  event_id: string;
  /** The JSON body, exactly as signed and sent. */
  payload: string;
  state: OutboxState;
  /** Attempts started (counted when leased). */
  attempts: number;
  /** pending: when the next attempt is due; delivering: when the lease expires and anyone may take it. */
  due_at: number;
  /** `<node id>/<random per lease>` while delivering, else null. */
  lease_owner: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

/** `video_captions`: one caption track (WebVTT, SubRip converted) per video and language. */
export interface CaptionRow {
  video_id: string;
  /** BCP 47 tag, canonical case (`en`, `pt-BR`, `zh-Hant`). */
  language: string;
  label: string;
  /** 1 = the player's default track (at most one per video). */
  is_default: number;
  /** What was uploaded: `vtt` or `srt`. */
  format: string;
  /** The validated track as WebVTT text. */
  vtt: string;
  cues: number;
  created_at: number;
  updated_at: number;
}

/** State of a direct upload as stored (`expired` is also reported for a past `expires_at`). */
export type DirectUploadState = 'waiting' | 'uploading' | 'done' | 'expired' | 'cancelled';

/** `direct_uploads`: a one-time tus upload URL for one video, its credential kept as a SHA-256. */
export interface DirectUploadRow {
  id: string;
  video_id: string;
  /** hex SHA-256 of the credential in the upload URL (the credential itself is never stored). */
  token_hash: string;
  state: DirectUploadState;
  max_size_bytes: number;
  /** The only browser origin that may use the URL, or null for `delivery.corsOrigin`. */
  cors_origin: string | null;
  expires_at: number;
  created_at: number;
  updated_at: number;
}

/** `schema_migrations`: applied migration versions. */
export interface SchemaMigrationRow {
  version: number;
  name: string;
  applied_at: number;
}

/** `server_secrets`: secrets every node of a cluster must share (one row per purpose). */
export interface ServerSecretRow {
  name: string;
  /** base64url */
  secret: string;
  created_at: number;
}

/** The whole database, for `Kysely<Database>`. */
export interface Database {
  videos: VideoRow;
  live_streams: LiveStreamRow;
  live_outputs: LiveOutputRow;
  signing_keys: SigningKeyRow;
  jobs: JobRow;
  webhooks: WebhookRow;
  webhook_deliveries: WebhookDeliveryRow;
  webhook_outbox: WebhookOutboxRow;
  video_captions: CaptionRow;
  direct_uploads: DirectUploadRow;
  server_secrets: ServerSecretRow;
  schema_migrations: SchemaMigrationRow;
}
