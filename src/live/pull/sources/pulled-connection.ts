/**
 * What every pulled-source connection does the same way, whatever its protocol: it ends once, with
 * one reason (`closed` resolves, the protocol's resources are released), hands units to the sink
 * with video starting at a keyframe (frames before the first one cannot be decoded, and a server
 * without a GOP cache starts mid-GOP), and ends a source that sent no media for the idle time —
 * a server that keeps the connection open but stopped sending (a stalled upstream, a half-open
 * TCP connection, an SRT peer that only sends keep-alives) would otherwise hold the stream forever.
 */
import type { MediaUnit } from '../../stream/media-unit.js';
import type { SourceConnection, SourceEnd, SourceSink } from '../connector/source-connector.js';

/** Base of the connections the pull connectors return. */
export abstract class PulledConnection implements SourceConnection {
  readonly closed: Promise<SourceEnd>;
  private resolveEnd!: (end: SourceEnd) => void;
  /** True once the connection ended (nothing more reaches the sink). */
  protected ended = false;
  private lastMediaMs = Date.now();
  private idleTimer: NodeJS.Timeout | null = null;
  private sawKeyframe = false;

  constructor(protected readonly sink: SourceSink) {
    this.closed = new Promise((resolve) => (this.resolveEnd = resolve));
  }

  /** Close the connection (idempotent); `closed` resolves with `reason`. */
  close(reason: string): void {
    this.end(reason);
  }

  /** Release the protocol's resources (socket, parser); called once, when the connection ends. */
  protected abstract release(): void;

  /** End the connection once: stop the idle watch, release, resolve `closed`. */
  protected end(reason: string, permanent = false): void {
    if (this.ended) return;
    this.ended = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.idleTimer = null;
    this.release();
    this.resolveEnd({ reason, permanent });
  }

  /** End the connection when no media unit arrives for `idleMs`. */
  protected watchIdle(idleMs: number): void {
    this.lastMediaMs = Date.now();
    this.idleTimer = setInterval(() => {
      if (Date.now() - this.lastMediaMs > idleMs) this.end(`no media from the source for ${idleMs} ms`);
    }, Math.max(50, Math.min(1000, idleMs / 4)));
    this.idleTimer.unref();
  }

  /** Hand a unit to the sink; video frames before the first keyframe are dropped. */
  protected deliver(u: MediaUnit): void {
    if (this.ended) return;
    if (u.kind !== 'data') this.lastMediaMs = Date.now();
    if (u.kind === 'video' && !u.config) {
      if (!this.sawKeyframe && !u.keyframe) return;
      this.sawKeyframe = true;
    }
    this.sink.unit(u);
  }
}
