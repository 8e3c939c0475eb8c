/**
 * Renders slate clips: the picture viewers see while a stream's publisher is away (the hub's
 * slate-feed.ts plays them). A clip is encoded once per set of stream parameters and cached: one
 * GOP of the picture at the stream's size and frame rate, in its video codec (H.264, or HEVC for an
 * HEVC stream), and a short run of silence in its audio codec, sample rate and channel count (AAC,
 * or Opus for a WebRTC stream). Matching the stream keeps players' decoders and ABR happy; the
 * decoder configuration still differs from the encoder's, so CMAF outputs start a new init
 * segment (HLS discontinuity, DASH Period) at the slate and again when the publisher returns.
 *
 * ffmpeg writes MPEG-TS and Strom's own TS demuxer turns it into MediaUnits, the same path SRT
 * publishers take, so the slate needs no second parser. Bounded: at most `MAX_CLIPS` clips are
 * kept (least recently used dropped), `MAX_RENDERS` ffmpeg runs at once, each killed after
 * `RENDER_TIMEOUT_MS`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { fail } from '../../errors.js';
import { runTool } from '../../vod/ffmpeg-runner.js';
import { TsDemuxer } from '../formats/ts/ts-demuxer.js';
import type { MediaUnit } from '../stream/media-unit.js';
import type { SlateClip, SlateRequest, SlateSource } from '../stream/slate-feed.js';

/** The built-in slate picture (assets/slate.png). */
export const DEFAULT_SLATE_IMAGE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../assets/slate.png');

const MAX_CLIPS = 16;
const MAX_RENDERS = 2;
const RENDER_TIMEOUT_MS = 15_000;

/** The parameters a clip is encoded for (its cache key). */
export interface SlateParams {
  video: { codec: 'avc' | 'hevc'; width: number; height: number; fps: number } | null;
  audio: { codec: 'aac' | 'opus'; sampleRate: number; channels: number } | null;
}

/** Render outcomes since start (metrics). */
export interface SlateRenderStats {
  renders: number;
  failures: number;
  cacheHits: number;
}

/** Even size within 16..4096; fallback 1280×720 when the stream did not say. */
function size(meta: Record<string, unknown>): { width: number; height: number } {
  const even = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) && v >= 16 ? Math.min(4096, Math.round(v / 2) * 2) : d);
  const width = even(meta.width, 0);
  const height = even(meta.height, 0);
  return width === 0 || height === 0 ? { width: 1280, height: 720 } : { width, height };
}

/** Frame rates encoders use; a measured rate (a few seconds of frames, start-up bursts included) snaps to the nearest. */
const COMMON_FPS = [10, 15, 24, 25, 30, 50, 60];

/** The stream's frame rate: its onMetaData `framerate`, else the measured rate snapped, else 25. */
function frameRate(meta: Record<string, unknown>, measured: number): number {
  const declared = meta.framerate ?? meta.fps;
  if (typeof declared === 'number' && declared >= 1 && declared <= 120) return Math.min(60, Math.round(declared));
  if (measured < 1) return 25;
  return COMMON_FPS.reduce((best, f) => (Math.abs(f - measured) < Math.abs(best - measured) ? f : best));
}

/** What to encode for a stream: its codecs where the slate can match them, its size and rate. */
export function slateParams(req: SlateRequest): SlateParams {
  const v = req.tracks.video;
  const a = req.tracks.audio;
  const fps = frameRate(req.meta, req.fps);
  return {
    video: v === undefined && a !== undefined ? null : { codec: v?.codec === 'hevc' ? 'hevc' : 'avc', ...size(req.meta), fps },
    audio: a === undefined ? null : a.codec === 'opus'
      ? { codec: 'opus', sampleRate: 48_000, channels: Math.min(2, a.channels ?? 2) }
      : { codec: 'aac', sampleRate: a.sampleRate ?? 48_000, channels: Math.min(2, a.channels ?? 2) },
  };
}

