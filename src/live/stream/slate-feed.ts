/**
 * The slate: what a stream's viewers get while its publisher is away. When the publisher of a
 * stream leaves and `live.reconnectWindowS` is above zero, the registry puts a SlatePublisher in
 * its place through the standby switch (readers stay connected, the timeline continues), and it
 * plays a picture encoded once (src/live/slate) in real time: one GOP of video looped with rising
 * timestamps, and one frame of encoded silence repeated on its own audio clock (so audio never
 * drifts from a loop length that is not a whole number of audio frames). A publisher that comes
 * back waits in the standby slot and takes over at its first keyframe; if none comes within the
 * window, the stream ends as it would have without a slate.
 *
 * The hub does not encode: a `SlateSource` makes clips, so this layer stays free of ffmpeg.
 */
import type { MediaUnit, TrackConfig } from './media-unit.js';
import type { Publisher } from './publisher.js';
import type { LiveStream } from './stream.js';

/** A slate picture (and silence) ready to loop, timestamps in ms from 0. */
export interface SlateClip {
  /** Decoder configuration and one GOP, keyframe first; the loop repeats it every `durationMs`. */
  video: { config: MediaUnit; frames: MediaUnit[]; durationMs: number } | null;
  /** Decoder configuration and one frame of silence, repeated every `frameMs`. */
  audio: { config: MediaUnit; frame: MediaUnit; frameMs: number } | null;
  /** The stream metadata the slate stands for (width, height, framerate: CMAF init segments need the size). */
  meta: Record<string, unknown>;
}

/** What the slate needs to know of the stream it stands in for. */
export interface SlateRequest {
  tracks: TrackConfig;
  meta: Record<string, unknown>;
  /** Measured video frame rate of the publisher (0: unknown). */
  fps: number;
}

/** Makes slate clips (the slate renderer in src/live/slate implements it; it caches). */
export interface SlateSource {
  /** A clip matching the stream's codecs and picture size where it can; rejects when none can be made. */
  clipFor(req: SlateRequest): Promise<SlateClip>;
}

/** How often the slate pushes the frames that are due (ms). */
const TICK_MS = 20;

/** A publisher that plays a slate clip into one stream in real time. */
export class SlatePublisher implements Publisher {
  readonly remote = 'slate';
  readonly slate = true;
  /** When the slate started (ms since the epoch) and when the window ends. */
  readonly since = Date.now();
  readonly until: number;
  private clip: SlateClip | null = null;
  private timer: NodeJS.Timeout | null = null;
  private expiry: NodeJS.Timeout | null = null;
  private t0 = 0;
  private videoN = 0;
  private audioN = 0;
  private closed = false;

  constructor(
    /** The session id of the publisher it stands in for (events and spans keep one session). */
    readonly id: string,
    /** Why that publisher left. */
    readonly reason: string,
    private readonly stream: LiveStream,
    windowMs: number,
    /** Called once when the window ends without a publisher (the registry ends the stream). */
    onExpire: () => void,
  ) {
    this.until = this.since + windowMs;
    this.expiry = setTimeout(() => {
      this.expiry = null;
      if (!this.closed) onExpire();
    }, windowMs);
    this.expiry.unref();
  }

  /** True once closed (publisher back, window over, no clip, shutdown). */
  get done(): boolean {
    return this.closed;
  }

  /** Start playing `clip` (the renderer's answer may come after a publisher already returned: then nothing happens). */
  play(clip: SlateClip): void {
    if (this.closed || this.clip !== null) return;
    this.clip = clip;
    this.stream.setMeta({ ...clip.meta }, this);
    for (const c of [clip.video?.config, clip.audio?.config]) if (c !== undefined) this.stream.push(copy(c, 0, 0), 0, this);
    this.t0 = performance.now();
    this.tick();
    this.timer = setInterval(this.tick, TICK_MS);
  }

  /** Stop the slate (the stream goes on with another publisher, or ends). */
  close(_reason: string): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    if (this.expiry !== null) clearTimeout(this.expiry);
    this.timer = null;
    this.expiry = null;
  }

  /** Push every frame due by now: video and audio interleaved in timestamp order. */
  private readonly tick = (): void => {
    const clip = this.clip;
    if (clip === null || this.closed) return;
    const now = performance.now() - this.t0;
    for (;;) {
      const v = clip.video === null ? Infinity : this.videoDts(clip.video);
      const a = clip.audio === null ? Infinity : Math.round(this.audioN * clip.audio.frameMs);
      const next = Math.min(v, a);
      if (next > now || next === Infinity || this.closed) return;
      if (v <= a && clip.video !== null) {
        const { frames, durationMs } = clip.video;
        const f = frames[this.videoN % frames.length]!;
        const loop = Math.floor(this.videoN / frames.length);
        this.videoN++;
        this.stream.push(copy(f, f.dts + loop * durationMs, f.pts + loop * durationMs), 0, this);
      } else if (clip.audio !== null) {
        this.audioN++;
        this.stream.push(copy(clip.audio.frame, a, a), 0, this);
      }
    }
  };

  private videoDts(v: NonNullable<SlateClip['video']>): number {
    return v.frames[this.videoN % v.frames.length]!.dts + Math.floor(this.videoN / v.frames.length) * v.durationMs;
  }
}

/** A fresh unit (the hub rebases timestamps in place and caches wire forms on units). */
function copy(u: MediaUnit, dts: number, pts: number): MediaUnit {
  return { kind: u.kind, codec: u.codec, dts, pts, keyframe: u.keyframe, config: u.config, payload: u.payload, body: u.body };
}
