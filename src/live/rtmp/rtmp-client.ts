/**
 * A minimal RTMP client (Adobe RTMP 1.0 §7.2): handshake, connect, createStream, then publish or
 * play, over TCP or TLS (rtmps), with the protocol control a long-lived connection needs (chunk
 * size, acknowledgement windows, pings: protocol-control.ts). Strom uses it to push live streams
 * to other servers (src/live/restream), to pull rtmp:// sources (play), for the bench publisher
 * that records when each frame was sent, and in tests that need exact control of what is sent.
 */
import net from 'node:net';
import tls from 'node:tls';
import { fail } from '../../errors.js';
import { decodeAmf0, describeStatus, encodeAmf0, isAmf0Object, type Amf0Object, type Amf0Value } from './amf0.js';
import { ChunkReader, splitAggregate, type RtmpMessage } from './chunk-reader.js';
import { chunkMessage, command, CSID, MSG, setBufferLength, setChunkSize } from './chunk-writer.js';
import { clientHandshake } from './handshake.js';
import type { MediaUnit } from '../stream/media-unit.js';
import { RtmpControl } from './protocol-control.js';
import { rtmpChunksOf, STREAM_ID } from './rtmp-playback.js';

const CHUNK = 4096;

/** Where and how to connect: `tcUrl` is what the server sees as the connect URL. */
export interface RtmpTarget {
  host: string;
  port: number;
  app: string;
  tls?: boolean;
  tcUrl?: string;
  /** Chunk size this client sends with (default 4096); equal to `rtmp.chunkSize`, units' shared chunks are reused. */
  chunkSize?: number;
  /** Give up connecting (TCP/TLS, handshake and `connect`) after this long. */
  timeoutMs?: number;
  /** Aborting it destroys the connection (while connecting or later) with the signal's reason. */
  signal?: AbortSignal;
  /** Largest message accepted from the server (RTMP_LIMIT above it); default 16 MiB. */
  maxMessageBytes?: number;
  /** `flashVer` of the connect command; default `FMLE/3.0` (what encoders send). */
  flashVer?: string;
}

/** The onStatus a `play` or `publish` waits for, and which later ones go to `onStatus`. */
interface StatusWaiter {
  decides: (info: Amf0Object) => boolean;
  resolve: (info: Amf0Object) => void;
}

