/**
 * RTMP and RTMPS pushes (Adobe RTMP 1.0 publish) through Strom's own RTMP client. The URL's path
 * is the application (`rtmp://host/live2` + key, as services list them), or the application plus
 * the stream name as its last segment when no separate key is given; a query is appended to the
 * stream name (as ffmpeg and OBS do). Audio goes out as AAC: legacy RTMP receivers do not know
 * Opus, so a WHIP (Opus) source is bridged. Units are written as the RTMP server's shared chunks.
 */
import { fail } from '../../errors.js';
import { RtmpClient } from '../rtmp/rtmp-client.js';
import type { MediaUnit } from '../stream/media-unit.js';
import type { OutputTarget } from './output-url.js';
import type { ConnectOptions, PushConnection, RestreamTransport } from './transport.js';

/** Application and stream name of an RTMP destination. */
function appAndName(t: OutputTarget): { app: string; name: string } {
  const segments = t.url.pathname.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  const query = t.url.search;
  if (t.streamKey) return { app: segments.join('/'), name: t.streamKey + query };
  const name = segments.pop() ?? '';
  return { app: segments.join('/'), name: name + query };
}

/** The rtmp:// and rtmps:// transport. */
export const rtmpTransport: RestreamTransport = {
  schemes: ['rtmp', 'rtmps'],
  audioCodec: 'aac',

  validate(t) {
    const segments = t.url.pathname.split('/').filter((s) => s !== '');
    const where = `${t.scheme}://${t.url.host}/…`; // a lone path segment may be a key put where the application belongs
    if (segments.length === 0) throw fail('LIVE_OUTPUT_BAD_URL', where, 'no application in the path (expected rtmp://host/app/key, or rtmp://host/app with streamKey)');
    if (!t.streamKey && segments.length === 1) throw fail('LIVE_OUTPUT_BAD_URL', where, 'no stream key: give streamKey or put the key as the last path segment');
  },

  async connect(t: OutputTarget, o: ConnectOptions): Promise<PushConnection> {
    const { app, name } = appAndName(t);
    const secure = t.scheme === 'rtmps';
    const port = t.url.port ? Number(t.url.port) : secure ? 443 : 1935;
    const host = t.url.hostname.replace(/^\[|\]$/g, '');
    const client = await RtmpClient.open({ host, port, app, tls: secure, tcUrl: `${t.scheme}://${t.url.host}/${app}`, chunkSize: o.rtmpChunkSize, timeoutMs: o.timeoutMs });
    let code: string;
    try {
      code = await withTimeout(client.publish(name), o.timeoutMs, 'publish');
    } catch (err) {
      client.destroy();
      throw err;
    }
    if (code !== 'NetStream.Publish.Start') {
      client.destroy();
      throw fail('LIVE_OUTPUT_REFUSED', `publish answered ${code}`);
    }
    return rtmpConnection(client);
  },
};

/** Wrap a publishing client as a push connection. */
function rtmpConnection(client: RtmpClient): PushConnection {
  let reason = 'destination closed the connection';
  client.socket.on('error', (err) => (reason = err.message));
  client.onStatus = (info) => {
    // A status error after publish started (e.g. the stream was kicked): the session is over.
    if (info.level === 'error') {
      reason = `destination: ${String(info.code ?? 'error')}${info.description ? ` (${String(info.description)})` : ''}`;
      client.destroy();
    }
  };
  return {
    write: (units: readonly MediaUnit[]) => client.writeUnits(units),
    onDrain: (fn) => void client.socket.on('drain', fn),
    get bytesSent() {
      return client.bytesSent;
    },
    closed: client.closed.then(() => reason),
    close: () => {
      reason = 'closed by Strom';
      client.destroy();
    },
  };
}

/** `p`, or a rejection naming `what` after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(fail('RTMP_PROTOCOL', `${what} not answered within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
