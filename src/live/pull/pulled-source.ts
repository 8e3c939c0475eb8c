/**
 * One live stream pulled from its source URL: connects, reconnects, lingers and reports state.
 *
 * - On demand (`acquire`): the first viewer starts the connection; viewers arriving meanwhile wait
 *   for the first media, at most `live.sourceConnectTimeoutMs` (then LIVE_SOURCE_TIMEOUT). While
 *   connected, a check once a second asks whether anyone still watches; after
 *   `live.sourceLingerMs` without viewers the connection closes and the stream ends.
 * - Always on (`start`): connects at once and keeps connecting with backoff (1 s doubling up to
 *   `live.sourceRetryMaxMs`; a permanent refusal — credentials, not found — waits the longest).
 * - A connection that drops while the stream is live keeps the publisher, and with it the viewers,
 *   for `live.sourceReconnectGraceMs` while reconnecting; a reconnect in time continues the same
 *   stream (see source-publisher.ts), otherwise the stream ends (or plays the slate).
 * - An on-demand source that failed answers its error for a cool-down (retryMax / 6) instead of
 *   hammering a camera that is down with every viewer's request.
 * State changes (`idle`, `connecting`, `live`, `failed`) go to `onState`; nothing here knows the bus.
 */
import type { Logger } from 'pino';
import { fail, isStromError, type StromError } from '../../errors.js';
import type { LiveStream } from '../stream/stream.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import type { ConnectorRegistry, SourceConnection, SourceEnd } from './connector/source-connector.js';
import { SourcePublisher } from './source-publisher.js';
import { maskSourceUrl, redactSource } from './connector/source-url.js';

/** Where a source stands. */
export type SourceState = 'idle' | 'connecting' | 'live' | 'failed';

/** A stream's source as stored. */
export interface SourceSpec {
  streamId: string;
  /** The URL with its secrets. */
  url: string;
  onDemand: boolean;
}

/** Timings and bounds (from `live.source*`). */
export interface PullTuning {
  connectTimeoutMs: number;
  lingerMs: number;
  reconnectGraceMs: number;
  retryMaxMs: number;
  maxBufferBytes: number;
}

/** What a pulled source uses from its manager. */
export interface PulledSourceDeps {
  registry: StreamRegistry;
  connectors: ConnectorRegistry;
  tuning: PullTuning;
  log: Logger;
  /** Whether anyone (a viewer of any protocol, another node's relay) still wants the stream. */
  demand(streamId: string): boolean;
  /** Called after every state change. */
  onState(src: PulledSource): void;
  /** Counts one connection attempt by connector name and result (`ok`, or an error code). */
  counted(protocol: string, result: string): void;
}

interface Waiter {
  resolve(s: LiveStream): void;
  reject(err: StromError): void;
  timer: NodeJS.Timeout;
}

/** The pull of one stream. */
export class PulledSource {
  state: SourceState = 'idle';
  since = Date.now();
  reason: string | null = null;
  /** Connector name once resolved (`rtsp`, `hls`…), else null. */
  protocol: string | null = null;
  private publisher: SourcePublisher | null = null;
  private conn: SourceConnection | null = null;
  private readonly waiters = new Set<Waiter>();
  private timer: NodeJS.Timeout | null = null;
  private linger: NodeJS.Timeout | null = null;
  private lastDemand = Date.now();
  private attempts = 0;
  private failedAt = 0;
  private lastError: StromError | null = null;
  /** When the live connection dropped (the reconnect grace runs from here), 0 while none did. */
  private droppedAt = 0;
  private generation = 0;
  private stopped = false;
  /** Bytes of publishers this source no longer uses. */
  private retiredBytes = 0;
  readonly masked: string;
  private readonly log: Logger;

  constructor(readonly spec: SourceSpec, private readonly d: PulledSourceDeps) {
    this.masked = maskSourceUrl(spec.url);
    this.log = d.log.child({ streamId: spec.streamId, source: this.masked });
  }

