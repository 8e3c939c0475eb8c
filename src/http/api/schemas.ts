/**
 * TypeBox schemas of the control API: one definition gives request validation (a 400 names the
 * offending field, e.g. "invalid body: body/title must NOT have more than 500 characters"),
 * the TypeScript types and the OpenAPI 3 document (`/api/v1/openapi.json`).
 */
import { Type, type Static } from '@sinclair/typebox';
import type {} from '@fastify/swagger'; // augments FastifySchema with tags/summary/security

/** Who may play: anyone, or holders of a signed playback token. */
export const Visibility = Type.Union([Type.Literal('public'), Type.Literal('signed')], { description: 'public, or signed (needs a playback token)' });
/** How a video's media is encrypted (docs/VOD.md "Content protection"); fixed at creation. */
export const Protection = Type.Union([Type.Literal('none'), Type.Literal('aes-128'), Type.Literal('cenc')], { description: 'none; aes-128 (HLS AES-128 whole-segment encryption, keys from Strom); cenc (CMAF cbcs, ClearKey license from Strom, KIDs and PSSH for other DRM systems)' });
/** Video lifecycle. */
export const VideoStatus = Type.Union(['waiting', 'queued', 'processing', 'ready', 'errored'].map((s) => Type.Literal(s)));

/** `{ error: { code, message, status } }` — every error response. */
export const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), status: Type.Integer() }) });

/** Path parameter `:id` (videos, live streams). */
export const IdParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) });
export type IdParams = Static<typeof IdParams>;

/** Query of list routes. */
export const ListQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.Optional(Type.String({ maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' })),
  status: Type.Optional(VideoStatus),
});
export type ListQuery = Static<typeof ListQuery>;

const Metadata = Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), { description: 'free-form JSON object, stored verbatim', maxProperties: 100 });

/** `PATCH /api/v1/videos/:id` body. */
export const VideoPatch = Type.Object({
  title: Type.Optional(Type.String({ maxLength: 500 })),
  description: Type.Optional(Type.String({ maxLength: 5000 })),
  visibility: Type.Optional(Visibility),
  metadata: Type.Optional(Metadata),
}, { additionalProperties: false, minProperties: 1 });
export type VideoPatch = Static<typeof VideoPatch>;

const Playback = Type.Object({ hls: Type.String(), dash: Type.String(), mp4: Type.String(), poster: Type.String(), license: Type.Optional(Type.String({ description: 'ClearKey license URL (W3C EME §9.1.4), cenc videos only' })) });

/** Where a clip was cut from: source video and range (seconds, snapped to segment boundaries). */
export const ClipOf = Type.Object({ videoId: Type.String(), start: Type.Number(), end: Type.Number() });

