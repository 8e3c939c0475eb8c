/**
 * One RTMP connection, server side: handshake, chunk stream, protocol control and the NetConnection
 * / NetStream command state machine (Adobe RTMP 1.0 §5.4, §7.1, §7.2). A session either publishes
 * (`publish` with a stream key → units into the registry) or plays (`play` with a stream id → a
 * reader whose sink writes pre-chunked, shared messages). Every failure ends in `close(reason)`,
 * which logs the reason once and releases the socket, parser, timers and stream attachments.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { isStromError } from '../../errors.js';
import { audioToUnit, scriptToUnit, videoToUnit } from '../formats/flv/flv-tags.js';
import type { Reader } from '../stream/reader.js';
import type { LiveStream, Publisher } from '../stream/stream.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import { decodeAmf0, encodeAmf0, type Amf0Object, type Amf0Value } from './amf0.js';
import { ChunkReader, type RtmpMessage } from './chunk-reader.js';
import { command, MSG, setChunkSize, setPeerBandwidth, userControl, windowAckSize } from './chunk-writer.js';
import { RtmpControl } from './protocol-control.js';
import { sampleAccess, STREAM_ID, writePlayBatch } from './rtmp-playback.js';
import { ServerHandshake } from './handshake.js';

const WINDOW = 5_000_000;
let nextSessionId = 0;

/** An RTMP server session. */
export class RtmpSession implements Publisher {
  readonly id = `rtmp${(++nextSessionId).toString(36)}`;
  readonly remote: string;
  closed = false;
  private handshake: ServerHandshake | null = new ServerHandshake();
  private readonly reader: ChunkReader;
  private readonly log: Logger;
  private readonly chunkSize: number;
  private app = '';
  private stream: LiveStream | null = null;
  private player: Reader | null = null;
  private readonly control: RtmpControl;
  private bytesIn = 0;
  private timer: NodeJS.Timeout | null;
  private starting = false;
  /** A backup publisher (`publish <key>?backup=1`). */
  backup = false;

