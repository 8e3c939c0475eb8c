/**
 * What a pulled source's protocol provides, and the registry that picks one by URL. A live stream
 * may name a `source` URL instead of waiting for a publisher (rtsp://, rtmp://, srt://, an HLS
 * playlist, an HTTP-FLV stream); the pull manager (pull-manager.ts) decides when to connect, and a
 * SourceConnector does the protocol work: it connects, turns what it receives into hub MediaUnits
 * and hands them to a SourceSink, which publishes them like any publisher's. Connectors live in
 * sources/, one file (or folder) per protocol; connectors.ts lists those that exist.
 */
import type { Logger } from 'pino';
import { fail } from '../../../errors.js';
import type { MediaUnit } from '../../stream/media-unit.js';
import { maskSourceUrl } from './source-url.js';

/** Stream metadata a source can tell (picture size from the SPS or the source's metadata, frame rate). */
export interface SourceMeta {
  width?: number;
  height?: number;
  framerate?: number;
}

/** Where a source connection delivers what it receives; the pull manager owns it. */
export interface SourceSink {
  /**
   * One media unit, in decode order per track. A track's decoder configuration (`config: true`:
   * AVC/HEVC configuration record, AudioSpecificConfig, Opus head) comes before its first frame
   * and again whenever it changes (a camera switching resolution). Timestamps in ms on the
   * source's own clock; they need not start at 0 (the hub rebases), but must not go backwards
   * within a track except across a real discontinuity (the hub absorbs jumps and logs them).
   */
  unit(u: MediaUnit): void;
  /** Metadata learnt from the source; may be called again when it changes. */
  meta(m: SourceMeta): void;
  /** Count bytes received from the network (ingest bitrate and metrics). */
  received(bytes: number): void;
}

/** Why a source connection ended. */
export interface SourceEnd {
  /** One line for logs and the API's source state (no secrets: use the masked URL). */
  reason: string;
  /**
   * True when retrying cannot help without a change by a person: credentials refused, the path
   * does not exist (RTSP 404, HTTP 404/403, RTMP play refused), an unsupported codec. An
   * always-on source then waits the longest backoff; an on-demand one reports `failed`.
   */
  permanent: boolean;
}

/** Tuning every connector receives. */
export interface SourceConnectOptions {
  /** Give up connecting (until the source accepted: RTSP PLAY answered, RTMP play started, the first playlist read) after this long. */
  timeoutMs: number;
  /** Bytes the connector may hold at once (demuxer buffers, one HLS segment, reassembly): more is a protocol error. */
  maxBufferBytes: number;
  /** Logger carrying the stream id and the masked source URL. */
  log: Logger;
}

/** An open connection to a source. */
export interface SourceConnection {
  /** Resolves once the connection is gone (closed by `close`, ended by the source, or failed); never rejects. */
  readonly closed: Promise<SourceEnd>;
  /** Close the connection (idempotent); `closed` resolves afterwards. */
  close(reason: string): void;
  /** Ask the source for a keyframe where the protocol has a way (RTCP PLI/FIR); absent otherwise. */
  requestKeyframe?(): void;
}

/** A pull protocol. */
export interface SourceConnector {
  /** Short name for logs and metrics (`rtsp`, `rtmp`, `srt`, `hls`, `flv`). */
  readonly name: string;
  /** URL schemes it may serve, lower case without the colon. */
  readonly schemes: readonly string[];
  /** Whether it serves this URL when several connectors share a scheme (http: `.m3u8` vs `.flv`); absent = every URL of its schemes. */
  accepts?(url: URL): boolean;
  /** Throw LIVE_SOURCE_BAD_URL when `url` cannot be used (missing host, port, path…), before it is stored. */
  validate(url: URL): void;
  /**
   * Connect and start receiving. Resolves once the source accepted and media is about to flow;
   * rejects with a catalog error: LIVE_SOURCE_UNREACHABLE (network), LIVE_SOURCE_REFUSED
   * (credentials, not found: the error's `permanent` meaning), LIVE_SOURCE_TIMEOUT,
   * LIVE_SOURCE_PROTOCOL (an answer it cannot use, an unsupported codec). Nothing is left open
   * after a rejection.
   */
  connect(url: URL, sink: SourceSink, o: SourceConnectOptions): Promise<SourceConnection>;
}

/** Connectors by scheme (and `accepts`). */
export class ConnectorRegistry {
  private readonly all: SourceConnector[] = [];

  /** Add a connector. */
  register(c: SourceConnector): this {
    this.all.push(c);
    return this;
  }

  /** Every scheme some connector serves, sorted (for error messages and docs). */
  schemes(): string[] {
    return [...new Set(this.all.flatMap((c) => c.schemes))].sort();
  }

  /** The connector for `url`; throws LIVE_SOURCE_BAD_URL / LIVE_SOURCE_SCHEME_UNSUPPORTED. */
  resolve(raw: string): { url: URL; connector: SourceConnector } {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw fail('LIVE_SOURCE_BAD_URL', maskSourceUrl(raw), 'not a URL (expected e.g. rtsp://camera.local/stream)');
    }
    if (url.hostname === '') throw fail('LIVE_SOURCE_BAD_URL', maskSourceUrl(raw), 'no host');
    const scheme = url.protocol.replace(/:$/, '').toLowerCase();
    const byScheme = this.all.filter((c) => c.schemes.includes(scheme));
    if (byScheme.length === 0) throw fail('LIVE_SOURCE_SCHEME_UNSUPPORTED', scheme, this.schemes().join(', '));
    const connector = byScheme.find((c) => c.accepts === undefined || c.accepts(url));
    if (connector === undefined) {
      throw fail('LIVE_SOURCE_BAD_URL', maskSourceUrl(raw), `${scheme} sources must name an HLS playlist (.m3u8) or an FLV stream (.flv)`);
    }
    connector.validate(url);
    return { url, connector };
  }
}