/** A video as the API returns it. */
export const Video = Type.Object({
  id: Type.String(),
  title: Type.String(),
  description: Type.String(),
  visibility: Visibility,
  protection: Protection,
  status: VideoStatus,
  progress: Type.Number(),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  durationS: Type.Union([Type.Number(), Type.Null()]),
  width: Type.Union([Type.Integer(), Type.Null()]),
  height: Type.Union([Type.Integer(), Type.Null()]),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  clipOf: Type.Union([ClipOf, Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  playback: Playback,
});

/** `POST /api/v1/videos/:id/clips` body: the range in seconds of the source's timeline. */
export const ClipRequest = Type.Object({
  start: Type.Number({ description: 'seconds from the start of the video; snapped down to a segment boundary' }),
  end: Type.Number({ description: 'seconds from the start of the video; snapped up to a segment boundary' }),
  title: Type.Optional(Type.String({ maxLength: 500 })),
}, { additionalProperties: false });
/** Type of ClipRequest. */
export type ClipRequest = Static<typeof ClipRequest>;

/** A page of videos. */
export const VideoList = Type.Object({ items: Type.Array(Video), nextCursor: Type.Union([Type.String(), Type.Null()]) });

/** `POST …/playback-token` body. */
export const PlaybackTokenRequest = Type.Object({
  ttlS: Type.Optional(Type.Integer({ minimum: 10, maximum: 7 * 24 * 3600 })),
  ip: Type.Optional(Type.String({ maxLength: 64 })),
  referrer: Type.Optional(Type.String({ maxLength: 500 })),
}, { additionalProperties: false });
export type PlaybackTokenRequest = Static<typeof PlaybackTokenRequest>;

/** A signed playback token with ready-made URLs. */
export const PlaybackToken = Type.Object({
  token: Type.String(),
  kid: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
  playback: Type.Record(Type.String(), Type.String()),
});

/** `POST /api/v1/live-streams` body. */
export const LiveStreamCreate = Type.Object({
  title: Type.Optional(Type.String({ maxLength: 500 })),
  visibility: Type.Optional(Visibility),
  record: Type.Optional(Type.Boolean()),
  abr: Type.Optional(Type.Boolean({ description: 'live ABR: transcode the live.abrLadder renditions while watched' })),
  srtPassphrase: Type.Optional(Type.Union([Type.String({ minLength: 10, maxLength: 79 }), Type.Null()], { description: 'SRT publishers and readers of this stream must encrypt with this passphrase (AES, the caller picks 128/192/256); null removes it (then srt.passphrase applies). Write-only: answers say only srtEncrypted' })),
  source: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 2048 }), Type.Null()], { description: 'pull the stream from this URL instead of waiting for a publisher: rtsp://, rtsps://, rtmp://, rtmps://, srt://, http(s)://….m3u8 (HLS) or http(s)://….flv; credentials in it are kept secret (answers show it masked); null makes it a pushed stream again. docs/LIVE.md "Pulled sources"' })),
  sourceOnDemand: Type.Optional(Type.Boolean({ description: 'true (default): connect the source while someone watches; false: keep it connected always' })),
  // Null first in these unions: Fastify's Ajv coerces types, and null would otherwise become "" or 0.
  scheduledStart: Type.Optional(Type.Union([Type.Null(), Type.String({ maxLength: 64 })], { description: 'when the stream is scheduled to start (RFC 3339 date-time with a zone, from 60 s ago to a year ahead); with expectedViewers its audience is added to the viewer forecast before it arrives; null removes it. docs/SCALING.md "Predictive scaling"' })),
  expectedViewers: Type.Optional(Type.Union([Type.Null(), Type.Number()], { description: 'viewers expected once the stream starts (integer, 0 to 100,000,000); null removes it' })),
}, { additionalProperties: false });
export type LiveStreamCreate = Static<typeof LiveStreamCreate>;

/** `PATCH /api/v1/live-streams/:id` body. */
export const LiveStreamPatch = Type.Object({
  title: Type.Optional(Type.String({ maxLength: 500 })),
  visibility: Type.Optional(Visibility),
  record: Type.Optional(Type.Boolean()),
  abr: Type.Optional(Type.Boolean({ description: 'live ABR: transcode the live.abrLadder renditions while watched' })),
  srtPassphrase: Type.Optional(Type.Union([Type.String({ minLength: 10, maxLength: 79 }), Type.Null()], { description: 'SRT publishers and readers of this stream must encrypt with this passphrase (AES, the caller picks 128/192/256); null removes it (then srt.passphrase applies). Write-only: answers say only srtEncrypted' })),
  source: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 2048 }), Type.Null()], { description: 'pull the stream from this URL instead of waiting for a publisher: rtsp://, rtsps://, rtmp://, rtmps://, srt://, http(s)://….m3u8 (HLS) or http(s)://….flv; credentials in it are kept secret (answers show it masked); null makes it a pushed stream again. docs/LIVE.md "Pulled sources"' })),
  sourceOnDemand: Type.Optional(Type.Boolean({ description: 'true (default): connect the source while someone watches; false: keep it connected always' })),
  // Null first in these unions: Fastify's Ajv coerces types, and null would otherwise become "" or 0.
  scheduledStart: Type.Optional(Type.Union([Type.Null(), Type.String({ maxLength: 64 })], { description: 'when the stream is scheduled to start (RFC 3339 date-time with a zone, from 60 s ago to a year ahead); with expectedViewers its audience is added to the viewer forecast before it arrives; null removes it. docs/SCALING.md "Predictive scaling"' })),
  expectedViewers: Type.Optional(Type.Union([Type.Null(), Type.Number()], { description: 'viewers expected once the stream starts (integer, 0 to 100,000,000); null removes it' })),
}, { additionalProperties: false, minProperties: 1 });
export type LiveStreamPatch = Static<typeof LiveStreamPatch>;

