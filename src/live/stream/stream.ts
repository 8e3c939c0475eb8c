/**
 * One live stream: its current publisher, track configuration, GOP cache and readers.
 *
 * The GOP cache holds the units since the latest video keyframe (bounded by `gopCacheMaxBytes`;
 * over the bound it is emptied until the next keyframe), so a new viewer gets onMetaData, the
 * sequence headers and a decodable GOP at once instead of waiting for the next keyframe. Units are
 * fanned out by reference; one `setImmediate` per stream per tick flushes every reader, which turns
 * all units parsed from one socket read into one write per viewer.
 *
 * Takeover (a second publisher on the same key, e.g. OBS reconnecting) keeps the readers: the new
 * publisher's timestamps are shifted to continue after the last one sent, and readers skip to its
 * first keyframe.
 *
 * Backup ingest: a second publisher may wait in the standby slot (standby.ts). A switch to it keeps
 * the readers too: they get the standby's sequence headers, then its cached GOP from its keyframe,
 * all rebased by one fixed offset so its first unit lands one frame after the last one sent.
 * The slate (slate-feed.ts) enters and leaves through the same switch.
 */
import type { Logger } from 'pino';
import { aacInfo, avcCodecString } from './codec-config.js';
import { unitBytes, type MediaUnit, type TrackConfig } from './media-unit.js';
import type { Publisher } from './publisher.js';
import { Reader, type ReaderLimits, type ReaderSink, type ViewerProtocol } from './reader.js';
import { StandbyFeed, type StandbyRole } from './standby.js';

export type { Publisher } from './publisher.js';

/** A switch of the active publisher (backup ingest), reported to the registry. */
export interface PublisherSwitch {
  from: Publisher;
  to: Publisher;
  reason: string;
  /** The decoder configuration differs (CMAF outputs start a new init segment). */
  configChanged: boolean;
}

const WINDOW_S = 5;
/** A unit this far ahead of the last one sent is an encoder clock jump, not elapsed time (ms). */
const MAX_FORWARD_JUMP_MS = 10_000;

/** A live stream and its fan-out. */
export class LiveStream {
  publisher: Publisher | null = null;
  /** The standby publisher (backup ingest), or null. */
  standby: StandbyFeed | null = null;
  /** Told about every switch between the active and the standby publisher (the registry emits publish.switch). */
  onSwitch: ((s: PublisherSwitch) => void) | null = null;
  publishedAt = 0;
  tracks: TrackConfig = {};
  metadata: MediaUnit | null = null;
  /** The publisher's onMetaData object (width, height, framerate, encoder...). */
  meta: Record<string, unknown> = {};
  readonly readers = new Set<Reader>();
  /** Units dropped across all readers of this stream (slow readers). */
  drops = 0;
  /** Readers disconnected for being too slow. */
  slowDisconnects = 0;
  bytesIn = 0;
  /** When the active publisher last delivered a unit (ms since the epoch; the registry's stall watchdog reads it). */
  lastMediaAt = 0;
  private gop: MediaUnit[] = [];
  private gopBytes = 0;
  /** The latest video keyframe, kept even when the GOP cache overflows (live thumbnails). */
  private keyframe: MediaUnit | null = null;
  private flushScheduled = false;
  /** Readers that are other nodes' relays (flushed first: each one serves many viewers). */
  private relayReaders = 0;
  private lastDts = 0;
  private tsOffset: number | null = 0;
  /** Gap after `lastDts` for a new publisher's first unit when `tsOffset` is still unknown. */
  private gapMs = 1;
  /** Duration of the last frame sent (video, or audio on audio-only streams): the gap at a switch. */
  private frameMs = 33;
  private lastFrameDts = -1;
  /** Last decode time sent per track: a track must never go backwards (ms, -1: none yet). */
  private lastVideoDts = -1;
  private lastAudioDts = -1;
  /** Publisher clock jumps (backwards, or forward beyond MAX_FORWARD_JUMP_MS) absorbed by a rebase. */
  timestampJumps = 0;
  /** Per-second ingest buckets for bitrate and fps: [second, bytes, videoFrames]. */
  private window: Array<[number, number, number]> = [];

