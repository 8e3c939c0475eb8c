/**
 * rtmp:// and rtmps:// sources: Strom's RTMP client (src/live/rtmp/rtmp-client.ts) plays a stream
 * from another server (Adobe RTMP 1.0 §5.2 handshake, §7.2.1.1 connect, §7.2.1.3 createStream,
 * §7.2.2.1 play, §7.1.7 SetBufferLength; TLS for rtmps). The URL is
 * `rtmp://host[:port]/app[/instance]/streamName[?query]`: the application is the first path
 * segment, the stream name the rest, with the query kept on the stream name (servers read tokens
 * there). A refused connect or play (NetConnection.Connect.Rejected, NetStream.Play.StreamNotFound,
 * any error status) is LIVE_SOURCE_REFUSED; no Play.Start within `timeoutMs` is LIVE_SOURCE_TIMEOUT;
 * once playing, a source that sends no media for `timeoutMs` is closed.
 */
import { fail, isStromError } from '../../../errors.js';
import { describeStatus } from '../../rtmp/amf0.js';
import { RtmpClient } from '../../rtmp/rtmp-client.js';
import type { SourceConnection, SourceConnectOptions, SourceConnector, SourceSink } from '../connector/source-connector.js';
import { maskSourceUrl, redactSource } from '../connector/source-url.js';
import { RtmpSourceConnection } from './rtmp-source-connection.js';

/** How long the server is asked to buffer before playing (SetBufferLength): a live player's small buffer. */
const BUFFER_MS = 500;
/** flashVer a player sends (servers tell players from publishers by it). */
const FLASH_VER = 'LNX 9,0,124,2';
/** Largest message accepted, whatever `maxBufferBytes` says: the RTMP length field is 24 bits. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Socket errors that mean the server cannot be reached (worth retrying). */
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED']);

/** Where an rtmp:// URL points. */
interface RtmpSourceTarget {
  host: string;
  port: number;
  secure: boolean;
  app: string;
  /** Stream name with the URL's query. */
  name: string;
  tcUrl: string;
}

/** The target of `url`; throws LIVE_SOURCE_BAD_URL. */
function targetOf(url: URL): RtmpSourceTarget {
  const secure = url.protocol.toLowerCase() === 'rtmps:';
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const bad = (why: string) => fail('LIVE_SOURCE_BAD_URL', maskSourceUrl(url.href), why);
  if (segments.length < 2) throw bad('expected rtmp://host[:port]/app/streamName (an application and a stream name)');
  let decoded: string[];
  try {
    decoded = segments.map((s) => decodeURIComponent(s));
  } catch {
    throw bad('the path is not valid percent-encoding');
  }
  const port = url.port ? Number(url.port) : secure ? 443 : 1935;
  const app = decoded[0]!;
  const portText = url.port ? `:${url.port}` : '';
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''), port, secure, app, name: decoded.slice(1).join('/') + url.search,
    tcUrl: `${secure ? 'rtmps' : 'rtmp'}://${url.hostname}${portText}/${segments[0]!}`,
  };
}

/** The RTMP play client as a pull connector. */
export const rtmpConnector: SourceConnector = {
  name: 'rtmp',
  schemes: ['rtmp', 'rtmps'],

  validate(url) {
    targetOf(url);
  },

  async connect(url: URL, sink: SourceSink, o: SourceConnectOptions): Promise<SourceConnection> {
    const t = targetOf(url);
    const where = maskSourceUrl(url.href);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(fail('LIVE_SOURCE_TIMEOUT', where, 'RTMP play start', o.timeoutMs)), o.timeoutMs);
    let client: RtmpClient | null = null;
    try {
      client = await RtmpClient.dial({
        host: t.host, port: t.port, app: t.app, tls: t.secure, tcUrl: t.tcUrl, signal: ac.signal, flashVer: FLASH_VER,
        maxMessageBytes: Math.min(MAX_MESSAGE_BYTES, o.maxBufferBytes),
      });
      const res = await client.connectApp({ host: t.host, port: t.port, app: t.app, tcUrl: t.tcUrl, flashVer: FLASH_VER });
      if (res[0] !== '_result') throw fail('LIVE_SOURCE_REFUSED', where, `connect answered ${redactSource(describeStatus(res[3]), url.href)}`);
      const conn = new RtmpSourceConnection(client, sink, url.href);
      const status = await client.playStatus(t.name, BUFFER_MS);
      const code = String(status.code ?? '');
      if (code === 'NetConnection.Connect.Closed') throw fail('LIVE_SOURCE_UNREACHABLE', where, 'the server closed the connection before play started');
      if (status.level === 'error') throw fail('LIVE_SOURCE_REFUSED', where, `play answered ${code} (${redactSource(describeStatus(status), url.href)})`);
      conn.started(o.timeoutMs);
      o.log.info({ app: t.app, status: code }, 'rtmp source playing');
      return conn;
    } catch (err) {
      client?.destroy();
      throw ac.signal.aborted ? (ac.signal.reason as Error) : sourceError(err, url.href);
    } finally {
      clearTimeout(timer);
    }
  },
};

/** A failure while connecting as a LIVE_SOURCE_* error (no secrets in it). */
function sourceError(err: unknown, raw: string): Error {
  const where = maskSourceUrl(raw);
  if (isStromError(err) && err.code.startsWith('LIVE_SOURCE_')) return err;
  const message = redactSource(err instanceof Error ? err.message : String(err), raw);
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (NETWORK.has(code)) return fail('LIVE_SOURCE_UNREACHABLE', where, message);
  if (/CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_VERIFY/.test(code)) return fail('LIVE_SOURCE_REFUSED', where, `TLS certificate not accepted: ${message}`);
  if (isStromError(err, 'RTMP_PROTOCOL') && / closed /.test(` ${err.message} `)) return fail('LIVE_SOURCE_UNREACHABLE', where, message);
  return fail('LIVE_SOURCE_PROTOCOL', where, message);
}