/** A connected RTMP client. */
export class RtmpClient {
  private readonly reader: ChunkReader;
  private txn = 1;
  private readonly pending = new Map<number, (args: Amf0Value[]) => void>();
  private statusWaiter: StatusWaiter | null = null;
  private readonly control: RtmpControl;
  private streamId = 0;
  /** Called for every audio/video/data message received while playing (those of Aggregate messages one by one). */
  onMedia: ((m: RtmpMessage) => void) | null = null;
  /** Called for every onStatus after the one `publish`/`play` waits for (errors the server reports later). */
  onStatus: ((info: Amf0Object) => void) | null = null;
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket, private readonly chunk: number, maxMessageBytes: number) {
    this.reader = new ChunkReader({ maxMessageBytes, maxChunkStreams: 64 }, (m) => this.onMessage(m));
    this.control = new RtmpControl(this.reader, (b) => socket.write(b));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
  }

  /** Connect to `rtmp://host:port/app`, do the handshake and the `connect` command. */
  static connect(host: string, port: number, app: string): Promise<RtmpClient> {
    return RtmpClient.open({ host, port, app });
  }

  /** Connect to `target` (TLS for rtmps), do the handshake and the `connect` command; rejects on refusal, close or timeout. */
  static async open(t: RtmpTarget): Promise<RtmpClient> {
    const ac = new AbortController();
    const timer = t.timeoutMs ? setTimeout(() => ac.abort(fail('RTMP_PROTOCOL', `no answer within ${t.timeoutMs} ms`)), t.timeoutMs) : null;
    try {
      const client = await RtmpClient.dial({ ...t, signal: t.signal ? AbortSignal.any([t.signal, ac.signal]) : ac.signal });
      const res = await client.connectApp(t);
      if (res[0] !== '_result') {
        client.destroy();
        throw fail('RTMP_PROTOCOL', `connect refused: ${describeStatus(res[3])}`);
      }
      return client;
    } catch (err) {
      throw ac.signal.aborted ? ac.signal.reason : err;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** TCP/TLS connection and handshake (§5.2) to `t`, without the connect command; rejects on a socket error, close or abort. */
  static async dial(t: RtmpTarget): Promise<RtmpClient> {
    t.signal?.throwIfAborted();
    const socket = t.tls ? tls.connect({ host: t.host, port: t.port, servername: net.isIP(t.host) ? undefined : t.host }) : net.connect(t.port, t.host);
    socket.setNoDelay(true);
    const signal = t.signal;
    const abort = () => socket.destroy(signal?.reason as Error);
    signal?.addEventListener('abort', abort, { once: true });
    socket.once('close', () => signal?.removeEventListener('abort', abort));
    try {
      const rest = await clientHandshake(socket, t.tls === true);
      const client = new RtmpClient(socket, t.chunkSize ?? CHUNK, t.maxMessageBytes ?? 16 * 1024 * 1024);
      socket.on('data', (d: Buffer) => client.receive(d));
      if (rest.length > 0) client.receive(rest);
      return client;
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  /** The connect command (§7.2.1.1); resolves with the server's answer (`_result` or `_error`, then the properties and information objects). */
  connectApp(t: RtmpTarget): Promise<Amf0Value[]> {
    this.socket.write(setChunkSize(this.chunk));
    const tcUrl = t.tcUrl ?? `rtmp://${t.host}:${t.port}/${t.app}`;
    return this.call('connect', { app: t.app, tcUrl, flashVer: t.flashVer ?? 'FMLE/3.0', type: 'nonprivate' });
  }

  /** Bytes written to the socket so far. */
  get bytesSent(): number {
    return this.socket.bytesWritten;
  }

  /** Send a command and wait for its `_result`/`_error`; rejects when the connection closes first. */
  call(name: string, ...args: Amf0Value[]): Promise<Amf0Value[]> {
    const tx = this.txn++;
    const answered = new Promise<Amf0Value[]>((resolve) => {
      this.pending.set(tx, resolve);
      this.socket.write(command(0, this.chunk, name, tx, ...args));
    });
    return Promise.race([answered, this.closed.then(() => Promise.reject(fail('RTMP_PROTOCOL', `connection closed before ${name} was answered`)))]);
  }

  /** createStream + publish; resolves with the onStatus code (NetStream.Publish.Start on success). */
  async publish(key: string): Promise<string> {
    // releaseStream/FCPublish as OBS and ffmpeg send them: some services (Twitch, YouTube) wait for them.
    this.socket.write(command(0, this.chunk, 'releaseStream', this.txn++, null, key));
    this.socket.write(command(0, this.chunk, 'FCPublish', this.txn++, null, key));
    const res = await this.call('createStream', null);
    this.streamId = typeof res[3] === 'number' ? res[3] : 1;
    const status = this.nextStatus(() => true);
    this.socket.write(command(this.streamId, this.chunk, 'publish', 0, null, key, 'live'));
    const info = await Promise.race([status, this.closed.then(() => ({ code: 'NetConnection.Connect.Closed' }) as Amf0Object)]);
    return String(info.code);
  }

  /** createStream + play; media arrives through `onMedia`. Resolves with the code of the status that decides (see playStatus). */
  async play(name: string): Promise<string> {
    return String((await this.playStatus(name)).code);
  }

  /**
   * createStream + play of a live stream (§7.2.2.1) and SetBufferLength (§7.1.7). Resolves with
   * the status that decides: NetStream.Play.Start or .Reset, an error-level status (StreamNotFound,
   * Failed…; a refused createStream as NetStream.CreateStream.Failed), or NetConnection.Connect.Closed.
   * Other statuses before it and every later one go to `onStatus`, media to `onMedia`.
   */
  async playStatus(name: string, bufferMs = 0): Promise<Amf0Object> {
    const res = await this.call('createStream', null);
    if (res[0] !== '_result') return { level: 'error', code: 'NetStream.CreateStream.Failed', description: describeStatus(res[3]) };
    this.streamId = typeof res[3] === 'number' ? res[3] : 1;
    const status = this.nextStatus((i) => i.level === 'error' || i.code === 'NetStream.Play.Start' || i.code === 'NetStream.Play.Reset');
    this.socket.cork();
    this.socket.write(command(this.streamId, this.chunk, 'play', 0, null, name, -1000));
    this.socket.write(setBufferLength(this.streamId, bufferMs));
    this.socket.uncork();
    return Promise.race([status, this.closed.then((): Amf0Object => ({ level: 'error', code: 'NetConnection.Connect.Closed', description: 'the server closed the connection' }))]);
  }

  /** Send one audio (8), video (9) or data (18) message; returns the socket's write result. */
  send(typeId: number, timestamp: number, body: Buffer): boolean {
    const csid = typeId === MSG.VIDEO ? CSID.VIDEO : typeId === MSG.AUDIO ? CSID.AUDIO : CSID.DATA;
    return this.socket.write(chunkMessage(csid, typeId, this.streamId, timestamp, body, this.chunk));
  }

  /** Send `@setDataFrame onMetaData`. */
  sendMetadata(meta: Amf0Object): void {
    this.send(MSG.DATA_AMF0, 0, encodeAmf0('@setDataFrame', 'onMetaData', meta));
  }

  /**
   * Publish a batch of live units as one corked write; false when the socket is backed up (wait
   * for its 'drain'). Media chunks are the stream's shared ones when this client's stream id and
   * chunk size match the server's; script data goes out as `@setDataFrame` (what publishers send).
   */
  writeUnits(units: readonly MediaUnit[]): boolean {
    const shared = this.streamId === STREAM_ID;
    this.socket.cork();
    for (const u of units) {
      if (u.kind === 'data') this.send(MSG.DATA_AMF0, u.dts, Buffer.concat([SET_DATA_FRAME, u.body]));
      else if (shared) this.socket.write(rtmpChunksOf(u, this.chunk));
      else this.send(u.kind === 'video' ? MSG.VIDEO : MSG.AUDIO, u.dts, u.body);
    }
    this.socket.uncork();
    return !this.socket.writableNeedDrain;
  }

  /** Close the connection at once. */
  destroy(): void {
    this.reader.destroy();
    this.socket.destroy();
  }

  private receive(d: Buffer): void {
    try {
      this.reader.push(d);
      this.control.received(d.length);
    } catch (err) {
      this.socket.destroy(err as Error); // a malformed answer ends the connection, never the process
    }
  }

  private nextStatus(decides: (info: Amf0Object) => boolean): Promise<Amf0Object> {
    return new Promise((resolve) => {
      this.statusWaiter = { decides, resolve };
    });
  }

  private onMessage(m: RtmpMessage): void {
    if (this.control.handle(m)) return;
    if (m.typeId === MSG.COMMAND_AMF0 || m.typeId === MSG.COMMAND_AMF3) {
      const args = decodeAmf0(m.typeId === MSG.COMMAND_AMF3 ? m.payload.subarray(1) : m.payload);
      const [name, tx] = args;
      if ((name === '_result' || name === '_error') && typeof tx === 'number') {
        this.pending.get(tx)?.(args);
        this.pending.delete(tx);
      } else if (name === 'onStatus') {
        const info = isAmf0Object(args[3]) ? args[3] : {};
        const w = this.statusWaiter;
        if (w !== null && w.decides(info)) {
          this.statusWaiter = null;
          w.resolve(info);
        } else this.onStatus?.(info);
      }
    } else if (m.typeId === MSG.AGGREGATE) {
      for (const sub of splitAggregate(m)) if (isMedia(sub.typeId)) this.onMedia?.(sub);
    } else if (isMedia(m.typeId)) this.onMedia?.(m);
  }
}

/** `@setDataFrame` in AMF0, put before a stored `onMetaData` body when publishing it. */
const SET_DATA_FRAME = encodeAmf0('@setDataFrame');

/** Audio, video and script data messages: what a player hands on. */
function isMedia(typeId: number): boolean {
  return typeId === MSG.AUDIO || typeId === MSG.VIDEO || typeId === MSG.DATA_AMF0;
}