  constructor(
    readonly id: string,
    private readonly gopCacheMaxBytes: number,
    private readonly readerLimits: ReaderLimits,
    private readonly log: Logger,
  ) {}

  /** True while a publisher is attached. */
  get active(): boolean {
    return this.publisher !== null;
  }

  /** Attach a publisher; a previous one (takeover) must have been detached by the caller. */
  attach(p: Publisher, takeover: boolean): void {
    this.publisher = p;
    this.publishedAt = Date.now();
    this.lastMediaAt = this.publishedAt;
    this.gop = [];
    this.gopBytes = 0;
    this.keyframe = null;
    this.tsOffset = takeover ? null : 0;
    this.gapMs = 1;
    if (takeover) for (const r of this.readers) r.resync();
    else {
      this.tracks = {};
      this.metadata = null;
      this.meta = {};
      this.lastDts = 0;
      this.lastFrameDts = -1;
      this.lastVideoDts = -1;
      this.lastAudioDts = -1;
    }
  }

  /** Detach the publisher; with `endReaders` every reader is closed (end of stream). */
  detach(reason: string, endReaders: boolean): void {
    this.publisher = null;
    this.gop = [];
    this.gopBytes = 0;
    this.keyframe = null;
    this.window = [];
    if (endReaders) for (const r of [...this.readers]) r.close(`stream ended: ${reason}`);
  }

  /**
   * Ingest one unit. `from` names the publisher (backup ingest): the standby's units are kept in its
   * slot, not fanned out, and those of a publisher that was replaced are dropped; without it the
   * unit is the active publisher's (the audio bridge's own streams).
   */
  push(u: MediaUnit, ingestBytes: number, from?: Publisher): void {
    if (from === undefined || from === this.publisher) return this.ingest(u, ingestBytes);
    const sb = this.standby;
    if (sb === null || sb.publisher !== from) return;
    // A returning primary takes over at its first keyframe; a backup waits for the primary to leave.
    // A slate is not kept as a backup: it only stood in for the publisher.
    if (sb.push(u) && sb.role === 'primary') {
      const slate = this.publisher?.slate === true;
      this.switchToStandby(slate ? 'publisher returned' : 'primary returned', !slate);
    }
  }

  /** Set the onMetaData object of `from` (the active publisher's, or the standby's kept for a switch). */
  setMeta(meta: Record<string, unknown>, from: Publisher): void {
    if (from === this.publisher) this.meta = meta;
    else if (this.standby?.publisher === from) this.standby.meta = meta;
  }

  /** Put `p` in the standby slot (a holder already there must have been removed by the caller). */
  setStandby(p: Publisher, role: StandbyRole): void {
    this.standby = new StandbyFeed(p, role, this.gopCacheMaxBytes);
  }

  /** Empty the standby slot (the standby left or is replaced). */
  dropStandby(): void {
    this.standby = null;
  }

  /**
   * Make the standby the active publisher without closing any reader. With `demote` the active one
   * goes to the standby slot as a backup (a returning primary took over); else it is gone.
   */
  switchToStandby(reason: string, demote: boolean): void {
    const sb = this.standby;
    const from = this.publisher;
    if (sb === null || from === null) return;
    const oldVideo = this.tracks.video?.config;
    const oldAudio = this.tracks.audio?.config;
    if (demote) {
      const back = new StandbyFeed(from, 'backup', this.gopCacheMaxBytes);
      back.video = oldVideo ?? null;
      back.audio = oldAudio ?? null;
      back.metadata = this.metadata;
      back.meta = this.meta;
      this.standby = back;
    } else this.standby = null;
    const configChanged = !sameConfig(oldVideo, sb.video) || !sameConfig(oldAudio, sb.audio);
    this.publisher = sb.publisher;
    this.lastMediaAt = Date.now();
    this.meta = sb.meta;
    this.metadata = null;
    this.tracks = {};
    this.gop = [];
    this.gopBytes = 0;
    this.keyframe = null;
    for (const r of this.readers) r.resync();
    // Sequence headers first (at the last dts sent: they start no frame), so every output knows
    // the new decoder configuration before the keyframe; CMAF muxers cut the segment there.
    for (const c of [sb.metadata, sb.video, sb.audio]) if (c !== null) this.fanOut(restamped(c, this.lastDts));
    const gop = sb.gop;
    if (gop.length > 0) {
      this.tsOffset = this.lastDts + this.frameMs - Math.min(...gop.map((u) => u.dts));
      for (const u of gop) this.ingest(u, 0);
    } else {
      this.tsOffset = null; // rebased on its first unit; readers wait for its keyframe
      this.gapMs = this.frameMs;
      sb.publisher.requestKeyframe?.();
    }
    this.log.info({ streamId: this.id, from: from.id, to: sb.publisher.id, reason, configChanged, gopUnits: gop.length }, 'publisher switch');
    this.onSwitch?.({ from, to: sb.publisher, reason, configChanged });
  }

