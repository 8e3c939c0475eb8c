/**
 * One audio bridge: a source live stream re-served with its audio in another codec (AAC → Opus for
 * WHEP, Opus → AAC for HTTP-FLV/WS-FLV/RTMP play). It is a derived `LiveStream` whose "publisher" is
 * the bridge: an internal reader on the source hands it every unit; video and data units are pushed
 * through unchanged (the very same objects, so their cached FLV/RTMP serialisations are shared too),
 * audio goes to one ffmpeg child (ffmpeg-audio-child.ts) and what comes back is pushed as units of
 * the target codec, timed by `BridgeTimeline`. Viewers are ordinary Readers of the derived stream,
 * so GOP-cache join, slow-reader limits, drops and viewer events work as for any stream.
 *
 * Lifecycle: created by the pool for the first viewer asking for `target`, stopped when its last
 * viewer leaves or the source's internal reader is closed (publisher stopped, server closing).
 * A child that dies unexpectedly is restarted with backoff (250 ms doubling to 5 s), at most
 * `maxRestarts` times in a row (a child that produced audio resets the count); after that the
 * viewers keep video without audio. A new, different source audio config (takeover with other
 * encoder settings) restarts the child; the target codec in the source (takeover by a publisher
 * that already sends it) switches to pass-through.
 */
import type { Logger } from 'pino';
import { aacConfigUnit, aacUnit, opusConfigUnit, opusUnit } from '../formats/flv/unit-builders.js';
import type { MediaUnit } from '../stream/media-unit.js';
import type { Reader, ReaderLimits } from '../stream/reader.js';
import { LiveStream } from '../stream/stream.js';
import { AAC_SAMPLE_RATES, adtsHeader, ascToAdts, type AdtsConfig } from '../formats/audio/adts.js';
import { FfmpegAudioChild, type BridgeTarget } from './ffmpeg-audio-child.js';
import { OGG_BOS, oggPage, OGG_MAX_PACKET } from '../formats/audio/ogg.js';
import { opusPacketSamples } from '../formats/audio/opus-toc.js';
import { BridgeTimeline } from './timeline.js';

/** Settings of one bridge. */
export interface AudioBridgeOptions {
  ffmpegPath: string;
  kbps: number;
  maxQueuedBytes: number;
  maxRestarts: number;
  gopCacheMaxBytes: number;
  readerLimits: ReaderLimits;
}

/** Counters the pool aggregates into metrics. */
export interface AudioBridgeHooks {
  childStarted(): void;
  childExited(): void;
  restarted(): void;
  transcoded(latencyMs: number | null): void;
  dropped(bytes: number): void;
}

/** Restart the child when its output lags its input by more than this (ffmpeg stuck or starved). */
const MAX_LAG_MS = 5_000;
/** …or this, before it produced anything (start-up on a loaded machine). */
const MAX_START_LAG_MS = 10_000;

/** A source stream re-served with its audio transcoded to `target`. */
export class AudioBridge {
  /** The derived stream viewers read. */
  readonly stream: LiveStream;
  /** The internal reader on the source (not a viewer). */
  readonly input: Reader;
  stopped = false;
  private child: FfmpegAudioChild | null = null;
  private timeline = new BridgeTimeline();
  private inCodec: 'aac' | 'opus' | null = null;
  private inConfig: Buffer | null = null;
  private adts: AdtsConfig | null = null;
  private passthrough = false;
  private failures = 0;
  private produced = false;
  private retry: NodeJS.Timeout | null = null;
  private pageSeq = 0;
  private granule = 0n;

  constructor(
    readonly source: LiveStream,
    readonly target: BridgeTarget,
    private readonly opts: AudioBridgeOptions,
    private readonly hooks: AudioBridgeHooks,
    private readonly log: Logger,
    private readonly onStopped: (b: AudioBridge, reaped: Promise<void>) => void,
  ) {
    this.stream = new LiveStream(`${source.id}~${target}`, opts.gopCacheMaxBytes, opts.readerLimits, log);
    this.stream.attach({ id: `bridge-${target}`, remote: 'internal', close: () => this.stop('bridge closed') }, false);
    this.input = source.addReader(target === 'opus' ? 'whep' : 'http-flv', {
      write: (units) => {
        for (const u of units) this.onSource(u);
        return true;
      },
      close: (reason) => this.stop(reason),
    }, () => {});
    this.input.viewerCount = () => 0; // the bridge's own reader is not a viewer (status counts the bridged ones)
  }

