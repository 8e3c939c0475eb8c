/**
 * The audio bridges of one process, keyed by (source stream, target codec): the first viewer that
 * needs the other audio codec creates the bridge (one ffmpeg child), later ones share it, the last
 * one leaving stops it. At most `live.audioBridgeMaxChildren` bridges run; a viewer over the limit
 * is served the source stream unchanged (video plays, the audio may not decode) rather than
 * refused: a viewer without audio beats no viewer, and the refusal is logged and counted.
 * The registry asks `viewersOf` to add the bridged viewers to their source stream's status (a
 * bridge's own reader on the source counts as no viewer: `Reader.viewerCount`).
 */
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { Reader, ReaderSink, ViewerProtocol } from '../stream/reader.js';
import type { LiveStream } from '../stream/stream.js';
import { AudioBridge, type AudioBridgeHooks, type AudioBridgeOptions } from './audio-bridge.js';
import type { BridgeTarget } from './ffmpeg-audio-child.js';

/** Cumulative figures for metrics. */
export interface AudioBridgeStats {
  /** ffmpeg children alive (started, not yet reaped). */
  children: number;
  /** Bridges serving viewers. */
  bridges: number;
  /** Child restarts after a crash or stall. */
  restarts: number;
  /** Audio units transcoded and pushed to viewers. */
  transcodedUnits: number;
  /** Input bytes dropped (ffmpeg behind, or unusable packets). */
  droppedBytes: number;
  /** Viewers served the source audio because the child limit was reached. */
  refused: number;
}

/** Every audio bridge of the process. */
export class AudioBridgePool {
  /** Called with the latency each transcoded packet added (ms); set by the metrics. */
  observeLatency: ((ms: number) => void) | null = null;
  private readonly bridges = new Map<string, AudioBridge>();
  private readonly counts = { children: 0, restarts: 0, transcodedUnits: 0, droppedBytes: 0, refused: 0 };
  private readonly reaping = new Set<Promise<void>>();
  private readonly opts: AudioBridgeOptions;
  private readonly hooks: AudioBridgeHooks;

  constructor(private readonly config: Config, private readonly log: Logger) {
    const l = config.live;
    this.opts = {
      ffmpegPath: config.vod.ffmpegPath, kbps: l.audioBridgeKbps, maxQueuedBytes: l.audioBridgeMaxQueuedBytes, maxRestarts: l.audioBridgeMaxRestarts,
      gopCacheMaxBytes: l.gopCacheMaxBytes, readerLimits: { maxBytes: l.readerMaxBytes, maxUnits: l.readerMaxUnits, graceMs: l.slowReaderGraceMs },
    };
    const c = this.counts;
    this.hooks = {
      childStarted: () => void c.children++,
      childExited: () => void c.children--,
      restarted: () => void c.restarts++,
      transcoded: (ms) => {
        c.transcodedUnits++;
        if (ms !== null) this.observeLatency?.(ms);
      },
      dropped: (bytes) => void (c.droppedBytes += bytes),
    };
  }

  /** True when `s`'s audio is AAC or Opus and not already `target`. */
  needsBridge(s: LiveStream, target: BridgeTarget | undefined): target is BridgeTarget {
    const codec = s.tracks.audio?.codec;
    return target !== undefined && codec !== target && (codec === 'aac' || codec === 'opus');
  }

  /** Attach a viewer through the `target` bridge of `s`; null when no bridge is needed or allowed. */
  addReader(s: LiveStream, target: BridgeTarget | undefined, protocol: ViewerProtocol, sink: ReaderSink, onClose: (r: Reader, reason: string) => void): Reader | null {
    if (!this.needsBridge(s, target)) return null;
    const key = `${s.id}\n${target}`;
    let b = this.bridges.get(key);
    if (b === undefined) {
      if (this.bridges.size >= this.config.live.audioBridgeMaxChildren) {
        this.counts.refused++;
        this.log.warn({ streamId: s.id, target, limit: this.config.live.audioBridgeMaxChildren }, 'audio bridge limit reached; viewer gets the source audio');
        return null;
      }
      const created = new AudioBridge(s, target, this.opts, this.hooks, this.log.child({ streamId: s.id, bridge: target }), (done, reaped) => {
        if (this.bridges.get(key) === done) this.bridges.delete(key);
        this.track(reaped);
      });
      this.bridges.set(key, created);
      b = created;
    }
    const bridge = b;
    return bridge.stream.addReader(protocol, sink, (r, reason) => {
      onClose(r, reason);
      if (bridge.stream.readers.size === 0) void bridge.stop('no viewers left');
    });
  }

  /** Viewers reading `streamId` through bridges. */
  viewersOf(streamId: string): Reader[] {
    const out: Reader[] = [];
    for (const b of this.bridges.values()) if (b.source.id === streamId) out.push(...b.stream.readers);
    return out;
  }

  /** Units dropped for slow viewers of `streamId`'s bridges. */
  dropsOf(streamId: string): number {
    let n = 0;
    for (const b of this.bridges.values()) if (b.source.id === streamId) n += b.stream.totalDrops();
    return n;
  }

  /** The running bridge of (`streamId`, `target`), if any (tests, status). */
  get(streamId: string, target: BridgeTarget): AudioBridge | undefined {
    return this.bridges.get(`${streamId}\n${target}`);
  }

  /** Current figures (metrics are pulled at scrape time). */
  stats(): AudioBridgeStats {
    return { ...this.counts, bridges: this.bridges.size };
  }

  /** Stop every bridge; resolves once every child is reaped. */
  async close(): Promise<void> {
    for (const b of [...this.bridges.values()]) void b.stop('server shutting down');
    await Promise.all([...this.reaping]);
  }

  private track(p: Promise<void>): void {
    this.reaping.add(p);
    void p.finally(() => this.reaping.delete(p));
  }
}