  /** Rebase and fan out one unit of the active publisher. */
  private ingest(u: MediaUnit, ingestBytes: number): void {
    if (this.tsOffset === null) this.tsOffset = this.lastDts + this.gapMs - u.dts; // takeover or switch: continue the timeline
    else if (!u.config && u.kind !== 'data') this.absorbClockJump(u, this.tsOffset);
    if (this.tsOffset !== 0) {
      u.dts += this.tsOffset;
      u.pts += this.tsOffset;
    }
    if (u.dts > this.lastDts) this.lastDts = u.dts;
    if (!u.config && u.kind === 'video') this.lastVideoDts = u.dts;
    else if (!u.config && u.kind === 'audio') this.lastAudioDts = u.dts;
    this.account(u, ingestBytes);
    if (!u.config && (u.kind === 'video' || (u.kind === 'audio' && this.tracks.video === undefined))) {
      const d = u.dts - this.lastFrameDts;
      if (this.lastFrameDts >= 0 && d > 0 && d <= 1000) this.frameMs = d;
      this.lastFrameDts = u.dts;
    }
    this.fanOut(u);
  }

  /**
   * An encoder whose clock goes backwards (a restart inside one session, a wrapped 32-bit RTMP
   * timestamp) or leaps ahead (hours, a clock set mid-stream) would give viewers timestamps that
   * decoders and CMAF muxers cannot follow (a non-monotonic FLV, a segment hours long). Such a unit
   * starts a new rebase: it lands one frame after the last unit sent, like a switch, and the rest
   * of the publisher's units follow it. A track resuming after a pause is not a jump while the
   * other track kept the stream's clock going.
   */
  private absorbClockJump(u: MediaUnit, offset: number): void {
    const dts = u.dts + offset;
    const lastOfTrack = u.kind === 'video' ? this.lastVideoDts : this.lastAudioDts;
    const backwards = lastOfTrack >= 0 && dts <= lastOfTrack;
    const leap = this.lastFrameDts >= 0 && dts - this.lastDts > MAX_FORWARD_JUMP_MS;
    if (!backwards && !leap) return;
    this.tsOffset = this.lastDts + this.frameMs - u.dts;
    this.timestampJumps++;
    if (this.timestampJumps <= 3 || this.timestampJumps % 100 === 0) {
      this.log.warn({ streamId: this.id, publisher: this.publisher?.id, kind: u.kind, from: backwards ? lastOfTrack : this.lastDts, to: dts, jumps: this.timestampJumps }, `publisher timestamps ${backwards ? 'went backwards' : 'leapt ahead'}: rebased to continue the timeline`);
    }
  }

