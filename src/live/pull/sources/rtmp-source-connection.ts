/**
 * A playing RTMP source connection (Adobe RTMP 1.0 §7.2.2.1 play, §7.1.5 audio/video, §7.1.2 data;
 * Enhanced RTMP v2 ExHeaders): what the server sends becomes hub MediaUnits the way an RTMP
 * publisher's messages do (src/live/formats/flv: legacy codec ids and FourCC), `onMetaData`
 * (plain or as `@setDataFrame`) becomes source metadata plus a script-data unit, and the
 * connection ends with a reason when the server says the stream stopped
 * (NetStream.Play.UnpublishNotify, Play.Stop, an error status), closes the connection, sends
 * something it cannot parse, or sends no media for the idle time.
 */
import { decodeAmf0, describeStatus, encodeAmf0, isAmf0Object, type Amf0Object, type Amf0Value } from '../../rtmp/amf0.js';
import type { RtmpMessage } from '../../rtmp/chunk-reader.js';
import { MSG } from '../../rtmp/chunk-writer.js';
import type { RtmpClient } from '../../rtmp/rtmp-client.js';
import { audioToUnit, scriptToUnit, videoToUnit } from '../../formats/flv/flv-tags.js';
import type { SourceMeta, SourceSink } from '../connector/source-connector.js';
import { redactSource } from '../connector/source-url.js';
import { PulledConnection } from './pulled-connection.js';

/** Statuses after play started that mean the stream is over. */
const ENDED = new Set(['NetStream.Play.UnpublishNotify', 'NetStream.Play.Stop', 'NetStream.Play.Complete']);

/** One pulled RTMP stream, wired to its sink before `play` is sent (media may follow Play.Start at once). */
export class RtmpSourceConnection extends PulledConnection {
  private socketError: string | null = null;

  constructor(
    private readonly client: RtmpClient,
    sink: SourceSink,
    private readonly rawUrl: string,
  ) {
    super(sink);
    client.socket.on('data', (d: Buffer) => sink.received(d.length));
    client.socket.on('error', (err) => (this.socketError = redactSource(err.message, rawUrl)));
    void client.closed.then(() => this.end(this.socketError === null ? 'the source closed the connection' : `connection failed: ${this.socketError}`));
    client.onMedia = (m) => this.onMedia(m);
    client.onStatus = (info) => {
      // Statuses other than the one `play` waits for: an end of the stream closes the connection.
      const code = String(info.code ?? '');
      if (ENDED.has(code) || info.level === 'error') this.end(`source: ${code || 'error'} (${redactSource(describeStatus(info), this.rawUrl)})`);
    };
  }

  /** Play started: watch for silence longer than `idleMs`. */
  started(idleMs: number): void {
    this.watchIdle(idleMs);
  }

  protected release(): void {
    this.client.onMedia = null;
    this.client.onStatus = null;
    this.client.destroy();
  }

  private onMedia(m: RtmpMessage): void {
    if (this.ended) return;
    if (m.typeId === MSG.DATA_AMF0) return this.onData(m);
    const u = m.typeId === MSG.VIDEO ? videoToUnit(m.payload, m.timestamp) : audioToUnit(m.payload, m.timestamp);
    if (u !== null) this.deliver(u);
  }

  private onData(m: RtmpMessage): void {
    let values: Amf0Value[];
    try {
      values = decodeAmf0(m.payload);
    } catch {
      return; // broken script data is not worth the stream
    }
    const setDataFrame = values[0] === '@setDataFrame';
    const name = setDataFrame ? values[1] : values[0];
    const obj = setDataFrame ? values[2] : values[1];
    if (name !== 'onMetaData' || !isAmf0Object(obj)) return;
    const meta = metaOf(obj);
    if (Object.keys(meta).length > 0) this.sink.meta(meta);
    this.deliver(scriptToUnit(encodeAmf0('onMetaData', obj), m.timestamp));
  }
}

/** Picture size and frame rate from an onMetaData object (FLV 10.1 §E.5). */
export function metaOf(o: Amf0Object): SourceMeta {
  const num = (v: Amf0Value | undefined) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);
  const out: SourceMeta = {};
  const width = num(o.width);
  const height = num(o.height);
  const framerate = num(o.framerate) ?? num(o.videoframerate);
  if (width !== undefined && height !== undefined) {
    out.width = Math.round(width);
    out.height = Math.round(height);
  }
  if (framerate !== undefined) out.framerate = framerate;
  return out;
}
