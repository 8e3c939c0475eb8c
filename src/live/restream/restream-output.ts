/**
 * One running restreaming output: connect, attach a `restream` reader to the live stream, push,
 * and on any failure reconnect with exponential backoff (1 s doubling to 30 s) while the stream is
 * live here. A backed-up destination blocks the reader (it queues within its bounds, then skips
 * to keyframes, then is disconnected as too slow — which counts as a failure). The backoff starts
 * over only after a connection stayed up for the longest delay, so a destination that accepts and
 * drops at once is retried slowly. A destination that refuses the stream itself (bad key)
 * `maxRefusals` times in a row is `failed` and left alone until the output changes or the stream
 * is published again. Destination errors are redacted before they are kept or logged.
 */
import type { Logger } from 'pino';
import { isStromError } from '../../errors.js';
import type { Reader } from '../stream/reader.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import type { OutputTarget } from './output-url.js';
import { redact } from './output-url.js';
import type { ConnectOptions, PushConnection, RestreamTransport } from './transport.js';

/** Where an output stands. */
export type OutputState = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'failed';

/** The runtime figures the API shows. */
export interface OutputStatus {
  state: OutputState;
  lastError: string | null;
  bytesSent: number;
  connectedAt: string | null;
  reconnects: number;
}

/** Backoff bounds and connect tuning. */
export interface OutputTuning extends ConnectOptions {
  minBackoffMs: number;
  maxBackoffMs: number;
  /** Consecutive refusals (LIVE_OUTPUT_REFUSED) before giving up. */
  maxRefusals: number;
}

/** What an output reports to its owner. */
export interface OutputHooks {
  /** The state changed (for events, metrics and logs); `reason` explains failures. */
  onState(o: RestreamOutput, reason: string | null): void;
}

/** The push of one live stream to one destination. */
export class RestreamOutput {
  state: OutputState = 'idle';
  lastError: string | null = null;
  reconnects = 0;
  connectedAt: number | null = null;
  /** Bytes of connections that already ended. */
  private sentBefore = 0;
  private conn: PushConnection | null = null;
  private reader: Reader | null = null;
  private timer: NodeJS.Timeout | null = null;
  private delayMs: number;
  private refusals = 0;
  /** Bumped by every start/stop: a connect that finishes after it was superseded is dropped. */
  private generation = 0;

  constructor(
    readonly streamId: string,
    readonly outputId: string,
    /** Identifies the destination (URL + key): a changed destination restarts the output. */
    readonly fingerprint: string,
    private readonly target: OutputTarget,
    private readonly transport: RestreamTransport,
    private readonly secrets: readonly string[],
    private readonly registry: StreamRegistry,
    private readonly tuning: OutputTuning,
    private readonly hooks: OutputHooks,
    private readonly log: Logger,
  ) {
    this.delayMs = tuning.minBackoffMs;
  }

  /** Bytes sent to the destination over every connection of this output. */
  get bytesSent(): number {
    return this.sentBefore + (this.conn?.bytesSent ?? 0);
  }

  /** The API's view. */
  status(): OutputStatus {
    return { state: this.state, lastError: this.lastError, bytesSent: this.bytesSent, connectedAt: this.connectedAt === null ? null : new Date(this.connectedAt).toISOString(), reconnects: this.reconnects };
  }

  /** Start pushing (the stream is live here); a no-op while already running. */
  start(): void {
    if (this.state !== 'idle' && this.state !== 'failed') return;
    this.delayMs = this.tuning.minBackoffMs;
    this.refusals = 0;
    void this.attempt('connecting');
  }

  /** Stop pushing and go idle (stream ended, output disabled or deleted, shutdown). */
  stop(reason: string): void {
    if (this.state !== 'idle') this.log.info({ reason: redact(reason, this.secrets) }, 'restream output stopped');
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.disconnect(reason);
    this.setState('idle', null);
  }

  private async attempt(state: 'connecting' | 'reconnecting'): Promise<void> {
    const gen = ++this.generation;
    this.timer = null;
    this.setState(state, null);
    let conn: PushConnection;
    try {
      conn = await this.transport.connect(this.target, this.tuning);
    } catch (err) {
      if (gen !== this.generation) return;
      this.refusals = isStromError(err, 'LIVE_OUTPUT_REFUSED') ? this.refusals + 1 : 0;
      return this.fail(errorText(err));
    }
    if (gen !== this.generation) return conn.close(); // stopped or restarted meanwhile
    this.conn = conn;
    try {
      this.reader = this.registry.addReader(this.streamId, 'restream', {
        write: (units) => conn.write(units),
        close: (reason) => this.readerClosed(gen, reason),
      }, { audioCodec: this.transport.audioCodec });
    } catch (err) {
      return this.stop(errorText(err)); // the stream ended while connecting
    }
    const reader = this.reader;
    conn.onDrain(() => reader.resume());
    this.connectedAt = Date.now();
    this.refusals = 0;
    this.setState('live', null);
    void conn.closed.then((reason) => gen === this.generation && this.fail(reason));
  }

  /** The reader was closed by the stream: it ended (go idle) or the destination was too slow (retry). */
  private readerClosed(gen: number, reason: string): void {
    if (gen !== this.generation) return;
    this.reader = null;
    if (this.registry.active(this.streamId) === null) this.stop(reason);
    else this.fail(reason);
  }

  private fail(reason: string): void {
    const lived = this.connectedAt === null ? 0 : Date.now() - this.connectedAt;
    this.generation++;
    this.disconnect(reason);
    if (lived >= this.tuning.maxBackoffMs) this.delayMs = this.tuning.minBackoffMs;
    this.lastError = redact(reason, this.secrets);
    if (this.refusals >= this.tuning.maxRefusals) {
      this.setState('failed', this.lastError);
      this.log.warn({ reason: this.lastError, refusals: this.refusals }, 'restream output refused by its destination; given up until it changes or the stream is published again');
      return;
    }
    this.reconnects++;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.tuning.maxBackoffMs);
    this.setState('reconnecting', this.lastError);
    this.log.warn({ reason: this.lastError, retryInMs: delay, reconnects: this.reconnects }, 'restream output failed; reconnecting');
    this.timer = setTimeout(() => void this.attempt('reconnecting'), delay);
  }

  private disconnect(reason: string): void {
    const reader = this.reader;
    this.reader = null;
    reader?.close(reason);
    if (this.conn) {
      this.sentBefore += this.conn.bytesSent;
      this.conn.close();
      this.conn = null;
    }
    this.connectedAt = null;
  }

  private setState(state: OutputState, reason: string | null): void {
    if (this.state === state) return;
    this.state = state;
    this.hooks.onState(this, reason);
  }
}

/** A readable reason from anything thrown. */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