  /** On demand: the active stream, connecting first when needed. */
  acquire(): Promise<LiveStream> {
    const live = this.publisher?.attached;
    if (live?.active === true) return Promise.resolve(live);
    const cooldown = this.d.tuning.retryMaxMs / 6;
    if (this.state === 'failed' && this.lastError !== null && Date.now() - this.failedAt < cooldown) return Promise.reject(this.lastError);
    if (this.state === 'idle' || this.state === 'failed') this.connect();
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        resolve, reject,
        timer: setTimeout(() => {
          this.waiters.delete(w);
          reject(fail('LIVE_SOURCE_TIMEOUT', this.masked, 'the first media', this.d.tuning.connectTimeoutMs));
        }, this.d.tuning.connectTimeoutMs),
      };
      this.waiters.add(w);
    });
  }

  /** Always on: connect now and keep connected. */
  start(): void {
    if (this.state === 'idle' || this.state === 'failed') this.connect();
  }

  /** Bytes received from the source since this pull was created. */
  get bytesIn(): number {
    return this.retiredBytes + (this.publisher?.bytesIn ?? 0);
  }

  /** Whether a connection runs or is being made (the manager's concurrency bound counts these). */
  get busy(): boolean {
    return this.state === 'connecting' || this.state === 'live';
  }

  private connect(): void {
    if (this.stopped) return;
    this.clearTimer();
    const gen = ++this.generation;
    let target;
    try {
      target = this.d.connectors.resolve(this.spec.url);
    } catch (err) {
      this.failed(asSourceError(err, this.masked), true);
      return;
    }
    const { url, connector } = target;
    this.protocol = connector.name;
    this.setState('connecting', this.droppedAt > 0 ? this.reason : null);
    if (this.publisher === null || this.publisher.closed) {
      this.publisher = new SourcePublisher(this.spec.streamId, this.masked, this.d.registry, {
        firstMedia: (s) => this.mediaFlows(s),
        closed: (reason) => this.publisherClosed(reason),
      });
    }
    const sink = this.publisher.sink();
    const o = { timeoutMs: this.d.tuning.connectTimeoutMs, maxBufferBytes: this.d.tuning.maxBufferBytes, log: this.log };
    connector.connect(url, sink, o).then((conn) => {
      if (gen !== this.generation || this.stopped) return conn.close('no longer wanted');
      this.d.counted(connector.name, 'ok');
      this.conn = conn;
      void conn.closed.then((end) => this.ended(gen, end));
    }, (err: unknown) => {
      const e = asSourceError(err, this.masked);
      this.d.counted(connector.name, e.code);
      if (gen === this.generation) this.failed(e, isPermanent(e));
    });
  }

  /** A connection's first unit reached the hub. */
  private mediaFlows(s: LiveStream): void {
    this.attempts = 0;
    this.droppedAt = 0;
    this.lastError = null;
    this.setState('live', null);
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(s);
    }
    this.waiters.clear();
    if (this.spec.onDemand && this.linger === null) {
      this.lastDemand = Date.now();
      this.linger = setInterval(() => this.checkDemand(), Math.max(50, Math.min(1000, this.d.tuning.lingerMs / 4)));
      this.linger.unref();
    }
  }

  private checkDemand(): void {
    if (this.d.demand(this.spec.streamId)) this.lastDemand = Date.now();
    else if (Date.now() - this.lastDemand >= this.d.tuning.lingerMs) this.stop(`no viewers for ${this.d.tuning.lingerMs} ms`, true);
  }

  /** The connection `gen` ended (the source left, a network error, or our own close). */
  private ended(gen: number, end: SourceEnd): void {
    if (gen !== this.generation || this.stopped) return;
    this.conn = null;
    const reason = redactSource(end.reason, this.spec.url);
    this.log.info({ reason, permanent: end.permanent }, 'source connection ended');
    const attached = this.publisher?.attached?.active === true && this.publisher.closed === false;
    if (!attached) return this.failed(fail('LIVE_SOURCE_UNREACHABLE', this.masked, reason), end.permanent);
    if (!this.spec.onDemand || this.d.demand(this.spec.streamId)) {
      if (this.droppedAt === 0) this.droppedAt = Date.now();
      this.reason = reason;
      return this.retryWithinGrace(reason, end.permanent);
    }
    this.stop(`source ended: ${reason}`, true);
  }

  /** A connect failed (or a connection ended before media flowed). */
  private failed(err: StromError, permanent: boolean): void {
    if (this.stopped) return;
    this.lastError = err;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters.clear();
    if (this.droppedAt > 0) return this.retryWithinGrace(err.message, permanent);
    this.failedAt = Date.now();
    this.setState('failed', err.message);
    this.log.warn({ code: err.code, reason: err.message }, 'source failed');
    if (!this.spec.onDemand) this.retryLater(permanent);
  }

  /**
   * Reconnect while the publisher holds the viewers, until the grace time is spent. A refusal does
   * not end it early: a source that worked a moment ago and now says "not found" is usually an
   * upstream publisher restarting (an encoder reconnecting to the origin we pull from).
   */
  private retryWithinGrace(reason: string, permanent: boolean): void {
    const left = this.droppedAt + this.d.tuning.reconnectGraceMs - Date.now();
    if (left <= 0) {
      this.droppedAt = 0;
      this.endPublish(`source lost: ${reason}`);
      this.failedAt = Date.now();
      this.setState('failed', reason);
      if (!this.spec.onDemand) this.retryLater(permanent);
      return;
    }
    this.setState('connecting', reason);
    this.schedule(Math.min(left, this.backoff()));
  }

  private retryLater(permanent: boolean): void {
    this.schedule(permanent ? this.d.tuning.retryMaxMs : this.backoff());
  }

  private backoff(): number {
    const ms = Math.min(this.d.tuning.retryMaxMs, 1000 * 2 ** Math.min(this.attempts, 20));
    this.attempts++;
    return ms;
  }

  private schedule(ms: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, ms);
    this.timer.unref();
  }

  /** The registry closed our publisher (takeover by a pushed publisher, idle watchdog, shutdown). */
  private publisherClosed(reason: string): void {
    this.retiredBytes += this.publisher?.bytesIn ?? 0;
    this.publisher = null;
    this.closeConnection(reason);
    if (this.stopped) return;
    this.droppedAt = 0;
    this.stopLinger();
    this.setState('idle', reason);
    if (!this.spec.onDemand) this.retryLater(false);
  }

  /** Stop pulling (no viewers, the source was removed or changed, shutdown). `endPublish` false leaves the stream to the registry's own close. */
  stop(reason: string, endPublish: boolean, final = false): void {
    this.stopped = final;
    this.generation++;
    this.clearTimer();
    this.stopLinger();
    this.droppedAt = 0;
    this.closeConnection(reason);
    if (endPublish) this.endPublish(reason);
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(fail('LIVE_STREAM_NOT_FOUND', this.spec.streamId));
    }
    this.waiters.clear();
    if (this.state !== 'idle') this.setState('idle', reason);
  }

  private endPublish(reason: string): void {
    const p = this.publisher;
    this.publisher = null;
    this.retiredBytes += p?.bytesIn ?? 0;
    this.stopLinger();
    p?.stop(reason);
  }

  private closeConnection(reason: string): void {
    const c = this.conn;
    this.conn = null;
    c?.close(reason);
  }

  private stopLinger(): void {
    if (this.linger !== null) clearInterval(this.linger);
    this.linger = null;
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private setState(state: SourceState, reason: string | null): void {
    if (this.state === state && this.reason === reason) return;
    this.state = state;
    this.reason = reason;
    this.since = Date.now();
    this.d.onState(this);
  }
}

/** Refusals a retry cannot fix without a person changing something. */
function isPermanent(e: StromError): boolean {
  return e.code === 'LIVE_SOURCE_REFUSED' || e.code === 'LIVE_SOURCE_BAD_URL' || e.code === 'LIVE_SOURCE_SCHEME_UNSUPPORTED';
}

/** A connector's rejection as a catalog error (anything else becomes LIVE_SOURCE_UNREACHABLE, its message redacted). */
function asSourceError(err: unknown, masked: string): StromError {
  if (isStromError(err)) return err;
  return fail('LIVE_SOURCE_UNREACHABLE', masked, err instanceof Error ? err.message.replace(/\b[a-z]+:\/\/\S+/gi, masked) : String(err));
}