  constructor(
    private readonly socket: Socket,
    private readonly config: Config,
    private readonly registry: StreamRegistry,
    log: Logger,
    private readonly onClosed: (s: RtmpSession) => void,
  ) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.log = log.child({ sessionId: this.id, remote: this.remote });
    this.chunkSize = config.rtmp.chunkSize;
    this.reader = new ChunkReader({ maxMessageBytes: config.rtmp.maxMessageBytes, maxChunkStreams: config.rtmp.maxChunkStreams }, (m) => this.onMessage(m));
    this.control = new RtmpControl(this.reader, (b) => socket.write(b));
    this.timer = setTimeout(() => this.close('no publish or play before rtmp.handshakeTimeoutMs'), config.rtmp.handshakeTimeoutMs);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 15_000); // notice publishers whose network vanished without a FIN
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('peer closed the connection'));
    socket.on('drain', () => this.player?.resume());
  }

  /** End the session (idempotent); `reason` is logged. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.reader.destroy();
    this.handshake = null;
    if (this.stream) this.registry.stopPublish(this.stream, this, reason);
    this.stream = null;
    this.player?.close(reason);
    this.player = null;
    this.log.info({ reason, bytesIn: this.bytesIn }, 'rtmp session closed');
    if (!this.socket.destroyed) {
      this.socket.end(); // flush a final onStatus, then give the peer 2 s to close its side
      const t = setTimeout(() => this.socket.destroy(), 2000).unref();
      this.socket.once('close', () => clearTimeout(t));
    }
    this.onClosed(this);
  }

  /** Drop the TCP connection now (shutdown after `close`). */
  destroy(): void {
    this.socket.destroy();
  }

  private fail(err: unknown): void {
    const reason = isStromError(err) ? err.message : `internal error: ${(err as Error).message}`;
    if (!isStromError(err)) this.log.error({ err }, 'rtmp session failed');
    this.close(reason);
  }

  private onData(d: Buffer): void {
    if (this.closed) return;
    this.bytesIn += d.length;
    try {
      if (this.handshake) {
        const step = this.handshake.feed(d);
        if (step.reply) this.socket.write(step.reply);
        if (!step.done) return;
        this.handshake = null;
        if (!step.rest) return;
        d = step.rest;
      }
      this.reader.push(d);
      this.control.received(d.length);
    } catch (err) {
      this.fail(err);
    }
  }

  private onMessage(m: RtmpMessage): void {
    if (this.control.handle(m)) return;
    switch (m.typeId) {
      case MSG.COMMAND_AMF0:
      case MSG.COMMAND_AMF3:
        return this.onCommand(decodeAmf0(m.typeId === MSG.COMMAND_AMF3 ? m.payload.subarray(1) : m.payload), m.streamId);
      case MSG.DATA_AMF0:
        return this.onData18(m);
      case MSG.AUDIO:
      case MSG.VIDEO: {
        if (!this.stream) return; // media before publish was accepted: ignored
        const u = m.typeId === MSG.VIDEO ? videoToUnit(m.payload, m.timestamp) : audioToUnit(m.payload, m.timestamp);
        if (u) this.stream.push(u, m.payload.length, this);
        return;
      }
      default:
        return; // AMF3 data, shared objects, aggregates: not needed
    }
  }

  private onData18(m: RtmpMessage): void {
    if (!this.stream) return;
    const values = decodeAmf0(m.payload);
    const [first, second, third] = values;
    const isSetDataFrame = first === '@setDataFrame';
    const name = isSetDataFrame ? second : first;
    const obj = isSetDataFrame ? third : second;
    if (name !== 'onMetaData' || obj === null || typeof obj !== 'object') return;
    const meta = obj as Amf0Object;
    this.stream.setMeta({ ...meta }, this);
    const u = scriptToUnit(encodeAmf0('onMetaData', { ...meta, server: 'Strom' }), m.timestamp);
    this.stream.push(u, m.payload.length, this);
  }

  private send(...values: Amf0Value[]): void {
    this.socket.write(command(0, this.chunkSize, ...values));
  }

  private status(level: 'status' | 'error', code: string, description: string): void {
    this.socket.write(command(STREAM_ID, this.chunkSize, 'onStatus', 0, null, { level, code, description }));
  }

  private onCommand(args: Amf0Value[], _streamId: number): void {
    const [name, txn] = args;
    const tx = typeof txn === 'number' ? txn : 0;
    switch (name) {
      case 'connect': {
        const cmd = (args[2] ?? {}) as Amf0Object;
        this.app = typeof cmd.app === 'string' ? cmd.app.replace(/\/$/, '') : '';
        this.socket.cork();
        this.socket.write(windowAckSize(WINDOW));
        this.control.announced(WINDOW);
        this.socket.write(setPeerBandwidth(WINDOW));
        this.socket.write(setChunkSize(this.chunkSize));
        this.send('_result', tx, { fmsVer: 'FMS/3,0,1,123', capabilities: 31 }, {
          level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding: 0,
        });
        this.socket.uncork();
        return;
      }
      case 'createStream':
        return this.send('_result', tx, null, STREAM_ID);
      case 'releaseStream':
      case 'FCPublish':
        return this.send('_result', tx, null, undefined);
      case 'getStreamLength':
        return this.send('_result', tx, null, 0); // live: no length
      case 'publish':
      case 'play':
        // One role per session: a second publish/play would make the session take over itself.
        if (this.stream || this.player || this.starting) return this.close(`${name} on a session that is already publishing or playing`);
        if (name === 'play') return this.play(typeof args[3] === 'string' ? args[3] : '');
        this.starting = true;
        void this.publish(typeof args[3] === 'string' ? args[3] : '').finally(() => (this.starting = false));
        return;
      case 'FCUnpublish':
      case 'deleteStream':
      case 'closeStream':
        if (this.stream) {
          this.registry.stopPublish(this.stream, this, `publisher sent ${String(name)}`);
          this.stream = null;
        }
        if (this.player) this.close(`player sent ${String(name)}`);
        return;
      default:
        return; // unknown commands (e.g. _checkbw) are ignored, as FMS does
    }
  }

  private async publish(rawName: string): Promise<void> {
    const q = rawName.indexOf('?');
    const key = q < 0 ? rawName : rawName.slice(0, q);
    const flag = q < 0 ? null : new URLSearchParams(rawName.slice(q + 1)).get('backup');
    this.backup = flag === '1' || flag === 'true';
    let target: { streamId: string } | null = null;
    let refusal: string | null = null;
    try {
      target = key === '' ? null : await this.registry.resolveKey(key);
    } catch (err) {
      if (isStromError(err)) refusal = err.message; // the resolver refuses with a reason (an edge takes no ingest)
      else this.log.error({ err }, 'stream key lookup failed');
    }
    if (this.closed) return;
    const reject = (reason: string) => {
      this.registry.events.emit('publish.rejected', { key, remote: this.remote, reason });
      this.status('error', 'NetStream.Publish.BadName', reason);
      this.close(`publish refused: ${reason}`);
    };
    if (this.app !== 'live') return reject(`unknown application ${JSON.stringify(this.app)}, publish to /live/<streamKey>`);
    if (refusal !== null) return reject(refusal);
    if (target === null) return reject('unknown stream key');
    try {
      this.stream = this.registry.startPublish(target.streamId, this);
    } catch (err) {
      return reject(isStromError(err) ? err.message : String(err));
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.log.info({ streamId: target.streamId, backup: this.backup }, 'rtmp publish started');
    this.socket.write(userControl(0, STREAM_ID));
    this.status('status', 'NetStream.Publish.Start', `${target.streamId} is now published.`);
  }

  private play(rawName: string): void {
    const q = rawName.indexOf('?');
    const streamId = q < 0 ? rawName : rawName.slice(0, q);
    const guard = this.registry.playbackGuard;
    if (guard === null) return this.startPlay(streamId);
    // The playback guard reads an HTTP request; RTMP has none, so it gets the fields it uses: the
    // play name's query as the URL query (`rtmp://host/live/<id>?token=…`) and the client socket.
    const req = { method: 'GET', url: `/live/${streamId}${q < 0 ? '' : rawName.slice(q)}`, headers: {}, socket: this.socket } as unknown as IncomingMessage;
    this.starting = true;
    Promise.resolve()
      .then(() => guard(req, streamId))
      .then(() => {
        this.starting = false;
        this.startPlay(streamId);
      }, (err: unknown) => {
        this.status('error', 'NetStream.Play.Failed', isStromError(err) ? err.message : 'playback refused');
        this.close(`play refused: ${isStromError(err) ? err.message : String(err)}`);
      });
  }

  /** Play a stream active here; one live on another node of the cluster is pulled here first. */
  private startPlay(streamId: string): void {
    if (this.registry.active(streamId) !== null) return this.attachPlayer(streamId);
    this.starting = true;
    this.registry.acquire(streamId).then(() => {
      this.starting = false;
      if (!this.closed) this.attachPlayer(streamId); // not found: attachPlayer answers StreamNotFound
    }, (err: unknown) => {
      this.starting = false;
      this.status('error', 'NetStream.Play.Failed', isStromError(err) ? err.message : 'stream unavailable');
      this.close(`play refused: ${isStromError(err) ? err.message : String(err)}`);
    });
  }

  private attachPlayer(streamId: string): void {
    let reader: Reader;
    try {
      reader = this.registry.addReader(streamId, 'rtmp', {
        write: (units) => writePlayBatch(this.socket, units, this.chunkSize),
        close: (reason) => this.close(reason),
      }, { audioCodec: 'aac' /* legacy RTMP players know AAC, not Enhanced-RTMP Opus */ });
    } catch (err) {
      this.status('error', 'NetStream.Play.StreamNotFound', isStromError(err) ? err.message : 'not found');
      return this.close(`play refused: ${streamId} is not live`);
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.player = reader;
    this.socket.cork();
    this.socket.write(userControl(0, STREAM_ID));
    this.status('status', 'NetStream.Play.Reset', `Playing and resetting ${streamId}.`);
    this.status('status', 'NetStream.Play.Start', `Started playing ${streamId}.`);
    this.socket.write(sampleAccess(this.chunkSize));
    this.socket.uncork();
  }
}