/** ffmpeg arguments: one GOP (1 s) of `image` and 1 s of silence, as MPEG-TS on stdout. */
export function slateArgs(p: SlateParams, image: string): string[] {
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-threads', '1'];
  if (p.video !== null) args.push('-loop', '1', '-framerate', String(p.video.fps), '-i', image);
  if (p.audio !== null) args.push('-f', 'lavfi', '-i', `anullsrc=r=${p.audio.sampleRate}:cl=${p.audio.channels === 1 ? 'mono' : 'stereo'}`);
  if (p.video !== null) {
    const { width: w, height: h, fps } = p.video;
    args.push('-map', '0:v', '-frames:v', String(fps),
      '-vf', `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p`);
    // One closed GOP without B-frames: the loop restarts at a keyframe and pts = dts.
    if (p.video.codec === 'hevc') args.push('-c:v', 'libx265', '-preset', 'veryfast', '-x265-params', `keyint=${fps}:min-keyint=${fps}:bframes=0:scenecut=0:log-level=error`, '-tag:v', 'hvc1');
    else args.push('-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'stillimage', '-profile:v', 'high', '-g', String(fps), '-bf', '0', '-sc_threshold', '0');
  }
  if (p.audio !== null) {
    args.push('-map', `${p.video === null ? 0 : 1}:a`, '-t', '1');
    if (p.audio.codec === 'opus') args.push('-c:a', 'libopus', '-b:a', '32k');
    else args.push('-c:a', 'aac', '-b:a', '64k');
  }
  args.push('-f', 'mpegts', 'pipe:1');
  return args;
}

/** Split demuxed units into a loopable clip (timestamps from 0); null when a track came out empty. */
export function clipFromUnits(units: MediaUnit[], p: SlateParams): SlateClip | null {
  const vConfig = units.find((u) => u.kind === 'video' && u.config);
  const aConfig = units.find((u) => u.kind === 'audio' && u.config);
  const vFrames = units.filter((u) => u.kind === 'video' && !u.config);
  const aFrames = units.filter((u) => u.kind === 'audio' && !u.config);
  let video: SlateClip['video'] = null;
  if (p.video !== null) {
    const first = vFrames.findIndex((u) => u.keyframe);
    if (vConfig === undefined || first < 0) return null;
    const gop = vFrames.slice(first);
    const t0 = gop[0]!.dts;
    const frameMs = 1000 / p.video.fps;
    const frames = gop.map((u) => ({ ...u, dts: u.dts - t0, pts: u.pts - t0 }));
    video = { config: vConfig, frames, durationMs: Math.round(frames.length * frameMs) };
  }
  let audio: SlateClip['audio'] = null;
  if (p.audio !== null) {
    // Frames past the encoder's priming are digital silence and identical: repeat one of them.
    if (aConfig === undefined || aFrames.length < 4) return null;
    const frame = aFrames[Math.floor(aFrames.length / 2)]!;
    const frameMs = p.audio.codec === 'opus' ? (aFrames[2]!.dts - aFrames[1]!.dts || 20) : (1024 * 1000) / p.audio.sampleRate;
    audio = { config: aConfig, frame, frameMs };
  }
  const meta = p.video === null ? {} : { width: p.video.width, height: p.video.height, framerate: p.video.fps, encoder: 'strom slate' };
  return { video, audio, meta };
}

/** Renders and caches slate clips (the hub's SlateSource). */
export class SlateRenderer implements SlateSource {
  readonly stats: SlateRenderStats = { renders: 0, failures: 0, cacheHits: 0 };
  private readonly clips = new Map<string, Promise<SlateClip>>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    /** The picture (PNG/JPEG); null: the built-in one. */
    private readonly image: string | null,
    private readonly log: Logger,
  ) {}

  /** A clip for `req`'s parameters: cached, or rendered once (concurrent callers share the run). */
  clipFor(req: SlateRequest): Promise<SlateClip> {
    const p = slateParams(req);
    const key = JSON.stringify(p);
    const hit = this.clips.get(key);
    if (hit !== undefined) {
      this.stats.cacheHits++;
      this.clips.delete(key); // re-insert: most recently used last
      this.clips.set(key, hit);
      return hit;
    }
    const clip = this.render(p);
    this.clips.set(key, clip);
    clip.catch(() => this.clips.delete(key)); // a failure is not cached: the next stream tries again
    while (this.clips.size > MAX_CLIPS) this.clips.delete(this.clips.keys().next().value!);
    return clip;
  }

  private async render(p: SlateParams): Promise<SlateClip> {
    const image = this.image ?? DEFAULT_SLATE_IMAGE;
    if (p.video !== null && !existsSync(image)) throw fail('LIVE_SLATE_FAILED', `live.slateImage ${image} does not exist`);
    await this.slot();
    const started = performance.now();
    try {
      // A live stream waits for its slate: Strom's own priority, not the VOD jobs' lower one.
      const r = await runTool('ffmpeg', slateArgs(p, image), { binaryStdout: true, timeoutMs: RENDER_TIMEOUT_MS, niceness: 0 });
      if (r.code !== 0 || r.stdoutBytes === undefined) throw fail('LIVE_SLATE_FAILED', `ffmpeg exited with ${r.code ?? 'a signal'}: ${r.stderr.trim().split('\n').at(-1) ?? ''}`);
      const units: MediaUnit[] = [];
      const demuxer = new TsDemuxer({ unit: (u) => units.push(u) });
      demuxer.push(r.stdoutBytes);
      demuxer.flush();
      const clip = clipFromUnits(units, p);
      if (clip === null) throw fail('LIVE_SLATE_FAILED', 'ffmpeg output has no usable GOP or audio');
      this.stats.renders++;
      this.log.info({ params: p, ms: Math.round(performance.now() - started), frames: clip.video?.frames.length ?? 0 }, 'slate rendered');
      return clip;
    } catch (err) {
      this.stats.failures++;
      throw err;
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /** Wait for one of the `MAX_RENDERS` ffmpeg slots. */
  private async slot(): Promise<void> {
    if (this.running >= MAX_RENDERS) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
  }
}