/** A live stream as the API returns it. */
export const LiveStream = Type.Object({
  id: Type.String(),
  title: Type.String(),
  streamKey: Type.String(),
  visibility: Visibility,
  status: Type.Union([Type.Literal('idle'), Type.Literal('active')]),
  record: Type.Boolean(),
  abr: Type.Boolean({ description: 'live ABR: renditions of live.abrLadder below the source, or passthrough' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  ingest: Type.Object({
    rtmp: Type.String(),
    whip: Type.String({ description: 'WHIP endpoint (RFC 9725); send the stream key as Authorization: Bearer' }),
    srt: Type.Optional(Type.String({ description: 'SRT caller URL with the stream id (when srt.enabled); docs/LIVE.md "SRT"' })),
    rtsp: Type.Optional(Type.String({ description: 'RTSP publish URL rtsp://host:port/live/<streamKey> (when rtsp.enabled); docs/RTSP.md' })),
  }),
  srtEncrypted: Type.Boolean({ description: 'SRT callers of this stream must encrypt (its own passphrase or srt.passphrase)' }),
  playback: Type.Object({
    flv: Type.String(), hls: Type.String(), dash: Type.String(), whep: Type.String(),
    thumbnail: Type.String({ description: 'JPEG of the latest keyframe (docs/LIVE.md "Live thumbnails")' }),
    srt: Type.Optional(Type.String({ description: 'SRT reader URL (MPEG-TS), when srt.enabled' })),
    rtsp: Type.Optional(Type.String({ description: 'RTSP reader URL (RTP over TCP or UDP), when rtsp.enabled' })),
  }),
  source: Type.Union([Type.Null(), Type.Object({
    url: Type.String({ description: 'the source URL with its secrets masked' }),
    onDemand: Type.Boolean(),
    state: Type.Union([Type.Literal('idle'), Type.Literal('connecting'), Type.Literal('live'), Type.Literal('failed')]),
    since: Type.Union([Type.String(), Type.Null()]),
    reason: Type.Union([Type.String(), Type.Null()], { description: 'why it failed, is reconnecting or went idle' }),
    protocol: Type.Union([Type.String(), Type.Null()]),
  })], { description: 'the pulled source, or null for a pushed stream; docs/LIVE.md "Pulled sources"' }),
  scheduledStart: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'scheduled start, or null' }),
  expectedViewers: Type.Union([Type.Integer(), Type.Null()], { description: 'viewers expected once it starts, or null' }),
  /** Runtime figures while a publisher is connected; null when idle. */
  live: Type.Union([Type.Null(), Type.Object({
    publishedAt: Type.Union([Type.String(), Type.Null()]),
    ingestBitrate: Type.Number({ description: 'bit/s over the last seconds' }),
    fps: Type.Number(),
    video: Type.Union([Type.Null(), Type.Object({ codec: Type.String(), width: Type.Optional(Type.Number()), height: Type.Optional(Type.Number()) })]),
    audio: Type.Union([Type.Null(), Type.Object({ codec: Type.String(), sampleRate: Type.Optional(Type.Number()), channels: Type.Optional(Type.Number()) })]),
    viewers: Type.Record(Type.String(), Type.Number(), { description: 'viewers by protocol, and total' }),
    drops: Type.Number(),
    publisher: Type.Union([Type.Null(), Type.Object({ sessionId: Type.String(), remote: Type.String() })], { description: 'the active publisher (the one viewers see)' }),
    standby: Type.Union([Type.Null(), Type.Object({ sessionId: Type.String(), remote: Type.String(), role: Type.Union([Type.Literal('backup'), Type.Literal('primary')]) })], {
      description: 'backup ingest: the publisher waiting in the standby slot (a backup, or a returning primary until its first keyframe); docs/LIVE.md "Backup ingest"',
    }),
    slate: Type.Union([Type.Null(), Type.Object({ since: Type.String(), until: Type.String(), reason: Type.String() })], {
      description: 'the publisher left and viewers see the slate until a publisher returns or `until` (the end of live.reconnectWindowS); docs/LIVE.md "Reconnect window and slate"',
    }),
    node: Type.Union([Type.String(), Type.Null()], { description: 'cluster: the node the publisher is connected to when it is not the one answering; null otherwise' }),
    figures: Type.Union([Type.Literal('local'), Type.Literal('relay'), Type.Literal('unknown')], { description: "where bitrate, fps, codecs and viewers come from: this node's publisher, this node's relay of another node's stream, or unknown (live on another node, not relayed here: zeros and nulls)" }),
  })]),
});

/** A page of live streams. */
export const LiveStreamList = Type.Object({ items: Type.Array(LiveStream), nextCursor: Type.Union([Type.String(), Type.Null()]) });

/** Path parameter `:kid`. */
export const KidParams = Type.Object({ kid: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) });
export type KidParams = Static<typeof KidParams>;

/** A signing key; `secret` only in the creation response. */
export const SigningKey = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  secret: Type.Optional(Type.String({ description: 'base64url HMAC secret, returned once at creation' })),
  createdAt: Type.String({ format: 'date-time' }),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

/** Standard error responses for a route. */
export function errors(...codes: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(codes.map((c) => [c, ErrorBody]));
}
