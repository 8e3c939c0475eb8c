/**
 * srt:// sources: Strom's own SRT caller (src/live/srt/protocol/caller.ts; draft-sharabayko-srt-01
 * §4.3 caller–listener handshake, live mode) reads MPEG-TS from a listener, and the TS demuxer
 * (ISO/IEC 13818-1) turns it into hub MediaUnits, with the picture size taken from the SPS as for
 * SRT ingest. The URL takes libsrt's and ffmpeg's parameters, read as restream outputs read them:
 * `srt://host:port?streamid=…&passphrase=…&pbkeylen=16|24|32&latency=…` — the stream id asks the
 * listener for a stream (`#!::r=<name>,m=request` of SRT Access Control, or `read:<name>`) and may be
 * absent for a listener serving one stream. A rejection of the stream itself (wrong passphrase,
 * encryption mismatch, bad or refused stream id, not found, wrong mode) is LIVE_SOURCE_REFUSED;
 * no answer within `timeoutMs` is LIVE_SOURCE_TIMEOUT; once reading, a SHUTDOWN, a peer idle for
 * the SRT peer-idle time or no media for `timeoutMs` ends the connection.
 */
import type { Logger } from 'pino';
import { fail, isStromError } from '../../../errors.js';
import { TsDemuxer, type TsWarningCode } from '../../formats/ts/ts-demuxer.js';
import { srtSettings } from '../../restream/srt-transport.js';
import { avcConfigSize } from '../../rtp/h264-sps.js';
import { callSrt, rejectionOf } from '../../srt/protocol/caller.js';
import type { SrtConnection } from '../../srt/protocol/connection.js';
import type { SourceConnection, SourceConnectOptions, SourceConnector, SourceSink } from '../connector/source-connector.js';
import { maskSourceUrl, redactSource } from '../connector/source-url.js';
import { PulledConnection } from './pulled-connection.js';

/** Rejections of the stream itself (libsrt SRT_REJ_BADSECRET/UNSECURE, SRT_REJX_* 400/401/403/404/405): retrying cannot help. */
const REFUSALS = new Set([1010, 1011, 1400, 1401, 1403, 1404, 1405]);

/** The settings of an srt:// source URL; throws LIVE_SOURCE_BAD_URL (never naming a secret). */
function settingsOf(url: URL) {
  return srtSettings(url, (why) => fail('LIVE_SOURCE_BAD_URL', maskSourceUrl(url.href), why));
}

/** The SRT caller as a pull connector. */
export const srtConnector: SourceConnector = {
  name: 'srt',
  schemes: ['srt'],

  validate(url) {
    settingsOf(url);
  },

  async connect(url: URL, sink: SourceSink, o: SourceConnectOptions): Promise<SourceConnection> {
    const s = settingsOf(url);
    try {
      const { conn } = await callSrt({ ...s, connectTimeoutMs: o.timeoutMs });
      o.log.info({ peer: conn.params.peer, latencyMs: conn.params.rcvLatencyMs }, 'srt source reading');
      return new SrtSourceConnection(conn, sink, o);
    } catch (err) {
      throw sourceError(err, url.href, o.timeoutMs);
    }
  },
};

/** A failed call as a LIVE_SOURCE_* error (no secrets in it). */
function sourceError(err: unknown, raw: string, timeoutMs: number): Error {
  const where = maskSourceUrl(raw);
  const r = rejectionOf(err);
  if (r !== null) return REFUSALS.has(r.code) ? fail('LIVE_SOURCE_REFUSED', where, r.why) : fail('LIVE_SOURCE_UNREACHABLE', where, r.why);
  const message = redactSource(err instanceof Error ? err.message : String(err), raw);
  if (isStromError(err, 'SRT_CONNECT_FAILED')) {
    if (/no answer within/.test(err.message)) return fail('LIVE_SOURCE_TIMEOUT', where, 'SRT handshake', timeoutMs);
    return fail('LIVE_SOURCE_PROTOCOL', where, message);
  }
  return fail('LIVE_SOURCE_UNREACHABLE', where, message); // DNS, a socket that cannot be opened
}

/** One SRT stream being read: TS payloads through the demuxer into the sink. */
class SrtSourceConnection extends PulledConnection {
  private readonly demuxer: TsDemuxer;
  private readonly warned = new Set<TsWarningCode>();

  private readonly log: Logger;

  constructor(private readonly conn: SrtConnection, sink: SourceSink, o: SourceConnectOptions) {
    super(sink);
    const log = (this.log = o.log);
    const maxPending = Math.max(4096, Math.min(16 << 20, o.maxBufferBytes));
    this.demuxer = new TsDemuxer({
      unit: (u) => {
        const size = u.config && u.codec === 'avc' ? avcConfigSize(u.payload) : null;
        if (size !== null) sink.meta(size);
        this.deliver(u);
      },
      warning: (w) => {
        if (this.warned.has(w.code)) return;
        this.warned.add(w.code);
        log.warn({ code: w.code, pid: w.pid }, 'srt source: MPEG-TS problem (logged once per kind)');
      },
    }, { maxPendingBytes: maxPending, maxPesBytes: Math.max(1024, Math.min(8 << 20, maxPending)) });
    conn.onData = (p) => {
      sink.received(p.length);
      this.demuxer.push(p);
    };
    conn.whenClosed((reason) => this.end(`SRT connection closed: ${reason}`));
    this.watchIdle(o.timeoutMs);
  }

  protected release(): void {
    this.conn.onData = null;
    this.conn.close('closed by Strom');
    const c = this.demuxer.counters();
    const r = this.conn.receiver.stats;
    this.log.info({ units: c.units, ccErrors: c.ccErrors, recovered: r.recovered, dropped: r.dropped, undecryptable: this.conn.undecryptable }, 'srt source ended');
  }
}
