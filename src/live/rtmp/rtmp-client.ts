/**
 * A minimal RTMP client (Adobe RTMP 1.0 §7.2): handshake, connect, createStream, then publish or
 * play. Strom uses it where no external client fits: the bench publisher that records when each
 * frame was sent, and tests that need exact control of what is sent (fuzzing, slow readers).
 */
import net from 'node:net';
import { fail } from '../../errors.js';
import { decodeAmf0, encodeAmf0, type Amf0Object, type Amf0Value } from './amf0.js';
import { ChunkReader, type RtmpMessage } from './chunk-reader.js';
import { chunkMessage, command, CSID, MSG, setChunkSize } from './chunk-writer.js';
import { clientHello, HANDSHAKE_SIZE } from './handshake.js';

const CHUNK = 4096;

/** A connected RTMP client. */
export class RtmpClient {
  private readonly reader: ChunkReader;
  private txn = 1;
  private readonly pending = new Map<number, (args: Amf0Value[]) => void>();
  private statusWaiter: ((info: Amf0Object) => void) | null = null;
  private streamId = 0;
  /** Called for every audio/video/data message received while playing. */
  onMedia: ((m: RtmpMessage) => void) | null = null;
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    this.reader = new ChunkReader({ maxMessageBytes: 16 * 1024 * 1024, maxChunkStreams: 64 }, (m) => this.onMessage(m));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
  }

  /** Connect to `rtmp://host:port/app`, do the handshake and the `connect` command. */
  static async connect(host: string, port: number, app: string): Promise<RtmpClient> {
    const socket = net.connect(port, host);
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c1 = clientHello();
    socket.write(c1);
    let buf = Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length < 1 + 2 * HANDSHAKE_SIZE) return;
        socket.off('data', onData);
        socket.write(buf.subarray(1, 1 + HANDSHAKE_SIZE)); // C2 = echo of S1
        resolve();
      };
      socket.on('data', onData);
      socket.once('close', () => reject(fail('RTMP_PROTOCOL', 'closed during handshake')));
    });
    const client = new RtmpClient(socket);
    const rest = buf.subarray(1 + 2 * HANDSHAKE_SIZE);
    socket.on('data', (d: Buffer) => client.reader.push(d));
    if (rest.length > 0) client.reader.push(rest);
    socket.write(setChunkSize(CHUNK));
    await client.call('connect', { app, tcUrl: `rtmp://${host}:${port}/${app}`, flashVer: 'FMLE/3.0', type: 'nonprivate' });
    return client;
  }

  /** Send a command and wait for its `_result`/`_error`. */
  call(name: string, ...args: Amf0Value[]): Promise<Amf0Value[]> {
    const tx = this.txn++;
    return new Promise((resolve) => {
      this.pending.set(tx, resolve);
      this.socket.write(command(0, CHUNK, name, tx, ...args));
    });
  }

  /** createStream + publish; resolves with the onStatus code (NetStream.Publish.Start on success). */
  async publish(key: string): Promise<string> {
    const res = await this.call('createStream', null);
    this.streamId = typeof res[3] === 'number' ? res[3] : 1;
    const status = this.nextStatus();
    this.socket.write(command(this.streamId, CHUNK, 'publish', 0, null, key, 'live'));
    return String((await status).code);
  }

  /** createStream + play; media arrives through `onMedia`. Resolves with the first onStatus code. */
  async play(name: string): Promise<string> {
    const res = await this.call('createStream', null);
    this.streamId = typeof res[3] === 'number' ? res[3] : 1;
    const status = this.nextStatus();
    this.socket.write(command(this.streamId, CHUNK, 'play', 0, null, name, -1000));
    return String((await status).code);
  }

  /** Send one audio (8), video (9) or data (18) message; returns the socket's write result. */
  send(typeId: number, timestamp: number, body: Buffer): boolean {
    const csid = typeId === MSG.VIDEO ? CSID.VIDEO : typeId === MSG.AUDIO ? CSID.AUDIO : CSID.DATA;
    return this.socket.write(chunkMessage(csid, typeId, this.streamId, timestamp, body, CHUNK));
  }

  /** Send `@setDataFrame onMetaData`. */
  sendMetadata(meta: Amf0Object): void {
    this.send(MSG.DATA_AMF0, 0, encodeAmf0('@setDataFrame', 'onMetaData', meta));
  }

  /** Close the connection at once. */
  destroy(): void {
    this.reader.destroy();
    this.socket.destroy();
  }

  private nextStatus(): Promise<Amf0Object> {
    return new Promise((resolve) => {
      this.statusWaiter = resolve;
    });
  }

  private onMessage(m: RtmpMessage): void {
    if (m.typeId === MSG.SET_CHUNK_SIZE) this.reader.chunkSize = m.payload.readUInt32BE(0) & 0x7fffffff;
    else if (m.typeId === MSG.COMMAND_AMF0) {
      const args = decodeAmf0(m.payload);
      const [name, tx] = args;
      if ((name === '_result' || name === '_error') && typeof tx === 'number') {
        this.pending.get(tx)?.(args);
        this.pending.delete(tx);
      } else if (name === 'onStatus' && this.statusWaiter) {
        const w = this.statusWaiter;
        this.statusWaiter = null;
        w((args[3] ?? {}) as Amf0Object);
      }
    } else if (m.typeId === MSG.AUDIO || m.typeId === MSG.VIDEO || m.typeId === MSG.DATA_AMF0) this.onMedia?.(m);
  }
}