  /** Stop: close the internal reader and the viewers, kill the child (resolves once reaped). */
  stop(reason: string): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.stopped = true;
    this.input.close(reason);
    const reaped = this.stopChild();
    this.stream.detach(reason, true);
    this.onStopped(this, reaped);
    return reaped;
  }

  /** Process id of the running child (tests), or null. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  private onSource(u: MediaUnit): void {
    if (this.stopped) return;
    if (u.kind !== 'audio') return this.stream.push(u, 0);
    if (u.config) return this.configure(u);
    if (this.passthrough) return this.stream.push(u, 0);
    this.feed(u);
  }

  private configure(u: MediaUnit): void {
    if (u.codec === this.target) {
      this.passthrough = true;
      this.inCodec = null; // a later header in the other codec starts a child again
      this.inConfig = null;
      void this.stopChild();
      return this.stream.push(u, 0);
    }
    this.passthrough = false;
    if (u.codec === this.inCodec && this.inConfig?.equals(u.payload)) return; // repeated header (takeover)
    void this.stopChild();
    this.inCodec = u.codec === 'aac' || u.codec === 'opus' ? u.codec : null;
    this.inConfig = u.payload;
    this.adts = u.codec === 'aac' ? ascToAdts(u.payload) : null;
    if (this.inCodec === null || (this.inCodec === 'aac' && this.adts === null)) {
      this.log.warn({ codec: u.codec, config: u.payload.toString('hex').slice(0, 32) }, 'audio bridge: source audio cannot be transcoded; viewers get video only');
      this.inCodec = null;
      return;
    }
    this.failures = 0;
    this.startChild();
  }

  private startChild(): void {
    this.retry = null;
    if (this.stopped || this.inCodec === null) return;
    this.timeline = new BridgeTimeline();
    this.produced = false;
    this.pageSeq = 0;
    this.granule = 0n;
    const child: FfmpegAudioChild = new FfmpegAudioChild(this.target, this.opts, {
      onConfig: (config, delayMs) => {
        if (this.child !== child) return;
        this.timeline.primed(delayMs);
        const dts = this.source.tracks.audio?.config.dts ?? 0;
        this.stream.push(this.target === 'opus' ? opusConfigUnit(config, dts) : aacConfigUnit(config, dts), 0);
      },
      onPacket: (packet, durationMs) => {
        if (this.child !== child) return;
        const { dts, latencyMs } = this.timeline.out(durationMs, Date.now());
        this.produced = true;
        this.failures = 0;
        this.hooks.transcoded(latencyMs);
        this.stream.push(this.target === 'opus' ? opusUnit(packet, dts) : aacUnit(packet, dts), 0);
      },
      onExit: (code, signal, expected) => {
        this.hooks.childExited();
        if (this.child !== child) return;
        this.child = null;
        if (expected || this.stopped) return;
        this.log.error({ pid: child.pid, code, signal }, 'audio bridge: ffmpeg exited; viewers keep video');
        this.scheduleRestart();
      },
    }, this.log);
    this.child = child;
    this.hooks.childStarted();
    this.log.info({ pid: child.pid, from: this.inCodec, to: this.target }, 'audio bridge: ffmpeg started');
    if (this.inCodec === 'opus') {
      const tags = Buffer.alloc(16);
      tags.write('OpusTags', 0, 'latin1'); // RFC 7845 §5.2: empty vendor string, no comments
      child.write(oggPage({ headerType: OGG_BOS, granule: 0n, serial: 1, seq: this.pageSeq++, packets: [this.inConfig!] }));
      child.write(oggPage({ headerType: 0, granule: 0n, serial: 1, seq: this.pageSeq++, packets: [tags] }));
    }
  }

  private scheduleRestart(): void {
    if (this.failures >= this.opts.maxRestarts) {
      this.log.error({ restarts: this.failures }, 'audio bridge: giving up restarting ffmpeg; viewers keep video without audio');
      return;
    }
    const delay = Math.min(250 * 2 ** this.failures, 5_000);
    this.failures++;
    this.hooks.restarted();
    this.retry = setTimeout(() => this.startChild(), delay);
  }

  private feed(u: MediaUnit): void {
    const child = this.child;
    if (child === null) return;
    let buf: Buffer;
    let durationMs: number;
    if (this.inCodec === 'aac') {
      if (u.payload.length + 7 > 0x1fff) return this.hooks.dropped(u.payload.length);
      buf = Buffer.concat([adtsHeader(this.adts!, u.payload.length), u.payload]);
      durationMs = (1024 * 1000) / AAC_SAMPLE_RATES[this.adts!.sampleRateIndex]!;
    } else {
      const samples = opusPacketSamples(u.payload);
      if (samples === 0 || u.payload.length > OGG_MAX_PACKET) return this.hooks.dropped(u.payload.length);
      this.granule += BigInt(samples);
      buf = oggPage({ headerType: 0, granule: this.granule, serial: 1, seq: this.pageSeq++, packets: [u.payload] });
      durationMs = samples / 48;
    }
    if (!child.write(buf)) return this.hooks.dropped(buf.length);
    this.timeline.fed(u.dts, durationMs, Date.now());
    if (this.timeline.lagMs > (this.produced ? MAX_LAG_MS : MAX_START_LAG_MS)) {
      this.log.warn({ pid: child.pid, lagMs: Math.round(this.timeline.lagMs) }, 'audio bridge: ffmpeg fell behind; restarting it');
      void this.stopChild();
      this.scheduleRestart();
    }
  }

  private stopChild(): Promise<void> {
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    const c = this.child;
    this.child = null;
    return c === null ? Promise.resolve() : c.stop();
  }
}
