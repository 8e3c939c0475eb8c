/**
 * The RTSP pull connector: Strom as an RTSP client (RFC 2326; RTSP 1.0 as cameras speak it)
 * playing rtsp:// and rtsps:// (RTSP over TLS, RFC 7826 §19.2) sources. The URL's userinfo gives
 * the credentials (Basic or Digest, after a 401); `?transport=tcp` forces RTP interleaved in the
 * RTSP connection (RFC 2326 §10.12), otherwise each track is received over UDP and the connection
 * falls back to TCP when the camera refuses UDP (461) or nothing arrives (rtsp-source-connection.ts).
 * rtsps:// always interleaves. The protocol work is in src/live/rtsp (client-session.ts and what
 * it uses); this file picks the options and bounds.
 */
import { fail } from '../../../errors.js';
import { openPlaying, type PlayOptions } from '../../rtsp/client-session.js';
import { transportHint } from '../../rtsp/rtsp-client-url.js';
import type { SourceConnector } from '../connector/source-connector.js';
import { maskSourceUrl } from '../connector/source-url.js';
import { RtspSourceConnection } from './rtsp-source-connection.js';

/** The largest SDP (DESCRIBE body) accepted. */
const MAX_SDP_BYTES = 64 * 1024;
/** The idle limit (no RTP) is the connect timeout, within these bounds. */
const IDLE_MIN_MS = 2_000;
const IDLE_MAX_MS = 10_000;

/** Pulls rtsp:// and rtsps:// sources. */
export const rtspConnector: SourceConnector = {
  name: 'rtsp',
  schemes: ['rtsp', 'rtsps'],

  validate(url: URL): void {
    const shown = maskSourceUrl(url.href);
    if (url.hostname === '') throw fail('LIVE_SOURCE_BAD_URL', shown, 'no host');
    try {
      transportHint(url);
    } catch (err) {
      throw fail('LIVE_SOURCE_BAD_URL', shown, (err as Error).message);
    }
  },

  async connect(url, sink, o) {
    this.validate(url);
    const secure = url.protocol.toLowerCase() === 'rtsps:';
    const opts: PlayOptions = {
      display: maskSourceUrl(url.href),
      transport: secure || transportHint(url) === 'tcp' ? 'tcp' : 'udp',
      deadline: Date.now() + o.timeoutMs,
      timeoutMs: o.timeoutMs,
      maxBodyBytes: Math.min(MAX_SDP_BYTES, o.maxBufferBytes),
      // A frame being reassembled may take a quarter of the budget: two video tracks, reorder buffers and the read buffer fit in the rest.
      maxFrameBytes: Math.max(16 * 1024, Math.floor(o.maxBufferBytes / 4)),
      log: o.log,
    };
    const session = await openPlaying(url, opts);
    o.log.info({ tracks: session.tracks.map((t) => `${t.ingest.codec}/${t.udp === null ? 'tcp' : 'udp'}`) }, 'rtsp source playing');
    return new RtspSourceConnection(session, sink, opts, url, Math.min(IDLE_MAX_MS, Math.max(IDLE_MIN_MS, o.timeoutMs)));
  },
};
