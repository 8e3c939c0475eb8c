/**
 * Pulled HTTP-FLV sources (`http(s)://…/<name>.flv`): one long GET whose body is a live FLV stream
 * (FLV 10.1 Annex E: header, then tags), demuxed and read into hub MediaUnits by the same code as
 * the cluster relay (formats/flv, relay/flv-tag-unit.ts); onMetaData and the AVC sequence header
 * tell the picture size. The connection is accepted once a valid FLV header came (anything else is
 * LIVE_SOURCE_PROTOCOL); a body silent for STALL_MS ends it. Redirects and HTTP status mapping:
 * shared/http-source.ts. FLV carries its own timeline, sent as it is produced: no pacing is needed.
 */
import { fail, isStromError } from '../../../errors.js';
import { FlvDemuxer, type FlvTag } from '../../formats/flv/flv-demuxer.js';
import { flvTagUnit } from '../../relay/flv-tag-unit.js';
import type { Amf0Object } from '../../rtmp/amf0.js';
import type { SourceConnectOptions, SourceConnection, SourceConnector, SourceSink } from '../connector/source-connector.js';
import { maskSourceUrl } from '../connector/source-url.js';
import { discard, httpConnector, SourceHttp } from './shared/http-source.js';
import { PulledConnection } from './pulled-connection.js';
import { metaOf } from './rtmp-source-connection.js';

/** A source that sends nothing this long is dropped (the pull manager reconnects). */
const STALL_MS = 10_000;

/** HTTP-FLV pull. */
export const flvConnector: SourceConnector = httpConnector('flv', '.flv', (url, sink, o) => connectFlv(url, sink, o));

async function connectFlv(url: URL, sink: SourceSink, o: SourceConnectOptions): Promise<SourceConnection> {
  const http = new SourceHttp(url);
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(fail('LIVE_SOURCE_TIMEOUT', maskSourceUrl(url.href), 'the FLV header', o.timeoutMs)), o.timeoutMs);
  let res;
  try {
    res = await http.open(url, { signal: ac.signal, headersTimeoutMs: o.timeoutMs, bodyTimeoutMs: STALL_MS });
  } catch (err) {
    clearTimeout(timer);
    http.close();
    throw err;
  }
  const body = res.body;
  const demux = new FlvDemuxer(o.maxBufferBytes);
  let accepted = false;
  let pending: FlvTag[] = [];
  const conn = new FlvConnection(sink, () => {
    clearTimeout(timer);
    ac.abort();
    discard(body);
    http.close();
  });
  const end = (reason: string, permanent = false) => conn.stop(reason, permanent);
  const header = new Promise<void>((resolve, reject) => {
    body.on('data', (chunk: Buffer) => {
      sink.received(chunk.length);
      let tags: FlvTag[];
      try {
        tags = demux.push(chunk);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        const e = fail('LIVE_SOURCE_PROTOCOL', maskSourceUrl(url.href), why);
        reject(e);
        return end(e.message, !accepted && demux.flags < 0);
      }
      if (demux.flags >= 0) resolve();
      if (!accepted) pending.push(...tags);
      else for (const t of tags) conn.tag(t);
    });
    body.on('end', () => {
      reject(fail('LIVE_SOURCE_PROTOCOL', maskSourceUrl(url.href), 'the response ended before an FLV header'));
      end('source ended');
    });
    body.on('error', (err: Error) => {
      const e = http.error('LIVE_SOURCE_UNREACHABLE', url, err.message);
      reject(ac.signal.aborted && isStromError(ac.signal.reason) ? ac.signal.reason : e);
      end(e.message);
    });
  });
  try {
    await header;
  } catch (err) {
    end('connect failed');
    throw err;
  }
  clearTimeout(timer);
  o.log.info({ url: maskSourceUrl(res.url.href) }, 'FLV source connected');
  setImmediate(() => {
    accepted = true;
    for (const t of pending) conn.tag(t);
    pending = [];
  });
  return conn;
}

/** An open HTTP-FLV response. */
class FlvConnection extends PulledConnection {
  constructor(sink: SourceSink, private readonly cleanup: () => void) {
    super(sink);
  }

  /** End it (idempotent). */
  stop(reason: string, permanent: boolean): void {
    this.end(reason, permanent);
  }

  /** One tag to the sink: its unit, and the metadata it tells. */
  tag(tag: FlvTag): void {
    const read = flvTagUnit(tag);
    if (read === null || this.ended) return;
    const meta = read.meta === null ? {} : metaOf(read.meta as Amf0Object);
    if (Object.keys(meta).length > 0) this.sink.meta(meta);
    this.deliver(read.unit);
  }

  protected release(): void {
    this.cleanup();
  }
}
