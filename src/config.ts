/**
 * Typed configuration with one precedence rule: defaults < config file (JSON) < environment
 * (`STROM_*`) < command-line flags. Every setting is declared once in `settings` below with its
 * type, default and bounds; a bad value stops the start with an error naming the setting.
 * docs/CONFIGURATION.md lists them all (generated from the same table by `strom config --help`).
 */
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import path from 'node:path';
import { fail } from './errors.js';

type Kind = 'string' | 'int' | 'bytes' | 'duration' | 'bool' | 'enum' | 'list';

/** One declared setting. `key` is dotted (`delivery.cacheBytes`), env is derived from it. */
interface Setting {
  key: string;
  kind: Kind;
  default: string | number | boolean | string[] | null;
  doc: string;
  min?: number;
  max?: number;
  values?: readonly string[];
}

const MB = 1024 * 1024;

/** Every setting Strom knows. Keep in step with the `Config` interface. */
export const settings: readonly Setting[] = [
  { key: 'host', kind: 'string', default: '127.0.0.1', doc: 'address the HTTP server listens on' },
  { key: 'port', kind: 'int', default: 8080, min: 0, max: 65535, doc: 'HTTP port (0 picks a free one)' },
  { key: 'dataDir', kind: 'string', default: './data', doc: 'data directory: database, uploads, assets' },
  { key: 'publicUrl', kind: 'string', default: null, doc: 'external base URL used in absolute links (default http://host:port)' },
  { key: 'trustProxy', kind: 'list', default: [], doc: 'addresses or CIDRs of reverse proxies and edges in front of this node whose X-Forwarded-For/-Proto are believed (client address for API rate limits; scheme of absolute URLs such as the LL-DASH UTCTiming); empty = none' },
  { key: 'logLevel', kind: 'enum', default: 'info', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], doc: 'pino log level' },
  { key: 'tls.cert', kind: 'string', default: null, doc: 'PEM certificate file; with tls.key enables HTTPS and HTTP/2' },
  { key: 'tls.key', kind: 'string', default: null, doc: 'PEM private key file' },
  { key: 'tls.selfSigned', kind: 'bool', default: false, doc: 'without tls.cert: generate a self-signed certificate into <dataDir>/tls once and serve HTTPS + HTTP/2 with it (to try h2 locally; browsers warn)' },
  { key: 'timeouts.headersMs', kind: 'duration', default: 10_000, min: 100, doc: 'max time to receive request headers (slowloris guard)' },
  { key: 'timeouts.requestMs', kind: 'duration', default: 0, min: 0, doc: 'max time to receive a whole request body; 0 = none (uploads can be long)' },
  { key: 'timeouts.idleMs', kind: 'duration', default: 30_000, min: 100, doc: 'close a socket idle this long' },
  { key: 'timeouts.keepAliveMs', kind: 'duration', default: 5_000, min: 100, doc: 'keep-alive timeout between requests' },
  { key: 'timeouts.shutdownMs', kind: 'duration', default: 10_000, min: 0, doc: 'graceful shutdown: wait this long for in-flight responses' },
  { key: 'delivery.cacheBytes', kind: 'bytes', default: 256 * MB, min: 0, doc: 'byte budget of the in-memory hot-object cache' },
  { key: 'delivery.maxObjectBytes', kind: 'bytes', default: 8 * MB, min: 0, doc: 'objects larger than this stream from disk and are never cached' },
  { key: 'delivery.metaTtlMs', kind: 'duration', default: 2_000, min: 0, doc: 'how long cached file metadata is trusted before a re-stat' },
  { key: 'delivery.metaEntries', kind: 'int', default: 100_000, min: 16, doc: 'max cached file-metadata entries' },
  { key: 'delivery.corsOrigin', kind: 'string', default: '*', doc: 'Access-Control-Allow-Origin for media ("" disables CORS)' },
  { key: 'delivery.earlyHints', kind: 'bool', default: true, doc: 'send 103 Early Hints for master playlists and, to viewers on HTTP/2 or HTTP/3 (directly or through a trustProxy front that sends Strom-Viewer-Protocol), for the embed player page' },
  { key: 'delivery.embedFrameAncestors', kind: 'string', default: '*', doc: 'CSP frame-ancestors of the embed page /embed/<id>: which sites may put it in an iframe ("*" any, "\'none\'", or a list of origins)' },
  { key: 'delivery.oembedProviderName', kind: 'string', default: 'Strom', doc: 'provider_name of oEmbed answers (GET /oembed)' },
  { key: 'delivery.http2Push', kind: 'bool', default: false, doc: 'HTTP/2 push of hinted objects to peers that allow it' },
  { key: 'delivery.playlistMaxAgeS', kind: 'int', default: 3600, min: 0, doc: 'Cache-Control max-age of VOD playlists' },
  { key: 'delivery.streamChunkBytes', kind: 'bytes', default: 256 * 1024, min: 4096, doc: 'read size when streaming large files from disk' },
  // delivery worker processes (src/http/delivery/workers/); `strom serve` default 1 = one worker + the main on a 2-core box
  { key: 'delivery.workers', kind: 'int', default: 1, min: 0, max: 64, doc: 'extra processes serving /v/ and /s/ connections handed over by the main process (0 = single process; ignored with TLS)' },
  // --- live ingest and playback (src/live; docs/LIVE.md) ---
  { key: 'rtmp.enabled', kind: 'bool', default: true, doc: 'run the RTMP ingest/playback listener' },
  { key: 'rtmp.host', kind: 'string', default: null, doc: 'address the RTMP listener binds (default: host)' },
  { key: 'rtmp.port', kind: 'int', default: 1935, min: 0, max: 65535, doc: 'RTMP port (0 picks a free one); `strom serve --rtmp-port N`' },
  { key: 'rtmp.maxMessageBytes', kind: 'bytes', default: 0xffffff, min: 1024, max: 0xffffff, doc: 'largest RTMP message accepted; a bigger one closes the session' },
  { key: 'rtmp.maxChunkStreams', kind: 'int', default: 64, min: 4, max: 65599, doc: 'chunk stream ids one RTMP session may use' },
  { key: 'rtmp.chunkSize', kind: 'int', default: 4096, min: 128, max: 0xffffff, doc: 'chunk size the server sends with' },
  { key: 'rtmp.handshakeTimeoutMs', kind: 'duration', default: 10_000, min: 100, doc: 'close an RTMP connection that has not published or played within this time' },
  // --- RTSP (src/live/rtsp; docs/RTSP.md) ---
  { key: 'rtsp.enabled', kind: 'bool', default: false, doc: 'run the RTSP server: cameras and encoders publish (ANNOUNCE/RECORD), players read (DESCRIBE/PLAY) over RTP (`strom serve --rtsp-port N` turns it on)' },
  { key: 'rtsp.host', kind: 'string', default: null, doc: 'address the RTSP listener and its UDP ports bind (default: host)' },
  { key: 'rtsp.port', kind: 'int', default: 8554, min: 0, max: 65535, doc: 'RTSP TCP port (0 picks a free one)' },
  { key: 'rtsp.udp', kind: 'bool', default: true, doc: 'offer RTP over UDP (client_port) besides RTP interleaved in the RTSP connection' },
  { key: 'rtsp.rtpPort', kind: 'int', default: 8000, min: 0, max: 65535, doc: 'the one UDP port all RTSP sessions send and receive RTP on (0 picks a free one); packets are matched to sessions by the client\'s address and port' },
  { key: 'rtsp.rtcpPort', kind: 'int', default: 8001, min: 0, max: 65535, doc: 'the one UDP port for RTCP of all RTSP sessions (0 picks a free one)' },
  { key: 'rtsp.maxConnections', kind: 'int', default: 200, min: 1, max: 100_000, doc: 'RTSP TCP connections at once; more are closed at accept' },
  { key: 'rtsp.sessionTimeoutMs', kind: 'duration', default: 60_000, min: 1_000, max: 3_600_000, doc: 'an RTSP session with no request, keep-alive (GET_PARAMETER/OPTIONS) or RTCP for this long is closed; announced in the Session header' },
  { key: 'rtsp.maxHeaderBytes', kind: 'bytes', default: 16 * 1024, min: 1024, max: 1024 * 1024, doc: 'largest RTSP request header block; a bigger one is answered 413 and the connection closed' },
  { key: 'rtsp.maxBodyBytes', kind: 'bytes', default: 64 * 1024, min: 1024, max: 16 * MB, doc: 'largest RTSP request body (an ANNOUNCE SDP)' },
  { key: 'rtsp.maxFrameBytes', kind: 'bytes', default: 8 * MB, min: 64 * 1024, max: 64 * MB, doc: 'largest video frame an RTSP publisher may send (reassembled from RTP); a bigger one is dropped' },
  { key: 'rtsp.reorderPackets', kind: 'int', default: 64, min: 0, max: 4096, doc: 'RTP packets held per UDP track to put reordered packets back in sequence (0: no reordering); a loss waits at most this many packets or 100 ms, whichever comes first' },
  { key: 'rtsp.publicUrl', kind: 'string', default: null, doc: 'base of RTSP URLs returned by the API (default rtsp://<host>:<rtsp.port>)' },
  // --- SRT (src/live/srt; docs/LIVE.md "SRT") ---
  { key: 'srt.enabled', kind: 'bool', default: false, doc: 'run the SRT listener: publish and read live streams as MPEG-TS over SRT (`strom serve --srt-port N` turns it on)' },
  { key: 'srt.host', kind: 'string', default: null, doc: 'address the SRT listener binds (default: host)' },
  { key: 'srt.port', kind: 'int', default: 9000, min: 0, max: 65535, doc: 'SRT UDP port (0 picks a free one)' },
  { key: 'srt.latencyMs', kind: 'int', default: 120, min: 20, max: 8000, doc: 'SRT latency window (SRTO_LATENCY): how long a lost packet may be repaired; the connection uses the larger of this and the peer\'s' },
  { key: 'srt.passphrase', kind: 'string', default: null, doc: 'passphrase (10-79 characters) every SRT connection must encrypt with (AES-128/192/256, the caller\'s choice); unset = unencrypted' },
  { key: 'srt.maxConnections', kind: 'int', default: 200, min: 1, max: 100_000, doc: 'SRT connections (publishers + readers) at once; more are refused with SRT_REJ_RESOURCE' },
  { key: 'srt.peerIdleTimeoutMs', kind: 'duration', default: 5_000, min: 1_000, max: 120_000, doc: 'an SRT peer silent this long (no data, ACK or keep-alive) is disconnected' },
  { key: 'srt.windowPackets', kind: 'int', default: 4096, min: 64, max: 65_536, doc: 'receive window and send buffer of one SRT connection, in 1316-byte packets (bounds its memory to ~2 × 5.4 MB by default)' },
  { key: 'srt.publicUrl', kind: 'string', default: null, doc: 'base of SRT URLs returned by the API (default srt://<host>:<srt.port>)' },
  { key: 'live.takeover', kind: 'enum', default: 'takeover', values: ['takeover', 'reject'], doc: 'second publisher on an active key: take over (OBS reconnects) or reject' },
  { key: 'live.publisherIdleTimeoutMs', kind: 'duration', default: 20_000, min: 0, doc: 'a publisher that sends no media for this long while its connection stays open (a frozen encoder) is closed, as if it had left (0: never)' },
  { key: 'live.reconnectWindowS', kind: 'int', default: 0, min: 0, max: 3600, doc: 'seconds a stream stays live with a slate picture after its publisher leaves, for the publisher to come back (0: the stream ends at once); docs/LIVE.md "Reconnect window and slate"' },
  { key: 'live.slateImage', kind: 'string', default: null, doc: 'picture shown during the reconnect window (PNG/JPEG; scaled and padded to the stream\'s size; default: the built-in "will be back shortly" slate)' },
  { key: 'live.gopCacheMaxBytes', kind: 'bytes', default: 8 * MB, min: 0, doc: 'max bytes of the per-stream GOP cache (0 disables keyframe-first join)' },
  { key: 'live.readerMaxBytes', kind: 'bytes', default: 2 * MB, min: 16 * 1024, doc: 'max bytes queued for one viewer before it skips to the next keyframe' },
  { key: 'live.readerMaxUnits', kind: 'int', default: 512, min: 8, doc: 'max media units queued for one viewer' },
  { key: 'live.slowReaderGraceMs', kind: 'duration', default: 5_000, min: 0, doc: 'a viewer still behind this long after a skip is disconnected' },
  { key: 'live.staticKeys', kind: 'list', default: [], doc: 'streamId:key pairs that may publish without the API (e.g. "cam1:s3cret")' },
  // --- API auth, signed playback, rate limits, deadlines (src/auth; docs/API.md) ---
  { key: 'auth.jwtSecret', kind: 'string', default: null, doc: 'HS256 secret for API JWTs; generated into <dataDir>/secrets/api-jwt.secret on first run when unset' },
  { key: 'auth.jwksUrl', kind: 'string', default: null, doc: 'JWKS URL of an identity provider; enables RS256/ES256 API tokens' },
  { key: 'auth.issuer', kind: 'string', default: 'strom', doc: 'required `iss` of API JWTs' },
  { key: 'auth.audience', kind: 'string', default: 'strom', doc: 'required `aud` of API JWTs' },
  { key: 'auth.clockToleranceS', kind: 'int', default: 5, min: 0, max: 300, doc: 'clock skew allowed when checking exp/nbf' },
  { key: 'playback.tokenTtlMs', kind: 'duration', default: 3_600_000, min: 1000, doc: 'default lifetime of playback tokens issued by the API' },
  { key: 'playback.tokenCacheEntries', kind: 'int', default: 10_000, min: 0, doc: 'verified playback tokens kept in memory (0 = verify every request)' },
  { key: 'rateLimit.api.perMinute', kind: 'int', default: 600, min: 1, doc: 'API requests per minute per token subject (or per IP when anonymous)' },
  { key: 'rateLimit.media.perMinute', kind: 'int', default: 60_000, min: 0, doc: 'media requests per minute per client IP (0 = unlimited)' },
  { key: 'rateLimit.media.maxClients', kind: 'int', default: 100_000, min: 16, doc: 'client IPs tracked by the media rate limiter (least recent evicted)' },
  { key: 'rateLimit.maxStreamsPerToken', kind: 'int', default: 64, min: 0, doc: 'concurrent media responses one playback token may hold open (0 = unlimited)' },
  { key: 'rateLimit.syncMs', kind: 'duration', default: 250, min: 50, max: 10_000, doc: 'cluster mode: how often the media limiter and the stream cap exchange usage through Redis; they hold cluster-wide within about two such intervals' },
  { key: 'timeouts.requestDeadlineMs', kind: 'duration', default: 30_000, min: 0, doc: 'deadline of an API request; its AbortSignal fires then (0 = none)' },
  // --- LL-HLS (src/live/ll-hls; docs/LIVE.md "Low-latency HLS") ---
  { key: 'llhls.partTargetMs', kind: 'duration', default: 500, min: 100, max: 3000, doc: 'LL-HLS part (CMAF chunk) target duration; parts never exceed it' },
  { key: 'llhls.segmentTargetMs', kind: 'duration', default: 2000, min: 500, max: 30_000, doc: 'LL-HLS segments are cut at the first keyframe at/after this duration' },
  { key: 'llhls.windowSegments', kind: 'int', default: 8, min: 3, max: 100, doc: 'complete segments (with their parts) kept in memory and listed per stream' },
  { key: 'llhls.idleTimeoutMs', kind: 'duration', default: 30_000, min: 1000, doc: 'a stream\'s LL-HLS muxer stops after this long without an HLS request' },
  { key: 'llhls.maxHeldRequests', kind: 'int', default: 10_000, min: 1, doc: 'blocking playlist requests (_HLS_msn) held per stream; more are answered 503 at once' },
  { key: 'llhls.dvrWindowS', kind: 'int', default: 0, min: 0, max: 86_400, doc: 'seconds of complete segments kept and listed (HLS playlist, DASH timeShiftBufferDepth) so players can seek back; 0 = only the LL window. Keeps the muxer on while published' },
  { key: 'llhls.dvrMaxBytes', kind: 'bytes', default: 512 * MB, min: 0, doc: 'bytes the DVR window of one stream may hold in memory (older segments are dropped first)' },
  // --- end LL-HLS ---
  // --- live recording → VOD (docs/LIVE.md "LL-DASH, DVR and recording") ---
  { key: 'live.recordAll', kind: 'bool', default: false, doc: 'record every live stream (not only those with record=true) and publish it as a video when it ends' },
  { key: 'live.recordMaxBytes', kind: 'bytes', default: 4096 * MB, min: 1, doc: 'disk bytes one recording may use; later segments are not recorded' },
  // --- end recording ---
  // --- live ABR (src/live/abr; docs/LIVE.md "Live ABR") ---
  { key: 'live.abrAll', kind: 'bool', default: false, doc: 'transcode the live ABR ladder for every stream (not only those with abr=true); otherwise streams are passthrough' },
  { key: 'live.abrLadder', kind: 'list', default: ['720p', '360p'], doc: 'live ABR rungs below the source (NNNp = height); rungs not below the source height are skipped; the source is the top rendition' },
  { key: 'live.abrMaxStreams', kind: 'int', default: 2, min: 0, max: 64, doc: 'live ABR transcodes (one ffmpeg per watched stream) running at once; over it a stream stays passthrough' },
  { key: 'live.abrPreset', kind: 'enum', default: 'veryfast', values: ['ultrafast', 'superfast', 'veryfast'], doc: 'x264 preset of live ABR renditions' },
  // --- end live ABR ---
  // --- live audio bridge (src/live/transcode; docs/LIVE.md "Audio bridge") ---
  { key: 'live.audioBridgeMaxChildren', kind: 'int', default: 16, min: 0, max: 1024, doc: 'ffmpeg children transcoding live audio (AAC↔Opus) at once; over it viewers get the source audio as is (0 disables the bridge)' },
  { key: 'live.audioBridgeMaxQueuedBytes', kind: 'bytes', default: 64 * 1024, min: 4096, doc: 'audio bytes waiting for one bridge child\'s stdin; more is dropped and counted' },
  { key: 'live.audioBridgeMaxRestarts', kind: 'int', default: 5, min: 0, max: 100, doc: 'restarts (backoff 250 ms doubling to 5 s) of a crashed bridge child before its viewers go on without audio' },
  { key: 'live.audioBridgeKbps', kind: 'int', default: 96, min: 16, max: 512, doc: 'bitrate of transcoded live audio (Opus for WebRTC, AAC for FLV/RTMP)' },
  // --- end audio bridge ---
  // --- live thumbnails (src/live/thumbnail; docs/LIVE.md "Live thumbnails") ---
  { key: 'live.thumbnailIntervalMs', kind: 'duration', default: 5_000, min: 500, max: 600_000, doc: 'GET /live/<id>/thumbnail.jpg renders the latest keyframe at most once per this interval per stream (one ffmpeg run, shared by concurrent requests); it is also the max-age' },
  { key: 'live.thumbnailWidth', kind: 'int', default: 640, min: 64, max: 1920, doc: 'largest width of a live thumbnail (narrower sources keep their size; the aspect ratio is kept)' },
  { key: 'live.thumbnailMaxRenders', kind: 'int', default: 2, min: 1, max: 64, doc: 'thumbnail ffmpeg runs at once across all streams; over it a request gets the previous thumbnail, or 503 BUSY without one' },
  { key: 'live.thumbnailTimeoutMs', kind: 'duration', default: 5_000, min: 500, max: 60_000, doc: 'a thumbnail ffmpeg run still going after this long is killed (the request fails with LIVE_THUMBNAIL_FAILED)' },
  // --- end live thumbnails ---
  // --- restreaming outputs (src/live/restream; docs/LIVE.md "Restreaming") ---
  { key: 'live.maxOutputsPerStream', kind: 'int', default: 5, min: 0, max: 100, doc: 'restreaming outputs (pushes to other platforms) one live stream may have; one more is refused with 409 LIVE_OUTPUT_LIMIT' },
  // --- pulled sources (src/live/pull; docs/LIVE.md "Pulled sources") ---
  { key: 'live.sourceConnectTimeoutMs', kind: 'duration', default: 10_000, min: 100, doc: 'a pulled source must accept the connection and send its first media within this long; viewers who arrived meanwhile wait at most this long' },
  { key: 'live.sourceLingerMs', kind: 'duration', default: 10_000, min: 0, doc: 'an on-demand source stays connected this long after its last viewer left' },
  { key: 'live.sourceReconnectGraceMs', kind: 'duration', default: 10_000, min: 0, doc: 'a source that drops keeps its viewers connected this long while Strom reconnects; then the stream ends (or plays the slate)' },
  { key: 'live.sourceRetryMaxMs', kind: 'duration', default: 30_000, min: 1000, doc: 'longest wait between reconnection attempts of an always-on source (backoff from 1 s doubles up to this); an on-demand source that failed answers its error for 1/6 of it before trying again' },
  { key: 'live.sourceMaxBufferBytes', kind: 'bytes', default: 32 * MB, min: 64 * 1024, doc: 'bytes one source connection may hold at once (demuxer buffers, one HLS segment); more ends the connection with LIVE_SOURCE_PROTOCOL' },
  { key: 'live.maxPulledSources', kind: 'int', default: 200, min: 0, max: 100_000, doc: 'sources this node pulls at once; a viewer of one more on-demand source gets 503 BUSY' },
  { key: 'live.rtmpPublicUrl', kind: 'string', default: null, doc: 'base of ingest URLs returned by the API (default rtmp://<host>:<rtmp.port>/live)' },
  // --- WebRTC (src/live/webrtc; docs/WEBRTC.md) ---
  { key: 'webrtc.enabled', kind: 'bool', default: true, doc: 'serve WHIP ingest (POST /whip) and WHEP playback (POST /live/<id>/whep)' },
  { key: 'webrtc.hostAddresses', kind: 'list', default: ['127.0.0.1'], doc: 'IPv4 addresses offered as ICE host candidates (the only ones advertised); empty = every interface' },
  { key: 'webrtc.announcedAddresses', kind: 'list', default: [], doc: 'NAT 1:1 mapping: the public IPv4 written in the SDP candidates instead of the webrtc.hostAddresses entry at the same position (same port; e.g. a cloud VM\'s public IP); empty = announce the bound addresses' },
  { key: 'webrtc.udpPortMin', kind: 'int', default: 40000, min: 1024, max: 65534, doc: 'lowest UDP port of ICE/media sockets (one per session)' },
  { key: 'webrtc.udpPortMax', kind: 'int', default: 40999, min: 1025, max: 65535, doc: 'highest UDP port of ICE/media sockets; must exceed webrtc.udpPortMin' },
  { key: 'webrtc.stunServers', kind: 'list', default: [], doc: 'STUN URLs (stun:host:port) used for server-reflexive candidates and advertised in Link rel="ice-server"; empty = no STUN server is asked (werift\'s built-in default, Google\'s public server, is never used)' },
  { key: 'webrtc.turnServers', kind: 'list', default: [], doc: 'TURN URLs (turn:host:port?transport=udp) advertised in Link rel="ice-server" with the credentials below' },
  { key: 'webrtc.turnUsername', kind: 'string', default: null, doc: 'TURN username advertised with webrtc.turnServers' },
  { key: 'webrtc.turnCredential', kind: 'string', default: null, doc: 'TURN password advertised with webrtc.turnServers' },
  { key: 'webrtc.maxSessions', kind: 'int', default: 200, min: 1, doc: 'WHIP + WHEP sessions at once; more are answered 503 with Retry-After' },
  { key: 'webrtc.sessionTimeoutMs', kind: 'duration', default: 15_000, min: 500, doc: 'a session whose ICE/DTLS has not connected (or stays disconnected) this long is closed' },
  { key: 'webrtc.keyframeIntervalMs', kind: 'duration', default: 2_000, min: 0, doc: 'ask WHIP publishers (RTCP PLI) for a keyframe when none came for this long, so HLS segments and viewer joins have one; 0 = only on loss or a viewer\'s request' },
  { key: 'webrtc.ingestRepairWaitMs', kind: 'duration', default: 400, min: 0, max: 2_000, doc: 'longest wait for a lost video packet from a WHIP publisher: the packets behind the gap wait three and a half measured round trips (a NACK and two retries, each one RTT after the last) but at most this, then the gap is given up (frames dropped until a keyframe, which a PLI asks for); delays only while a gap is open; 0 = give up at once' },
  { key: 'webrtc.fanoutIdleMs', kind: 'duration', default: 10_000, min: 0, max: 300_000, doc: 'a WHEP fan-out (one per watched stream: hub reader, audio bridge, GOP cache) is started when an offer arrives and kept this long without viewers, so a viewer finds it ready when its DTLS completes and the next viewer of a stream just left joins at once; 0 = closed with its last viewer. One started for an offer waits for its viewer at least webrtc.sessionTimeoutMs' },
  { key: 'webrtc.maxFrameBytes', kind: 'bytes', default: 4 * MB, min: 64 * 1024, doc: 'largest video frame a WHIP publisher may send; a bigger one is dropped (and a keyframe asked for)' },
  { key: 'webrtc.keyframeRequestWindowMs', kind: 'duration', default: 1_000, min: 0, max: 10_000, doc: 'viewer keyframe requests (RTCP PLI/FIR) of one stream are coalesced: one goes to a WHIP publisher, later ones wait for its keyframe, or this long if none comes; 0 = forward each (the publisher\'s own 500 ms floor only)' },
  { key: 'webrtc.nackCacheMaxPackets', kind: 'int', default: 2048, min: 0, max: 65_536, doc: 'video RTP packets kept per watched stream (shared by its WHEP viewers) to answer NACKs for packets older than werift\'s 128-packet per-viewer history; 0 = werift\'s history only' },
  { key: 'webrtc.nackCacheMaxAgeMs', kind: 'duration', default: 1_500, min: 50, max: 10_000, doc: 'a NACKed packet older than this is not resent from the stream cache (the viewer is past it: its jitter buffer gave up, a PLI follows)' },
  { key: 'webrtc.opusRed', kind: 'bool', default: true, doc: 'Opus with redundant blocks (RFC 2198 RED) when the offer has red/48000/2: sent to WHEP viewers (one redundant block) and asked of WHIP publishers, so a lost audio packet is rebuilt from the next one, for ~2x audio bitrate' },
  { key: 'webrtc.playoutDelayMaxMs', kind: 'duration', default: 0, min: 0, max: 10_000, doc: 'WHEP video carries the playout-delay header extension (min 0, max this, 10 ms steps) when the viewer offers it: the first frame is shown at once and the jitter buffer never holds more than this, which also leaves retransmissions less time under loss; 0 = not negotiated' },
  // --- end WebRTC ---
  // --- vod.* : the transcode engine (src/vod; docs/VOD.md) ---
  { key: 'vod.segmentSeconds', kind: 'int', default: 4, min: 1, max: 10, doc: 'CMAF segment and keyframe interval in seconds (aligned across rungs)' },
  { key: 'vod.firstSegmentSeconds', kind: 'int', default: 1, min: 0, max: 10, doc: 'duration of the first video segment, shorter for a fast start (0 or ≥ vod.segmentSeconds: all segments alike)' },
  { key: 'vod.startKbps', kind: 'int', default: 1600, min: 0, doc: 'the master playlist lists first (players start there) the highest rung whose nominal kbps is at most this; 0 = the highest rung' },
  { key: 'vod.preset', kind: 'enum', default: 'veryfast', values: ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'], doc: 'x264 preset of every rung' },
  { key: 'vod.ladder', kind: 'list', default: ['1080:5000', '720:2800', '480:1400', '360:800', '240:400'], doc: 'rungs as shortSide:kbps (nominal for 16:9 at ≤30 fps); never upscaled' },
  { key: 'vod.audioKbps', kind: 'int', default: 128, min: 32, max: 512, doc: 'bitrate of the AAC-LC stereo audio rendition' },
  { key: 'vod.maxDurationS', kind: 'int', default: 4 * 3600, min: 1, doc: 'sources longer than this many seconds are rejected (MEDIA_TOO_LONG)' },
  { key: 'vod.maxHeight', kind: 'int', default: 2160, min: 16, doc: 'sources whose short side exceeds this many pixels are rejected' },
  { key: 'vod.maxBytes', kind: 'bytes', default: 20 * 1024 * MB, min: 1, doc: 'source files larger than this are rejected (MEDIA_TOO_LARGE)' },
  { key: 'vod.fpsCap', kind: 'int', default: 60, min: 1, max: 120, doc: 'frame rates above this are reduced to it' },
  { key: 'vod.jobTimeoutMs', kind: 'duration', default: 6 * 3_600_000, min: 1000, doc: 'a transcode job running longer than this is killed and removed' },
  { key: 'vod.thumbnailConcurrency', kind: 'int', default: 2, min: 1, max: 32, doc: 'on-demand thumbnails rendered at once (GET /api/v1/videos/:id/thumbnail); more → 503' },
  { key: 'vod.storyboardTiles', kind: 'int', default: 100, min: 1, max: 400, doc: 'thumbnails in the seek-bar storyboard sprite' },
  { key: 'vod.clipMaxInFlight', kind: 'int', default: 2, min: 1, max: 64, doc: 'clips (POST /api/v1/videos/:id/clips) queued or being cut at once, over all nodes; more → 503' },
  { key: 'vod.clipMinSeconds', kind: 'int', default: 1, min: 1, max: 3600, doc: 'shortest clip range accepted, in seconds (end - start); shorter → 400' },
  { key: 'vod.protectionKeyRotationSegments', kind: 'int', default: 10, min: 0, max: 100_000, doc: 'aes-128 videos: a new content key every this many segments of a rendition (0 = one key per video)' },
  { key: 'vod.licenseMaxBytes', kind: 'bytes', default: 4096, min: 256, max: 65_536, doc: 'largest ClearKey license request body (POST …/license) accepted; larger → 413' },
  { key: 'vod.captionMaxBytes', kind: 'bytes', default: 2 * MB, min: 1024, max: 64 * MB, doc: 'largest caption file (WebVTT or SubRip) accepted by POST /api/v1/videos/:id/captions; larger → 413' },
  // --- end vod.* ---
  // --- jobs.* : the durable job queue (src/jobs) ---
  { key: 'jobs.enabled', kind: 'bool', default: true, doc: 'run queued jobs in this process (false: only accept and queue them)' },
  { key: 'jobs.concurrency', kind: 'int', default: 1, min: 0, max: 64, doc: 'transcode jobs this node runs at once (one ffmpeg already uses every core); 0 = this node queues jobs but runs none (a delivery-only node of a cluster)' },
  { key: 'jobs.maxAttempts', kind: 'int', default: 3, min: 1, max: 20, doc: 'attempts of a job whose failures are transient (bad media is never retried)' },
  { key: 'jobs.retryBaseMs', kind: 'duration', default: 5_000, min: 0, doc: 'first retry delay; doubles each attempt' },
  { key: 'jobs.leaseMs', kind: 'duration', default: 30_000, min: 1000, doc: 'a running job not heard from for this long is run again' },
  { key: 'jobs.pollMs', kind: 'duration', default: 1_000, min: 10, doc: 'how often idle workers look for due jobs (new jobs start at once)' },
  // --- end jobs.* ---
  // --- store.* : the metadata database (src/store/db; docs/STORAGE.md "Metadata database") ---
  { key: 'store.url', kind: 'string', default: null, doc: 'metadata database: empty = SQLite at <dataDir>/strom.db; sqlite:<path>; or postgres://user:password@host:port/db, shared by the nodes of a cluster' },
  { key: 'store.poolMax', kind: 'int', default: 10, min: 1, max: 1000, doc: 'PostgreSQL connections this node may open at once (unused with SQLite)' },
  { key: 'store.connectTimeoutMs', kind: 'duration', default: 5_000, min: 100, max: 120_000, doc: 'PostgreSQL: a connection not made (or a pool slot not free) within this long fails the query with 503 STORE_UNAVAILABLE' },
  { key: 'store.queryTimeoutMs', kind: 'duration', default: 30_000, min: 0, doc: 'PostgreSQL: a statement not answered within this long is given up (STORE_UNAVAILABLE) and its connection closed; 0 = none; migrations are exempt' },
  // --- end store.* ---
  // --- storage.* : where media lives (src/storage; docs/STORAGE.md "Object storage") ---
  { key: 'storage.kind', kind: 'enum', default: 'fs', values: ['fs', 's3'], doc: 'media storage: fs = files under <dataDir> (one node); s3 = an S3-compatible bucket shared by the nodes of a cluster' },
  { key: 'storage.s3.endpoint', kind: 'string', default: null, doc: 'S3 endpoint URL (e.g. http://minio:9000); empty = AWS S3 in storage.s3.region' },
  { key: 'storage.s3.bucket', kind: 'string', default: null, doc: 'bucket holding uploads, sources and assets; required with storage.kind=s3' },
  { key: 'storage.s3.region', kind: 'string', default: 'us-east-1', doc: 'region used for signing (MinIO/Ceph accept us-east-1, R2 wants auto)' },
  { key: 'storage.s3.accessKeyId', kind: 'string', default: null, doc: 'access key id; empty = the AWS SDK default chain (env, profile, instance role)' },
  { key: 'storage.s3.secretAccessKey', kind: 'string', default: null, doc: 'secret access key, with storage.s3.accessKeyId' },
  { key: 'storage.s3.forcePathStyle', kind: 'bool', default: false, doc: 'address buckets as endpoint/bucket/key instead of bucket.endpoint/key (MinIO, Ceph RGW)' },
  { key: 'storage.s3.prefix', kind: 'string', default: '', doc: 'key prefix of everything Strom writes in the bucket (e.g. "strom/"); lets several deployments share one bucket' },
  { key: 'storage.s3.maxConcurrentGets', kind: 'int', default: 64, min: 1, max: 4096, doc: 'GET/HEAD requests to the bucket in flight at once per process (delivery reads wait beyond it)' },
  { key: 'storage.s3.maxConcurrentWrites', kind: 'int', default: 8, min: 1, max: 256, doc: 'PUT/COPY/DELETE requests in flight at once per process (publication, uploads)' },
  { key: 'storage.s3.partBytes', kind: 'bytes', default: 8 * MB, min: 5 * MB, max: 512 * MB, doc: 'multipart part size of large writes and tus uploads (S3 needs at least 5 MiB)' },
  { key: 'storage.s3.requestTimeoutMs', kind: 'duration', default: 30_000, min: 100, doc: 'a request to the bucket with no response for this long fails (STORAGE_UNAVAILABLE)' },
  // --- end storage.* ---
  // --- cluster.* : several nodes as one service (src/cluster; docs/SCALING.md) ---
  { key: 'cluster.redisUrl', kind: 'string', default: null, doc: 'redis://[:password@]host:port[/db] shared by the nodes of a cluster (events, invalidations, live origin map, shared limits); empty = a single node' },
  { key: 'cluster.nodeId', kind: 'string', default: null, doc: 'this node\'s id in the cluster (default: hostname-pid); shown in logs, metrics and the live origin map' },
  { key: 'cluster.advertiseUrl', kind: 'string', default: null, doc: 'base URL other nodes reach this node\'s HTTP port at (e.g. http://10.0.0.5:8080); default http://<host>:<bound port>' },
  { key: 'cluster.secret', kind: 'string', default: null, doc: 'shared secret (at least 16 characters) that authenticates node-to-node requests: the internal live relay between cluster nodes and from `strom edge` nodes; required with cluster.redisUrl; set alone, a single node serves its live streams and its playback policy (GET /internal/edge/sync) to edges' },
  { key: 'cluster.originTtlMs', kind: 'duration', default: 10_000, min: 300, max: 600_000, doc: 'live origin map: an entry (stream → publishing node) lives this long unless its node refreshes it (every third of it)' },
  { key: 'cluster.relayConnectTimeoutMs', kind: 'duration', default: 3_000, min: 100, max: 60_000, doc: 'a viewer of a stream live on another node waits this long for the relay to bring it here; a relay without an origin this long ends the stream' },
  { key: 'cluster.relayIdleMs', kind: 'duration', default: 10_000, min: 100, doc: 'a relayed stream without readers on this node for this long is released' },
  { key: 'cluster.relayMaxStreams', kind: 'int', default: 1000, min: 1, max: 100_000, doc: 'streams this node may relay from other nodes at once; more → 503' },
  { key: 'cluster.maxEdges', kind: 'int', default: 256, min: 1, max: 100_000, doc: 'edges (`strom edge`) following this node\'s playback policy at once (GET /internal/edge/sync, served whenever cluster.secret is set, on a single node too); more → 503 EDGE_SYNC_FULL' },
  // --- edge.* : `strom edge`, a stateless caching node in front of the origin (src/edge; docs/SCALING.md "Edge tier") ---
  { key: 'edge.origins', kind: 'list', default: [], doc: 'base URLs of the origin (a Strom node, a cluster\'s load balancer, or several nodes) this edge pulls from, tried in order with health checks; `strom edge --origin URL` sets it' },
  { key: 'edge.cacheBytes', kind: 'bytes', default: 512 * MB, min: 0, doc: 'memory tier of the edge cache (whole objects, LRU); objects are counted by their body size' },
  { key: 'edge.diskDir', kind: 'string', default: null, doc: 'disk tier of the edge cache: a directory the edge owns (emptied at start); empty = memory only' },
  { key: 'edge.diskBytes', kind: 'bytes', default: 10 * 1024 * MB, min: 0, doc: 'byte budget of the disk tier; least recently used objects are removed beyond it' },
  { key: 'edge.maxObjectBytes', kind: 'bytes', default: 64 * MB, min: 1, doc: 'larger responses are relayed to the viewer without being cached' },
  { key: 'edge.prefetchSegments', kind: 'int', default: 2, min: 0, max: 32, doc: 'cache warming: a viewer\'s request for VOD segment k prefetches k+1..k+n of the same rendition in the background' },
  { key: 'edge.prefetchConcurrency', kind: 'int', default: 8, min: 1, max: 256, doc: 'prefetch requests to the origin in flight at once; more prefetches are dropped (counted), never queued' },
  { key: 'edge.upstreamConnections', kind: 'int', default: 64, min: 1, max: 4096, doc: 'keep-alive connections to each origin at most (undici Pool)' },
  { key: 'edge.upstreamTimeoutMs', kind: 'duration', default: 15_000, min: 100, doc: 'an origin that sends no response headers for this long fails the request over to the next origin (blocking LL-HLS requests wait longer: their hold time on the origin plus this)' },
  { key: 'edge.healthIntervalMs', kind: 'duration', default: 2_000, min: 100, max: 600_000, doc: 'how often each origin\'s /healthz is checked; an unhealthy origin is skipped until it answers again' },
  { key: 'edge.staleIfErrorMs', kind: 'duration', default: 86_400_000, min: 0, doc: 'an expired cached object may be served this long past its freshness when every origin fails (RFC 5861 stale-if-error)' },
  { key: 'edge.maxWaiters', kind: 'int', default: 10_000, min: 1, doc: 'viewers waiting on one coalesced origin request at most; more → 503' },
  // --- end edge.* ---
  // --- uploads.* and webhooks.* (src/http/uploads, src/events/webhook-*; docs/UPLOADS.md) ---
  { key: 'uploads.maxBytes', kind: 'bytes', default: 10 * 1024 * MB, min: 1, doc: 'largest upload (tus Upload-Length, or a multipart file) accepted; larger is 413' },
  { key: 'uploads.expireAfterMs', kind: 'duration', default: 24 * 3_600_000, min: 1000, doc: 'an unfinished tus upload is deleted (with its waiting video) this long after creation' },
  { key: 'uploads.cleanupIntervalMs', kind: 'duration', default: 15 * 60_000, min: 100, doc: 'how often expired tus uploads are looked for' },
  { key: 'webhooks.timeoutMs', kind: 'duration', default: 10_000, min: 10, doc: 'one webhook delivery attempt is aborted after this long' },
  { key: 'webhooks.maxAttempts', kind: 'int', default: 5, min: 1, max: 20, doc: 'attempts per webhook delivery before it is given up' },
  { key: 'webhooks.retryBaseMs', kind: 'duration', default: 2_000, min: 0, doc: 'first retry delay of a failed delivery; doubles each attempt' },
  { key: 'webhooks.maxQueued', kind: 'int', default: 10_000, min: 1, doc: 'undelivered deliveries in the metadata store\'s outbox, for the whole service; deliveries of new events beyond it are dropped, counted (strom_webhook_dropped_total{reason="queue_full"}) and logged' },
  { key: 'webhooks.maxBuffered', kind: 'int', default: 1000, min: 0, doc: 'events held in memory per node while the metadata store is unreachable, enqueued when it returns; beyond it the oldest are dropped and counted (reason="buffer_full")' },
  { key: 'webhooks.concurrency', kind: 'int', default: 4, min: 1, max: 64, doc: 'webhook deliveries in flight at once per node' },
  { key: 'webhooks.pollMs', kind: 'duration', default: 1_000, min: 10, max: 60_000, doc: 'how often each node looks for due deliveries in the outbox (a node also looks at once after enqueueing)' },
  { key: 'webhooks.retentionMs', kind: 'duration', default: 7 * 24 * 3_600_000, min: 60_000, doc: 'the attempt log and given-up deliveries are deleted after this long; a delivery still undelivered this long after its event expires (counted, reason="expired")' },
  // --- end uploads.* / webhooks.* ---
  // --- events.* : the event bus (src/events, src/cluster/cluster-events.ts; docs/SCALING.md "Cluster mode: events") ---
  { key: 'events.historySize', kind: 'int', default: 1000, min: 16, max: 1_000_000, doc: 'events kept for SSE Last-Event-ID resume; in cluster mode also the length the Redis stream strom:events is trimmed to (MAXLEN ~)' },
  { key: 'events.clusterBacklog', kind: 'int', default: 10_000, min: 0, max: 1_000_000, doc: 'cluster mode: events published while Redis is unreachable (already delivered on this node) kept until they can join the stream; beyond it the oldest are dropped and counted' },
  // --- end events.* ---
  // --- observability (src/observability, src/http/metrics.ts, src/http/health.ts; docs/OPERATIONS.md) ---
  { key: 'metrics.enabled', kind: 'bool', default: true, doc: 'serve Prometheus metrics at GET /metrics' },
  { key: 'metrics.port', kind: 'int', default: null, min: 0, max: 65535, doc: 'serve /metrics on its own listener on this port (default: the main port)' },
  { key: 'metrics.host', kind: 'string', default: null, doc: 'address of the separate metrics listener (default: host)' },
  { key: 'metrics.allow', kind: 'list', default: ['loopback'], doc: 'who may scrape without a token: "all", "loopback" or CIDRs; others need a Bearer API token with admin scope' },
  { key: 'metrics.defaultMetrics', kind: 'bool', default: true, doc: 'include prom-client process metrics (event-loop delay, GC, heap, CPU)' },
  { key: 'metrics.historyIntervalMs', kind: 'duration', default: 5_000, min: 0, doc: 'sample the dashboard\'s 15-minute history (GET /api/v1/metrics/history) this often; 0 disables, else at least 100 ms' },
  // --- predictive scaling (src/observability/forecast; docs/SCALING.md "Predictive scaling") ---
  { key: 'forecast.enabled', kind: 'bool', default: true, doc: 'sample the node\'s viewers and egress and export strom_forecast_viewers / strom_forecast_egress_bytes_per_second 5 and 15 minutes ahead' },
  { key: 'forecast.sampleIntervalMs', kind: 'duration', default: 30_000, min: 1_000, max: 600_000, doc: 'sample viewers and egress this often (one step of the smoothing model)' },
  { key: 'forecast.historyMaxSamples', kind: 'int', default: 8_640, min: 10, max: 100_000, doc: 'samples of history kept (oldest dropped); daily seasonality needs two days of it (5,760 at 30 s), else the forecast is trend only' },
  { key: 'forecast.rampMs', kind: 'duration', default: 300_000, min: 0, max: 3_600_000, doc: 'a scheduled stream\'s expected viewers arrive linearly over this long before its scheduledStart (and count until this long after it)' },
  { key: 'forecast.bytesPerViewer', kind: 'bytes', default: 375_000, min: 0, max: 12_500_000, doc: 'egress of one expected viewer of a scheduled stream (bytes/s; default 3 Mbit/s)' },
  { key: 'log.accessMediaEvery', kind: 'int', default: 0, min: 0, doc: 'access-log one media request in N (0 = none, 1 = all); API requests are always logged' },
  { key: 'tracing.otlpEndpoint', kind: 'string', default: null, doc: 'OTLP/HTTP base URL (e.g. http://collector:4318); enables OpenTelemetry tracing, no-op when unset' },
  { key: 'tracing.serviceName', kind: 'string', default: 'strom', doc: 'service.name resource attribute of exported spans' },
  { key: 'qoe.maxSessions', kind: 'int', default: 10_000, min: 1, doc: 'CMCD playback sessions kept in memory (least recent evicted)' },
  { key: 'qoe.maxContents', kind: 'int', default: 10_000, min: 1, doc: 'videos/live streams with QoE aggregates kept in memory (least recent evicted)' },
  { key: 'qoe.sessionIdleMs', kind: 'duration', default: 300_000, min: 1000, doc: 'a CMCD session not heard from this long is closed' },
  { key: 'qoe.cmsd', kind: 'bool', default: false, doc: 'add a CMSD-Static response header to media responses (CTA-5006)' },
  { key: 'health.toolCacheMs', kind: 'duration', default: 30_000, min: 0, doc: 'how long /readyz trusts a successful ffmpeg/ffprobe -version' },
  { key: 'vod.ffmpegPath', kind: 'string', default: 'ffmpeg', doc: 'ffmpeg executable (name on PATH or absolute path)' },
  { key: 'vod.ffprobePath', kind: 'string', default: 'ffprobe', doc: 'ffprobe executable (name on PATH or absolute path)' },
  { key: 'vod.toolNiceness', kind: 'int', default: 10, min: 0, max: 19, doc: 'niceness added to Strom\'s own for the ffmpeg/ffprobe processes VOD jobs run (transcodes, thumbnails, clips): batch work yields the CPU to live ingest and delivery when both compete; 0 = the same priority as Strom' },
  // --- end observability ---
];