  /** Cache (configuration, GOP) and hand one unit to every reader. */
  private fanOut(u: MediaUnit): void {
    if (u.config) this.configure(u);
    else if (u.kind === 'video' && u.keyframe) {
      this.keyframe = u;
      this.gop = [u];
      this.gopBytes = unitBytes(u);
    } else if (this.gop.length > 0) {
      this.gopBytes += unitBytes(u);
      if (this.gopBytes > this.gopCacheMaxBytes) {
        this.gop = [];
        this.gopBytes = 0;
      } else this.gop.push(u);
    }
    let any = false;
    for (const r of this.readers) if (r.push(u)) any = true;
    if (any && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Add a viewer: it starts with metadata, sequence headers and the cached GOP. */
  addReader(protocol: ViewerProtocol, sink: ReaderSink, onClose: (r: Reader, reason: string) => void): Reader {
    if (protocol === 'relay') this.relayReaders++;
    const r = new Reader(protocol, sink, this.readerLimits, () => this.tracks.video !== undefined, (reader, reason) => {
      this.readers.delete(reader);
      if (protocol === 'relay') this.relayReaders--;
      this.drops += reader.drops;
      if (reason.includes('behind')) this.slowDisconnects++;
      onClose(reader, reason);
    });
    const initial: MediaUnit[] = [];
    if (this.metadata) initial.push(this.metadata);
    if (this.tracks.video) initial.push(this.tracks.video.config);
    if (this.tracks.audio) initial.push(this.tracks.audio.config);
    initial.push(...this.gop);
    r.pushInitial(initial);
    this.readers.add(r);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    return r;
  }

  /**
   * The latest video keyframe and the decoder configuration it needs, or null before the first
   * keyframe (and after the publisher left). The unit is shared: callers must not modify it.
   */
  latestKeyframe(): { unit: MediaUnit; config: MediaUnit } | null {
    const config = this.tracks.video?.config;
    return this.keyframe === null || config === undefined ? null : { unit: this.keyframe, config };
  }

  /** Drops so far, including readers still attached. */
  totalDrops(): number {
    let n = this.drops;
    for (const r of this.readers) n += r.drops;
    return n;
  }

  /** Ingest bitrate (bits/s) and video fps over the last few seconds. */
  rates(now = Date.now()): { bitrate: number; fps: number } {
    const sec = Math.floor(now / 1000);
    const full = this.window.filter(([s]) => s < sec && s >= sec - WINDOW_S);
    if (full.length === 0) return { bitrate: 0, fps: 0 };
    const span = Math.min(WINDOW_S, sec - full[0]![0]);
    const bytes = full.reduce((n, [, b]) => n + b, 0);
    const frames = full.reduce((n, [, , f]) => n + f, 0);
    return { bitrate: Math.round((bytes * 8) / span), fps: Math.round((frames / span) * 100) / 100 };
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    // Other nodes' relays first: every viewer on those nodes waits for them (a flushed reader's
    // second flush below is a no-op).
    if (this.relayReaders > 0) for (const r of this.readers) if (r.protocol === 'relay') r.flush();
    for (const r of this.readers) r.flush();
  };

  private account(u: MediaUnit, bytes: number): void {
    this.bytesIn += bytes;
    this.lastMediaAt = Date.now();
    const sec = Math.floor(Date.now() / 1000);
    let last = this.window.at(-1);
    if (last === undefined || last[0] !== sec) {
      last = [sec, 0, 0];
      this.window.push(last);
      if (this.window.length > WINDOW_S + 1) this.window.shift();
    }
    last[1] += bytes;
    if (u.kind === 'video' && !u.config) last[2]++;
  }

  private configure(u: MediaUnit): void {
    if (u.kind === 'data') {
      this.metadata = u;
      return;
    }
    if (u.kind === 'video') {
      const enhanced = (u.body[0]! & 0x80) !== 0;
      const codecString = u.codec === 'avc' ? avcCodecString(u.payload) : enhanced ? u.body.toString('latin1', 1, 5) : u.codec;
      const prev = this.tracks.video;
      this.tracks.video = { codec: u.codec, codecString, width: prev?.width, height: prev?.height, config: u };
      this.log.debug({ streamId: this.id, codec: codecString }, 'video sequence header');
    } else {
      const info = u.codec === 'aac' ? aacInfo(u.payload) : { codecString: u.codec === 'opus' ? 'opus' : u.codec };
      this.tracks.audio = { codec: u.codec, ...info, config: u };
    }
  }
}

/** Whether two sequence headers describe the same decoder configuration. */
function sameConfig(a: MediaUnit | undefined, b: MediaUnit | null): boolean {
  if (a === undefined || b === null) return a === undefined && b === null;
  return a.codec === b.codec && a.payload.equals(b.payload);
}

/** A copy of a kept configuration or metadata unit at `dts` (the original may be shared with readers). */
function restamped(u: MediaUnit, dts: number): MediaUnit {
  return { kind: u.kind, codec: u.codec, dts, pts: dts, keyframe: u.keyframe, config: u.config, payload: u.payload, body: u.body };
}
