/**
 * A minimal RTMP client (Adobe RTMP 1.0 §7.2): handshake, connect, createStream, then publish or
 * play, over TCP or TLS (rtmps). Strom uses it to push live streams to other servers
 * (src/live/restream), for the bench publisher that records when each frame was sent, and in tests
 * that need exact control of what is sent (fuzzing, slow readers).
 */
import net from 'node:net';
import tls from 'node:tls';
import { fail } from '../../errors.js';
import { decodeAmf0, encodeAmf0, type Amf0Object, type Amf0Value } from './amf0.js';
import { ChunkReader, type RtmpMessage } from './chunk-reader.js';
import { chunkMessage, command, CSID, MSG, setChunkSize, userControl } from './chunk-writer.js';
import { clientHello, HANDSHAKE_SIZE } from './handshake.js';
import type { MediaUnit } from '../stream/media-unit.js';
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
}

/** A connected RTMP client. */
export class RtmpClient {
  private readonly reader: ChunkReader;
  private txn = 1;
  private readonly pending = new Map<number, (args: Amf0Value[]) => void>();
  private statusWaiter: ((info: Amf0Object) => void) | null = null;
  private streamId = 0;
  /** Called for every audio/video/data message received while playing. */
  onMedia: ((m: RtmpMessage) => void) | null = null;
  /** Called for every onStatus after the one `publish`/`play` waits for (errors the server reports later). */
  onStatus: ((info: Amf0Object) => void) | null = null;
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket, private readonly chunk: number) {
    this.reader = new ChunkReader({ maxMessageBytes: 16 * 1024 * 1024, maxChunkStreams: 64 }, (m) => this.onMessage(m));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
  }

  /** Connect to `rtmp://host:port/app`, do the handshake and the `connect` command. */
  static connect(host: string, port: number, app: string): Promise<RtmpClient> {
    return RtmpClient.open({ host, port, app });
  }

  /** Connect to `target` (TLS for rtmps), do the handshake and the `connect` command; rejects on refusal, close or timeout. */
  static async open(t: RtmpTarget): Promise<RtmpClient> {
    const socket = t.tls ? tls.connect({ host: t.host, port: t.port, servername: net.isIP(t.host) ? undefined : t.host }) : net.connect(t.port, t.host);
    socket.setNoDelay(true);
    const timer = t.timeoutMs ? setTimeout(() => socket.destroy(fail('RTMP_PROTOCOL', `no answer within ${t.timeoutMs} ms`)), t.timeoutMs) : null;
    try {
      const rest = await handshake(socket, t.tls === true);
      const client = new RtmpClient(socket, t.chunkSize ?? CHUNK);
      socket.on('data', (d: Buffer) => client.receive(d));
      if (rest.length > 0) client.receive(rest);
      socket.write(setChunkSize(client.chunk));
      const res = await client.call('connect', { app: t.app, tcUrl: t.tcUrl ?? `rtmp://${t.host}:${t.port}/${t.app}`, flashVer: 'FMLE/3.0', type: 'nonprivate' });
      if (res[0] !== '_result') {
        client.destroy();
        throw fail('RTMP_PROTOCOL', `connect refused: ${describe(res[3])}`);
      }
      return client;
    } catch (err) {
      socket.destroy();
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
    }
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
    const status = this.nextStatus();
    this.socket.write(command(this.streamId, this.chunk, 'publish', 0, null, key, 'live'));
    const info = await Promise.race([status, this.closed.then(() => ({ code: 'NetConnection.Connect.Closed' }) as Amf0Object)]);
    return String(info.code);
  }

  /** createStream + play; media arrives through `onMedia`. Resolves with the first onStatus code. */
  async play(name: string): Promise<string> {
    const res = await this.call('createStream', null);
    this.streamId = typeof res[3] === 'number' ? res[3] : 1;
    const status = this.nextStatus();
    this.socket.write(command(this.streamId, this.chunk, 'play', 0, null, name, -1000));
    return String((await status).code);
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
    } catch (err) {
      this.socket.destroy(err as Error); // a malformed answer ends the connection, never the process
    }
  }

  private nextStatus(): Promise<Amf0Object> {
    return new Promise((resolve) => {
      this.statusWaiter = resolve;
    });
  }

  private onMessage(m: RtmpMessage): void {
    if (m.typeId === MSG.SET_CHUNK_SIZE) this.reader.chunkSize = m.payload.readUInt32BE(0) & 0x7fffffff;
    else if (m.typeId === MSG.USER_CONTROL && m.payload.length >= 6 && m.payload.readUInt16BE(0) === 6) {
      this.socket.write(userControl(7, m.payload.readUInt32BE(2))); // PingResponse (§7.1.7): servers drop peers that ignore pings
    } else if (m.typeId === MSG.COMMAND_AMF0) {
      const args = decodeAmf0(m.payload);
      const [name, tx] = args;
      if ((name === '_result' || name === '_error') && typeof tx === 'number') {
        this.pending.get(tx)?.(args);
        this.pending.delete(tx);
      } else if (name === 'onStatus') {
        const info = (args[3] ?? {}) as Amf0Object;
        const w = this.statusWaiter;
        this.statusWaiter = null;
        if (w) w(info);
        else this.onStatus?.(info);
      }
    } else if (m.typeId === MSG.AUDIO || m.typeId === MSG.VIDEO || m.typeId === MSG.DATA_AMF0) this.onMedia?.(m);
  }
}

/** `@setDataFrame` in AMF0, put before a stored `onMetaData` body when publishing it. */
const SET_DATA_FRAME = encodeAmf0('@setDataFrame');

/** Client side of the handshake (§5.2): C0+C1, wait for S0+S1+S2, send C2; resolves with bytes read past S2. */
function handshake(socket: net.Socket, secure: boolean): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 1 + 2 * HANDSHAKE_SIZE) return;
      socket.off('data', onData);
      socket.write(buf.subarray(1, 1 + HANDSHAKE_SIZE)); // C2 = echo of S1
      resolve(buf.subarray(1 + 2 * HANDSHAKE_SIZE));
    };
    socket.once(secure ? 'secureConnect' : 'connect', () => socket.write(clientHello()));
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(fail('RTMP_PROTOCOL', 'closed during handshake')));
  });
}

/** The description (or code) of an `_error`/status object, for messages. */
function describe(v: Amf0Value | undefined): string {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) {
    const o = v as Amf0Object;
    return String(o.description ?? o.code ?? 'no reason given');
  }
  return 'no reason given';
}