/** The validated configuration the process runs with. */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  publicUrl: string | null;
  trustProxy: string[];
  logLevel: string;
  tls: { cert: string | null; key: string | null; selfSigned: boolean };
  timeouts: { headersMs: number; requestMs: number; idleMs: number; keepAliveMs: number; shutdownMs: number; requestDeadlineMs: number };
  delivery: {
    cacheBytes: number;
    maxObjectBytes: number;
    metaTtlMs: number;
    metaEntries: number;
    corsOrigin: string;
    earlyHints: boolean;
    embedFrameAncestors: string;
    oembedProviderName: string;
    http2Push: boolean;
    playlistMaxAgeS: number;
    streamChunkBytes: number;
    /** delivery worker processes */
    workers: number;
  };
  // --- live ---
  rtmp: { enabled: boolean; host: string | null; port: number; maxMessageBytes: number; maxChunkStreams: number; chunkSize: number; handshakeTimeoutMs: number };
  rtsp: { enabled: boolean; host: string | null; port: number; udp: boolean; rtpPort: number; rtcpPort: number; maxConnections: number; sessionTimeoutMs: number; maxHeaderBytes: number; maxBodyBytes: number; maxFrameBytes: number; reorderPackets: number; publicUrl: string | null };
  srt: { enabled: boolean; host: string | null; port: number; latencyMs: number; passphrase: string | null; maxConnections: number; peerIdleTimeoutMs: number; windowPackets: number; publicUrl: string | null };
  live: {
    takeover: 'takeover' | 'reject';
    gopCacheMaxBytes: number;
    readerMaxBytes: number;
    readerMaxUnits: number;
    slowReaderGraceMs: number;
    staticKeys: string[];
    /** base of API-returned ingest URLs */
    rtmpPublicUrl: string | null;
    /** recording → VOD */
    recordAll: boolean;
    recordMaxBytes: number;
    /** audio bridge (src/live/transcode) */
    audioBridgeMaxChildren: number;
    audioBridgeMaxQueuedBytes: number;
    audioBridgeMaxRestarts: number;
    audioBridgeKbps: number;
    /** live ABR */ abrAll: boolean; abrLadder: string[]; abrMaxStreams: number; abrPreset: 'ultrafast' | 'superfast' | 'veryfast';
    /** live thumbnails (src/live/thumbnail) */
    thumbnailIntervalMs: number;
    thumbnailWidth: number;
    thumbnailMaxRenders: number;
    thumbnailTimeoutMs: number;
    /** restreaming outputs per stream (src/live/restream) */
    maxOutputsPerStream: number;
    /** reconnect window and slate (src/live/slate) */
    reconnectWindowS: number;
    publisherIdleTimeoutMs: number;
    slateImage: string | null;
    /** pulled sources (src/live/pull) */
    sourceConnectTimeoutMs: number;
    sourceLingerMs: number;
    sourceReconnectGraceMs: number;
    sourceRetryMaxMs: number;
    sourceMaxBufferBytes: number;
    maxPulledSources: number;
  };
  // --- LL-HLS ---
  llhls: { partTargetMs: number; segmentTargetMs: number; windowSegments: number; idleTimeoutMs: number; /** DVR */ dvrWindowS: number; dvrMaxBytes: number; maxHeldRequests: number };
  // --- WebRTC ---
  webrtc: { enabled: boolean; hostAddresses: string[]; announcedAddresses: string[]; udpPortMin: number; udpPortMax: number; stunServers: string[]; turnServers: string[]; turnUsername: string | null; turnCredential: string | null; maxSessions: number; sessionTimeoutMs: number; keyframeIntervalMs: number; ingestRepairWaitMs: number; fanoutIdleMs: number; maxFrameBytes: number; keyframeRequestWindowMs: number; nackCacheMaxPackets: number; nackCacheMaxAgeMs: number; opusRed: boolean; playoutDelayMaxMs: number };
  // --- auth, playback, rate limits, deadlines ---
  auth: { jwtSecret: string | null; jwksUrl: string | null; issuer: string; audience: string; clockToleranceS: number };
  playback: { tokenTtlMs: number; tokenCacheEntries: number };
  rateLimit: { api: { perMinute: number }; media: { perMinute: number; maxClients: number }; maxStreamsPerToken: number; /** cluster sync interval */ syncMs: number };
  // --- vod.* (src/vod) ---
  vod: {
    segmentSeconds: number;
    firstSegmentSeconds: number;
    startKbps: number;
    preset: string;
    ladder: string[];
    audioKbps: number;
    maxDurationS: number;
    maxHeight: number;
    maxBytes: number;
    fpsCap: number;
    jobTimeoutMs: number;
    storyboardTiles: number;
    thumbnailConcurrency: number;
    captionMaxBytes: number;
    clipMaxInFlight: number;
    clipMinSeconds: number;
    /** content protection (docs/VOD.md "Content protection") */
    protectionKeyRotationSegments: number;
    licenseMaxBytes: number;
    /** executables (readiness checks them; the runner spawns them) */
    ffmpegPath: string;
    ffprobePath: string;
    toolNiceness: number;
  };
  jobs: { enabled: boolean; concurrency: number; maxAttempts: number; retryBaseMs: number; leaseMs: number; pollMs: number };
  /** The metadata database: SQLite (default) or a PostgreSQL shared by a cluster. */
  store: { url: string | null; poolMax: number; connectTimeoutMs: number; queryTimeoutMs: number };
  /** Media storage: files under dataDir (default) or an S3-compatible bucket. */
  storage: {
    kind: 'fs' | 's3';
    s3: { endpoint: string | null; bucket: string | null; region: string; accessKeyId: string | null; secretAccessKey: string | null; forcePathStyle: boolean; prefix: string; maxConcurrentGets: number; maxConcurrentWrites: number; partBytes: number; requestTimeoutMs: number };
  };
  /** Cluster mode: Redis shared by the nodes; off (single node) while redisUrl is null. */
  cluster: { redisUrl: string | null; nodeId: string | null; advertiseUrl: string | null; secret: string | null; originTtlMs: number; relayConnectTimeoutMs: number; relayIdleMs: number; relayMaxStreams: number; maxEdges: number };
  /** `strom edge`: origins to pull from, cache tiers, cache warming, upstream connections. */
  edge: { origins: string[]; cacheBytes: number; diskDir: string | null; diskBytes: number; maxObjectBytes: number; prefetchSegments: number; prefetchConcurrency: number; upstreamConnections: number; upstreamTimeoutMs: number; healthIntervalMs: number; staleIfErrorMs: number; maxWaiters: number };
  // --- uploads / webhooks (src/http/uploads, src/events/webhook-*) ---
  /** The event bus: Last-Event-ID history, and the backlog kept while the cluster's Redis is away. */
  events: { historySize: number; clusterBacklog: number };
  uploads: { maxBytes: number; expireAfterMs: number; cleanupIntervalMs: number };
  webhooks: { timeoutMs: number; maxAttempts: number; retryBaseMs: number; maxQueued: number; maxBuffered: number; concurrency: number; pollMs: number; retentionMs: number };
  // --- observability ---
  metrics: { enabled: boolean; port: number | null; host: string | null; allow: string[]; defaultMetrics: boolean; historyIntervalMs: number };
  forecast: { enabled: boolean; sampleIntervalMs: number; historyMaxSamples: number; rampMs: number; bytesPerViewer: number };
  log: { accessMediaEvery: number };
  tracing: { otlpEndpoint: string | null; serviceName: string };
  qoe: { maxSessions: number; maxContents: number; sessionIdleMs: number; cmsd: boolean };
  health: { toolCacheMs: number };
}

