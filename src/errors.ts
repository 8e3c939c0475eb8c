/**
 * The one error catalog of Strom. Every error a user or operator can see is created here with a
 * stable `code`, an HTTP status and a message that names the offending value. Add new errors to
 * `catalog` instead of throwing ad-hoc `Error`s from request paths.
 */

/** Shape of one catalog entry: HTTP status and a message template built from details. */
interface ErrorSpec<A extends unknown[]> {
  status: number;
  message: (...args: A) => string;
}

function spec<A extends unknown[]>(status: number, message: (...args: A) => string): ErrorSpec<A> {
  return { status, message };
}

/** Render a value for an error message: quoted, truncated, control characters escaped. */
export function show(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  const clipped = text.length > 120 ? `${text.slice(0, 117)}...` : text;
  // eslint-disable-next-line no-control-regex
  return JSON.stringify(clipped.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** All errors, by code. */
export const catalog = {
  // configuration
  CONFIG_INVALID: spec(500, (setting: string, value: unknown, why: string) => `invalid setting ${setting}=${show(value)}: ${why}`),
  CONFIG_FILE_UNREADABLE: spec(500, (file: string, why: string) => `cannot read config file ${show(file)}: ${why}`),
  CLI_USAGE: spec(400, (what: string) => what),

  // generic HTTP
  BAD_REQUEST: spec(400, (why: string) => why),
  VALIDATION_FAILED: spec(400, (field: string, why: string) => `invalid ${field}: ${why}`),
  NOT_FOUND: spec(404, (what: string) => `${what} not found`),
  METHOD_NOT_ALLOWED: spec(405, (method: string) => `method ${show(method)} is not allowed here`),
  PAYLOAD_TOO_LARGE: spec(413, (size: number, limit: number) => `body of ${size} bytes exceeds the limit of ${limit} bytes`),
  UNSUPPORTED_MEDIA_TYPE: spec(415, (type: string) => `content type ${show(type)} is not supported`),
  RATE_LIMITED: spec(429, (retryAfterS: number) => `rate limit exceeded, retry in ${retryAfterS} s`),
  INTERNAL: spec(500, (why: string) => `internal error: ${why}`),
  MISDIRECTED_REQUEST: spec(421, (method: string, path: string) => `${show(method)} ${show(path)} cannot be answered on this connection (a delivery worker's); retry on a new connection`), // RFC 9110 §15.5.20
  SHUTTING_DOWN: spec(503, () => 'server is shutting down'),
  MALFORMED_REQUEST: spec(400, (parserCode: string) => `malformed HTTP request (${parserCode}); the connection is closed`), // RFC 9112 §2.2
  REQUEST_HEAD_TIMEOUT: spec(408, (headersMs: number, requestMs: number) => `request not received in time (headers within ${headersMs} ms, whole request within ${requestMs} ms); the connection is closed`),
  HEADERS_TOO_LARGE: spec(431, () => 'request header fields too large; the connection is closed'), // RFC 6585 §5

  // delivery
  BAD_PATH: spec(400, (path: string, why: string) => `bad path ${show(path)}: ${why}`),
  RANGE_NOT_SATISFIABLE: spec(416, (range: string, size: number) => `range ${show(range)} is outside the ${size}-byte object`),
  PRECONDITION_FAILED: spec(412, (header: string) => `precondition ${header} failed`),
  ASSET_NOT_FOUND: spec(404, (id: string) => `asset ${show(id)} not found`),
  OBJECT_NOT_FOUND: spec(404, (path: string) => `object ${show(path)} not found`),

  // --- media storage (src/storage): `where` names the endpoint and bucket (or the data directory) ---
  STORAGE_UNAVAILABLE: spec(503, (where: string, op: string, why: string) => `media storage ${where} failed to ${op}: ${why}`),
  STORAGE_FULL: spec(507, (what: string) => `no space left on the device holding ${what}: nothing partial was kept; free space, then try again`),
  STORAGE_EXISTS: spec(409, (where: string, key: string) => `media storage ${where} already holds ${show(key)}`),

  // --- VOD media rejections (src/vod; stored on the video as its error code and message) ---
  MEDIA_EMPTY: spec(422, (file: string) => `uploaded file ${show(file)} is empty (0 bytes)`),
  MEDIA_NOT_MEDIA: spec(422, (file: string, why: string) => `${show(file)} is not a media file: ${why}`),
  MEDIA_CORRUPT: spec(422, (file: string, why: string) => `${show(file)} is truncated or corrupt: ${why}`),
  MEDIA_NO_STREAMS: spec(422, (file: string, found: string) => `${show(file)} has no decodable video or audio stream (found: ${found})`),
  MEDIA_TOO_LONG: spec(422, (durationS: number, limitS: number) => `duration ${durationS.toFixed(1)} s exceeds the limit of ${limitS} s`),
  MEDIA_TOO_LARGE: spec(413, (bytes: number, limit: number) => `file of ${bytes} bytes exceeds the limit of ${limit} bytes`),
  MEDIA_RESOLUTION_TOO_HIGH: spec(422, (width: number, height: number, limit: number) => `resolution ${width}x${height} exceeds the limit of ${limit} pixels on the short side`),
  MEDIA_DECODE_FAILED: spec(422, (atS: number, why: string) => `decoding failed at ${atS.toFixed(1)} s: ${why}`),
  TRANSCODE_FAILED: spec(500, (why: string) => `transcode failed: ${why}`),
  TRANSCODE_TIMEOUT: spec(500, (limitMs: number) => `transcode exceeded the job timeout of ${limitMs} ms`),
  TRANSCODE_ABORTED: spec(499, (why: string) => `transcode cancelled: ${why}`),

  // API auth, signed playback, deadlines (RFC 6750 §3.1 for the 401/403 split)
  UNAUTHORIZED: spec(401, (why: string) => `authentication required: ${why}`),
  TOKEN_INVALID: spec(401, (why: string) => `invalid token: ${why}`),
  TOKEN_EXPIRED: spec(401, (exp: string) => `token expired at ${exp}`),
  FORBIDDEN: spec(403, (why: string) => `forbidden: ${why}`),
  INSUFFICIENT_SCOPE: spec(403, (needed: string, had: string) => `this route needs scope ${show(needed)}, the token has ${show(had)}`),
  PLAYBACK_DENIED: spec(403, (id: string, why: string) => `playback of ${show(id)} denied: ${why}`),
  TOO_MANY_STREAMS: spec(429, (limit: number) => `this playback token already has ${limit} open media responses`),
  VIDEO_NOT_FOUND: spec(404, (id: string) => `video ${show(id)} not found`),
  SIGNING_KEY_NOT_FOUND: spec(404, (kid: string) => `signing key ${show(kid)} not found`),
  CONFLICT: spec(409, (why: string) => why),
  DEADLINE_EXCEEDED: spec(504, (ms: number) => `request exceeded its deadline of ${ms} ms`),
  CLIENT_CLOSED: spec(499, () => 'client closed the request'),

  // --- live ingest and playback (src/live) ---
  LIVE_STREAM_NOT_FOUND: spec(404, (streamId: string) => `live stream ${show(streamId)} not found`),
  // --- scheduled live streams (the viewer forecast, docs/SCALING.md "Predictive scaling") ---
  LIVE_SCHEDULED_START_INVALID: spec(400, (value: unknown, why: string) => `scheduledStart ${show(value)} is not usable: ${why}`),
  LIVE_EXPECTED_VIEWERS_INVALID: spec(400, (value: unknown, why: string) => `expectedViewers ${show(value)} is not usable: ${why}`),
  LIVE_BAD_KEY: spec(403, (key: string) => `stream key ${show(key)} is not known`),
  LIVE_PUBLISHER_ACTIVE: spec(409, (streamId: string) => `live stream ${show(streamId)} already has a publisher`),
  LIVE_READER_TOO_SLOW: spec(503, (behindMs: number) => `reader stayed behind for ${behindMs} ms after skipping to a keyframe`),
  // live thumbnails (src/live/thumbnail): only H.264 and HEVC keyframes are rendered
  LIVE_THUMBNAIL_UNSUPPORTED: spec(415, (streamId: string, codec: string) => `live stream ${show(streamId)} carries ${show(codec)} video; thumbnails are rendered from H.264 and HEVC only`),
  LIVE_THUMBNAIL_FAILED: spec(500, (streamId: string, why: string) => `the thumbnail of live stream ${show(streamId)} could not be rendered: ${why}`),
  LIVE_SLATE_FAILED: spec(500, (why: string) => `the slate could not be rendered: ${why}`),
  // restreaming outputs (src/live/restream, /api/v1/live-streams/:id/outputs); URLs are shown masked
  LIVE_OUTPUT_NOT_FOUND: spec(404, (streamId: string, outputId: string) => `live stream ${show(streamId)} has no output ${show(outputId)}`),
  LIVE_OUTPUT_BAD_URL: spec(400, (url: string, why: string) => `output URL ${show(url)} is not usable: ${why}`),
  LIVE_OUTPUT_SCHEME_UNSUPPORTED: spec(422, (scheme: string, supported: string) => `output scheme ${show(scheme)} is not supported here (supported: ${supported})`),
  LIVE_OUTPUT_REFUSED: spec(502, (why: string) => `the destination refused the stream: ${why}`),
  LIVE_OUTPUT_LIMIT: spec(409, (streamId: string, limit: number) => `live stream ${show(streamId)} already has ${limit} outputs (live.maxOutputsPerStream)`),
  // --- live across the nodes of a cluster (src/cluster/origin-map.ts, src/live/relay) ---
  LIVE_SOURCE_BAD_URL: spec(400, (url: string, why: string) => `source URL ${show(url)} is not usable: ${why}`),
  LIVE_SOURCE_SCHEME_UNSUPPORTED: spec(422, (scheme: string, supported: string) => `source scheme ${show(scheme)} is not supported (supported: ${supported})`),
  LIVE_SOURCE_UNREACHABLE: spec(502, (url: string, why: string) => `source ${show(url)} cannot be reached: ${why}`),
  LIVE_SOURCE_REFUSED: spec(502, (url: string, why: string) => `source ${show(url)} refused the connection: ${why}`),
  LIVE_SOURCE_TIMEOUT: spec(504, (url: string, what: string, ms: number) => `source ${show(url)}: ${what} did not happen within ${ms} ms`),
  LIVE_SOURCE_PULLED: spec(409, (streamId: string) => `live stream ${show(streamId)} is pulled from its source URL and takes no publishers (remove its source to push to it)`),
  LIVE_SOURCE_PROTOCOL: spec(502, (url: string, why: string) => `source ${show(url)} answered something Strom cannot use: ${why}`),
  LIVE_ORIGIN_UNREACHABLE: spec(503, (streamId: string, nodeId: string, why: string) => `live stream ${show(streamId)} is published on node ${show(nodeId)}, which cannot be reached: ${why}`),
  LIVE_ORIGIN_LOOKUP_FAILED: spec(503, (streamId: string, why: string) => `cannot look up which node publishes live stream ${show(streamId)}: ${why}`),
  EDGE_ORIGIN_UNREACHABLE: spec(502, (path: string, why: string) => `no origin answered for ${show(path)}: ${why}`),
  EDGE_NOT_SYNCED: spec(503, (why: string) => `this edge has not yet received the playback policy from its origin: ${why}`),
  EDGE_BUSY: spec(503, (path: string, limit: number) => `${limit} viewers already wait for ${show(path)} on this edge`),
  EDGE_SYNC_FULL: spec(503, (limit: number) => `${limit} edges already follow this node's playback policy (cluster.maxEdges)`),
  EDGE_SYNC_MALFORMED: spec(502, (origin: string, why: string) => `the playback policy stream of origin ${show(origin)} is malformed: ${why}`),
  CLUSTER_AUTH_REQUIRED: spec(401, (why: string) => `node-to-node request not authenticated: ${why}`),
  CLUSTER_AUTH_FAILED: spec(403, (why: string) => `node-to-node request refused: ${why}`),
  // --- LL-HLS (src/live/formats/hls, src/live/ll-hls) ---
  LIVE_HLS_BAD_QUERY: spec(400, (why: string) => `bad LL-HLS request: ${why}`),
  LIVE_HLS_NOT_READY: spec(503, (what: string, waitedMs: number) => `${what} did not become available within ${waitedMs} ms`),
  // too many blocking requests held for one stream (llhls.maxHeldRequests)
  LIVE_HLS_BUSY: spec(503, (held: number) => `${held} blocking requests are already held for this stream`),
  // --- WebRTC (src/live/webrtc): WHIP (RFC 9725) / WHEP resources ---
  WEBRTC_BAD_SDP: spec(400, (why: string) => `bad SDP: ${why}`),
  WEBRTC_UNSUPPORTED_CODEC: spec(422, (kind: string, offered: string) => `no supported ${kind} codec in the offer (offered: ${offered})`),
  WEBRTC_PRECONDITION_REQUIRED: spec(428, (method: string) => `${method} on a WebRTC session needs an If-Match header with the session ETag`),
  WEBRTC_SESSION_NOT_FOUND: spec(404, (id: string) => `WebRTC session ${show(id)} not found`),
  WEBRTC_ICE_RESTART: spec(422, (id: string) => `session ${show(id)} does not support ICE restart; DELETE it and POST a new offer`),
  WEBRTC_OVERLOADED: spec(503, (limit: number) => `${limit} WebRTC sessions are already open (webrtc.maxSessions)`),
  WEBRTC_NO_CANDIDATE: spec(503, (min: number, max: number) => `no ICE candidate to answer with: every UDP port in ${min}-${max} is taken (webrtc.udpPortMin/udpPortMax) or no webrtc.hostAddresses address can be bound`),
  RTMP_PROTOCOL: spec(400, (why: string) => `RTMP protocol error: ${why}`),
  SRT_CONNECT_FAILED: spec(502, (target: string, why: string) => `SRT connection to ${show(target)} failed: ${why}`),
  RTP_INVALID: spec(400, (why: string) => `bad RTP/RTCP packet: ${why}`),
  RTSP_PROTOCOL: spec(400, (why: string) => `RTSP protocol error: ${why}`),
  RTSP_LIMIT: spec(413, (what: string, value: number, limit: number) => `RTSP ${what} ${value} exceeds the limit of ${limit}`),
  RTMP_LIMIT: spec(413, (what: string, value: number, limit: number) => `RTMP ${what} ${value} exceeds the limit of ${limit}`),

  // --- thumbnails (src/http/api/thumbnails.ts) ---
  VIDEO_NOT_READY: spec(409, (id: string, status: string) => `video ${show(id)} is ${status}, not ready`),
  BUSY: spec(503, (what: string) => `${what} is busy, retry shortly`),
  // --- clips (src/vod/clips, /api/v1/videos/:id/clips) ---
  CLIP_RANGE_INVALID: spec(400, (field: string, value: number, why: string) => `invalid clip ${field} ${value}: ${why}`),
  LIVE_CLIP_UNAVAILABLE: spec(409, (streamId: string, why: string) => `cannot clip live stream ${show(streamId)}: ${why}`),
  LIVE_CLIP_OUT_OF_WINDOW: spec(409, (streamId: string, start: number, windowS: number) => `clip start ${start} s is outside the DVR window of live stream ${show(streamId)}, which holds the last ${windowS.toFixed(3)} s`),
  CLIPS_BUSY: spec(503, (limit: number) => `${limit} clips are already queued or being cut (vod.clipMaxInFlight); retry shortly`),
  // --- oEmbed (GET /oembed, oembed.com §2.3.5: 404 / 501 / 401 answers) ---
  OEMBED_URL_INVALID: spec(400, (url: string, why: string) => `oEmbed url ${show(url)} is not usable: ${why}`),
  OEMBED_NOT_OURS: spec(404, (url: string) => `oEmbed url ${show(url)} is not a video page of this server`),
  OEMBED_FORMAT: spec(501, (format: string) => `oEmbed format ${show(format)} is not implemented (use format=json)`),
  // content protection (docs/VOD.md "Content protection")
  PROTECTED_MEDIA: spec(409, (id: string, protection: string, what: string) => `video ${show(id)} is protected (${protection}): ${what}`),
  CONTENT_KEY_NOT_FOUND: spec(404, (path: string, why: string) => `no content key at ${show(path)}: ${why}`),
  LICENSE_REQUEST_INVALID: spec(400, (why: string) => `invalid ClearKey license request: ${why}`),
  // --- captions (src/vod/captions, /api/v1/videos/:id/captions) ---
  CAPTION_INVALID: spec(400, (format: string, line: number, why: string) => `invalid ${format} caption file at line ${line}: ${why}`),
  CAPTION_NOT_FOUND: spec(404, (id: string, language: string) => `video ${show(id)} has no caption track for language ${show(language)}`),
  CAPTION_TOO_LARGE: spec(413, (size: number, limit: number) => `caption file of ${size} bytes or more exceeds the limit of ${limit} bytes (vod.captionMaxBytes)`),
  // --- jobs (src/jobs) ---
  JOB_TIMEOUT: spec(504, (jobId: string, limitMs: number) => `job ${show(jobId)} ran longer than ${limitMs} ms and was stopped`),
  JOB_FAILED: spec(500, (jobId: string, why: string) => `job ${show(jobId)} failed: ${why}`),
  // --- metadata store (src/store/db): `where` names the engine and store.url, password masked ---
  STORE_UNAVAILABLE: spec(503, (where: string, why: string) => `metadata store ${where} is unavailable: ${why}`),

  // --- uploads and webhooks (src/http/uploads, src/events/webhook-*) ---
  UPLOAD_TOO_LARGE: spec(413, (limit: number) => `upload exceeds the limit of ${limit} bytes (uploads.maxBytes)`),
  UPLOAD_FIELD_MISSING: spec(400, (field: string) => `multipart body has no file part (send the file as form field ${show(field)})`),
  UPLOAD_MALFORMED: spec(400, (why: string) => `malformed upload: ${why}`),
  DIRECT_UPLOAD_NOT_FOUND: spec(404, (what: string) => `no direct upload ${what}`),
  DIRECT_UPLOAD_USED: spec(410, (id: string) => `direct upload ${show(id)} was already used: resume its upload URL, or create a new direct upload`),
  DIRECT_UPLOAD_EXPIRED: spec(410, (id: string, at: string) => `direct upload ${show(id)} expired at ${at}`),
  DIRECT_UPLOAD_CANCELLED: spec(410, (id: string) => `direct upload ${show(id)} was cancelled`),
  DIRECT_UPLOAD_TOO_LARGE: spec(413, (length: number, max: number) => `Upload-Length ${length} exceeds this direct upload's maxSizeBytes ${max}`),
  DIRECT_UPLOAD_LENGTH_REQUIRED: spec(400, (why: string) => `a direct upload needs a valid Upload-Length header: ${why}`),
  DIRECT_UPLOAD_ORIGIN: spec(403, (origin: string, allowed: string) => `origin ${show(origin)} may not use this direct upload (allowed: ${show(allowed)})`),
  DIRECT_UPLOAD_INVALID: spec(400, (why: string) => `invalid direct upload: ${why}`),
  WEBHOOK_NOT_FOUND: spec(404, (id: string) => `webhook ${show(id)} not found`),
} as const;

/** Every known error code. */
export type ErrorCode = keyof typeof catalog;

type ArgsOf<C extends ErrorCode> = (typeof catalog)[C] extends ErrorSpec<infer A> ? A : never;

/** An error from the catalog: carries `code`, `statusCode` (as Fastify expects) and a precise message. */
export class StromError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  /** Extra response headers, for example `Retry-After` or `Content-Range`. */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, status: number, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'StromError';
    this.code = code;
    this.statusCode = status;
    this.headers = headers;
  }

  /** The JSON body sent to clients. */
  toJSON(): { error: { code: string; message: string; status: number } } {
    return { error: { code: this.code, message: this.message, status: this.statusCode } };
  }
}

/** Create a catalog error: `fail('BAD_PATH', path, 'contains ..')`. */
export function fail<C extends ErrorCode>(code: C, ...args: ArgsOf<C>): StromError {
  const entry = catalog[code] as unknown as ErrorSpec<ArgsOf<C>>;
  return new StromError(code, entry.message(...args), entry.status);
}

/** Same as `fail`, with extra response headers. */
export function failWith<C extends ErrorCode>(code: C, headers: Record<string, string>, ...args: ArgsOf<C>): StromError {
  const err = fail(code, ...args);
  Object.assign(err.headers, headers);
  return err;
}

/** True when `err` is a catalog error (optionally of the given code). */
export function isStromError(err: unknown, code?: ErrorCode): err is StromError {
  return err instanceof StromError && (code === undefined || err.code === code);
}

/** Whether `err` is a full disk: the OS's ENOSPC (or EDQUOT, a quota), or a tool's message of it. */
export function isNoSpace(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const code = (err as { code?: unknown }).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  return /No space left on device|Disk quota exceeded/.test(String((err as { message?: unknown }).message ?? ''));
}