/** Raw values keyed by dotted setting name, as they come from a file, env or flags. */
export type RawSettings = Record<string, unknown>;

/** `delivery.cacheBytes` → `STROM_DELIVERY_CACHE_BYTES`. */
export function envName(key: string): string {
  return `STROM_${key.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

const UNITS: Record<string, number> = { b: 1, k: 1024, kb: 1024, kib: 1024, m: MB, mb: MB, mib: MB, g: 1024 * MB, gb: 1024 * MB, gib: 1024 * MB };
const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function parseValue(s: Setting, raw: unknown): string | number | boolean | string[] | null {
  const bad = (why: string): never => {
    throw fail('CONFIG_INVALID', s.key, raw, why);
  };
  if (raw === null) return null;
  switch (s.kind) {
    case 'string':
      if (typeof raw !== 'string') bad('expected a string');
      return raw as string;
    case 'enum':
      if (typeof raw !== 'string' || !s.values!.includes(raw)) bad(`expected one of ${s.values!.join(', ')}`);
      return raw as string;
    case 'list':
      if (Array.isArray(raw)) return raw.map(String);
      if (typeof raw !== 'string') bad('expected a comma-separated list');
      return (raw as string).split(',').map((x) => x.trim()).filter(Boolean);
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(true|1|yes|on)$/i.test(raw)) return true;
      if (typeof raw === 'string' && /^(false|0|no|off)$/i.test(raw)) return false;
      return bad('expected true or false');
    case 'int':
    case 'bytes':
    case 'duration': {
      let n: number;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string') {
        const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(raw);
        if (!m) return bad('expected a number');
        const unit = m[2]!.toLowerCase();
        const table = s.kind === 'bytes' ? UNITS : s.kind === 'duration' ? TIME_UNITS : { '': 1 };
        const mult = unit === '' ? 1 : table[unit];
        if (mult === undefined) return bad(`unknown unit ${JSON.stringify(m[2])}`);
        n = Number(m[1]) * mult;
      } else return bad('expected a number');
      if (!Number.isFinite(n)) bad('expected a finite number');
      // Counts and ports must be whole; fractional sizes and times ("1.5MB", "0.5s") round.
      if (s.kind === 'int' && !Number.isInteger(n)) bad('expected a whole number');
      n = Math.round(n);
      if (s.min !== undefined && n < s.min) bad(`must be ≥ ${s.min}`);
      if (s.max !== undefined && n > s.max) bad(`must be ≤ ${s.max}`);
      return n;
    }
  }
}

/** Flatten `{delivery: {cacheBytes: 1}}` into `{'delivery.cacheBytes': 1}`. */
function flatten(obj: Record<string, unknown>, prefix = '', out: RawSettings = {}): RawSettings {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, key, out);
    else out[key] = v;
  }
  return out;
}

/** Read and flatten a JSON config file. */
export function readConfigFile(file: string): RawSettings {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw fail('CONFIG_FILE_UNREADABLE', file, (err as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw fail('CONFIG_FILE_UNREADABLE', file, `not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw fail('CONFIG_FILE_UNREADABLE', file, 'top level must be an object');
  return flatten(parsed as Record<string, unknown>);
}

/** Settings found in the environment (`STROM_*`). */
export function readEnv(env: NodeJS.ProcessEnv): RawSettings {
  const out: RawSettings = {};
  for (const s of settings) {
    const v = env[envName(s.key)];
    if (v !== undefined) out[s.key] = v;
  }
  return out;
}

/** Build a validated Config from layers, lowest precedence first. Unknown keys are rejected. */
export function resolveConfig(...layers: RawSettings[]): Config {
  const known = new Map(settings.map((s) => [s.key, s]));
  const merged = new Map<string, unknown>(settings.map((s) => [s.key, s.default]));
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      if (!known.has(key)) throw fail('CONFIG_INVALID', key, value, 'unknown setting');
      merged.set(key, value);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, raw] of merged) {
    const value = parseValue(known.get(key)!, raw);
    const parts = key.split('.');
    let node = out;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts.at(-1)!] = value;
  }
  const config = out as unknown as Config;
  if ((config.tls.cert === null) !== (config.tls.key === null)) {
    throw fail('CONFIG_INVALID', config.tls.cert === null ? 'tls.cert' : 'tls.key', null, 'tls.cert and tls.key must be set together');
  }
  if (config.metrics.historyIntervalMs > 0 && config.metrics.historyIntervalMs < 100) throw fail('CONFIG_INVALID', 'metrics.historyIntervalMs', config.metrics.historyIntervalMs, 'must be 0 (off) or at least 100 ms');
  if (config.webrtc.udpPortMax <= config.webrtc.udpPortMin) throw fail('CONFIG_INVALID', 'webrtc.udpPortMax', config.webrtc.udpPortMax, 'must exceed webrtc.udpPortMin');
  for (const a of [...config.webrtc.hostAddresses, ...config.webrtc.announcedAddresses]) {
    if (!isIPv4(a)) throw fail('CONFIG_INVALID', config.webrtc.announcedAddresses.includes(a) ? 'webrtc.announcedAddresses' : 'webrtc.hostAddresses', a, 'expected an IPv4 address (IPv6 ICE is off)');
  }
  const announced = config.webrtc.announcedAddresses.length;
  if (announced > 0 && announced !== config.webrtc.hostAddresses.length) {
    throw fail('CONFIG_INVALID', 'webrtc.announcedAddresses', config.webrtc.announcedAddresses.join(','), `maps 1:1 onto webrtc.hostAddresses: needs ${config.webrtc.hostAddresses.length} address(es), one per bound address`);
  }
  if (config.rtsp.rtpPort !== 0 && config.rtsp.rtpPort === config.rtsp.rtcpPort) throw fail('CONFIG_INVALID', 'rtsp.rtcpPort', config.rtsp.rtcpPort, 'must differ from rtsp.rtpPort (RTP and RTCP need a port each)');
  const pass = config.srt.passphrase;
  if (pass !== null && (pass.length < 10 || pass.length > 79)) throw fail('CONFIG_INVALID', 'srt.passphrase', '(hidden)', `must be 10 to 79 characters, not ${pass.length} (libsrt SRTO_PASSPHRASE)`);
  if (config.cluster.secret !== null && config.cluster.secret.length < 16) throw fail('CONFIG_INVALID', 'cluster.secret', '<redacted>', 'node-to-node requests need a shared secret of at least 16 characters');
  if (config.cluster.redisUrl !== null) {
    if (!/^rediss?:\/\//.test(config.cluster.redisUrl)) throw fail('CONFIG_INVALID', 'cluster.redisUrl', config.cluster.redisUrl, 'expected redis://host:port or rediss://host:port');
    if (config.cluster.secret === null) throw fail('CONFIG_INVALID', 'cluster.secret', null, 'cluster mode needs a shared secret of at least 16 characters');
    // A generated JWT secret lives in each node's own data directory: tokens would work on one node only.
    if (config.auth.jwtSecret === null && config.auth.jwksUrl === null) throw fail('CONFIG_INVALID', 'auth.jwtSecret', null, 'cluster mode needs API tokens every node accepts: set auth.jwtSecret (the same on every node) or auth.jwksUrl');
  }
  if (config.storage.kind === 's3') {
    const s3 = config.storage.s3;
    if (s3.bucket === null || s3.bucket === '') throw fail('CONFIG_INVALID', 'storage.s3.bucket', s3.bucket, 'storage.kind=s3 needs a bucket');
    if (s3.endpoint !== null && !/^https?:\/\//.test(s3.endpoint)) throw fail('CONFIG_INVALID', 'storage.s3.endpoint', s3.endpoint, 'expected http://host:port or https://host');
    if ((s3.accessKeyId === null) !== (s3.secretAccessKey === null)) throw fail('CONFIG_INVALID', s3.accessKeyId === null ? 'storage.s3.accessKeyId' : 'storage.s3.secretAccessKey', null, 'storage.s3.accessKeyId and storage.s3.secretAccessKey must be set together');
  }
  config.dataDir = path.resolve(config.dataDir);
  return config;
}

/** Load config the way `strom serve` does: defaults < file < env < flags. */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; flags?: RawSettings } = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.STROM_CONFIG;
  return resolveConfig(file ? readConfigFile(file) : {}, readEnv(env), opts.flags ?? {});
}

/** Config for tests: defaults plus overrides, nothing from env or files. */
export function testConfig(overrides: RawSettings = {}): Config {
  return resolveConfig({ port: 0, logLevel: 'silent', 'rtmp.port': 0 /* live: never grab 1935 in tests */, 'srt.port': 0, 'rtsp.port': 0, 'rtsp.rtpPort': 0, 'rtsp.rtcpPort': 0, 'delivery.workers': 0 /* single process unless a test asks */ }, overrides);
}
