/**
 * Live thumbnails: a JPEG of a stream's latest keyframe, for library cards and the live page
 * (`GET /live/<streamId>/thumbnail.jpg`, thumbnail-routes.ts). The hub keeps the latest keyframe
 * of every stream (`LiveStream.latestKeyframe`); it is turned into an Annex B elementary stream —
 * the parameter sets of the decoder configuration (AVC: SPS/PPS; HEVC: VPS/SPS/PPS) followed by
 * the keyframe's NAL units — and ffmpeg decodes that one frame into a scaled JPEG.
 *
 * Bounded on every side: per stream at most one render per `live.thumbnailIntervalMs` (requests in
 * the interval get the cached JPEG; concurrent requests share the one ffmpeg run; a render that
 * failed is not retried within the interval either), at most `live.thumbnailMaxRenders` ffmpeg
 * runs across all streams (over it: the previous JPEG, or 503 BUSY), each killed after
 * `live.thumbnailTimeoutMs`. A stream's cached JPEG is dropped when its publisher stops.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../../config.js';
import { fail, failWith, isStromError, type StromError } from '../../errors.js';
import { parseAvcConfig, parseHevcConfig, splitLengthPrefixed } from '../formats/video/nal.js';
import type { MediaUnit } from '../stream/media-unit.js';
import type { StreamRegistry } from '../stream/stream-registry.js';

/** One rendered thumbnail. */
export interface Thumbnail {
  jpeg: Buffer;
  /** Strong validator: a hash of the JPEG. */
  etag: string;
  /** When it was rendered (or last found still current), ms since the epoch. */
  at: number;
}

/** What the renderer needs from the configuration. */
export type ThumbnailOptions = Pick<Config['live'], 'thumbnailIntervalMs' | 'thumbnailWidth' | 'thumbnailMaxRenders' | 'thumbnailTimeoutMs'> & { ffmpegPath: string };

/** Monotonic totals, read by the metrics at scrape time. */
export class ThumbnailStats {
  /** ffmpeg runs that produced a JPEG. */
  renders = 0;
  /** ffmpeg runs that failed (exit status, no output, unusable keyframe). */
  failures = 0;
  /** ffmpeg runs killed after `live.thumbnailTimeoutMs`. */
  timeouts = 0;
  /** Requests answered 503 because `live.thumbnailMaxRenders` runs were going and no earlier JPEG existed. */
  refused = 0;
  /** ffmpeg runs going now. */
  running = 0;
}

/** Per-stream state: the last JPEG, the run in progress, the last failure. */
interface Entry {
  thumb: Thumbnail | null;
  /** The keyframe `thumb` was rendered from (no new render while it is still the latest). */
  source: MediaUnit | null;
  pending: Promise<Thumbnail> | null;
  failure: { at: number; err: StromError } | null;
}

const START_CODE = Buffer.from([0, 0, 0, 1]);
/** Largest JPEG accepted from ffmpeg (a 1920 px frame is far below it). */
const MAX_JPEG_BYTES = 8 * 1024 * 1024;

/**
 * The keyframe as an Annex B elementary stream with the parameter sets in front, and the ffmpeg
 * demuxer that reads it; a catalog error for codecs other than H.264 and HEVC.
 */
export function keyframeAnnexB(streamId: string, unit: MediaUnit, config: MediaUnit): { format: 'h264' | 'hevc'; data: Buffer } {
  if (unit.codec !== 'avc' && unit.codec !== 'hevc') throw fail('LIVE_THUMBNAIL_UNSUPPORTED', streamId, unit.codec);
  const rec = unit.codec === 'avc' ? parseAvcConfig(config.payload) : parseHevcConfig(config.payload);
  if (rec === null) throw fail('LIVE_THUMBNAIL_FAILED', streamId, 'malformed decoder configuration record');
  const nalus = splitLengthPrefixed(unit.payload, rec.lengthSize);
  if (nalus === null || nalus.length === 0) throw fail('LIVE_THUMBNAIL_FAILED', streamId, 'malformed keyframe');
  const parts: Buffer[] = [];
  for (const n of [...rec.nalus, ...nalus]) parts.push(START_CODE, n);
  return { format: unit.codec === 'avc' ? 'h264' : 'hevc', data: Buffer.concat(parts) };
}

/** ffmpeg arguments: one frame of `format` from stdin, at most `width` wide, as a JPEG on stdout. */
export function thumbnailArgs(format: 'h264' | 'hevc', width: number): string[] {
  return ['-hide_banner', '-loglevel', 'error', '-nostdin', '-threads', '1', '-f', format, '-i', 'pipe:0', '-an', '-frames:v', '1',
    '-vf', `scale='min(${width},iw)':-2:flags=bilinear,format=yuvj420p`, '-q:v', '5', '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1'];
}

/** Run ffmpeg on `input`; resolves with its stdout, rejects with the reason it failed. */
function runFfmpeg(ffmpeg: string, args: string[], input: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    let why: string | null = null;
    const timer = setTimeout(() => {
      why = `ffmpeg killed after ${timeoutMs} ms`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > MAX_JPEG_BYTES) {
        why ??= `output over ${MAX_JPEG_BYTES} bytes`;
        child.kill('SIGKILL');
      } else out.push(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 2000) stderr += d.toString();
    });
    child.stdin.on('error', () => undefined); // EPIPE when ffmpeg exits early: its exit status tells why
    child.on('error', (err) => {
      why ??= `cannot run ffmpeg: ${err.message}`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (why === null && code === 0 && outBytes > 0) return resolve(Buffer.concat(out));
      const last = stderr.trim().split('\n').at(-1) ?? '';
      reject(new Error(why ?? (code === 0 ? 'ffmpeg produced no image' : `ffmpeg exited with ${code ?? signal}${last ? `: ${last}` : ''}`)));
    });
    child.stdin.end(input);
  });
}

/** The live thumbnail renderer of one process. */
export class LiveThumbnails {
  readonly stats = new ThumbnailStats();
  readonly metrics: ThumbnailMetrics;
  private readonly entries = new Map<string, Entry>();
  private readonly unsubscribe: () => void;

  constructor(private readonly registry: StreamRegistry, private readonly opts: ThumbnailOptions, private readonly log: Logger) {
    this.metrics = new ThumbnailMetrics(this.stats);
    // A stream's thumbnail ends with its publish; a render still going is not cached (see render).
    this.unsubscribe = registry.events.on('publish.stop', (e) => this.entries.delete(e.streamId));
  }

  /** Streams with a cached thumbnail or a render going (tests, leak checks). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The thumbnail of `streamId`: the cached one while younger than the interval, else a new
   * render. LIVE_STREAM_NOT_FOUND when the stream is not live or has no keyframe yet.
   */
  async get(streamId: string): Promise<Thumbnail> {
    const s = this.registry.active(streamId) ?? (await this.registry.acquire(streamId)); // cluster: pulled from its node
    const kf = s?.latestKeyframe() ?? null;
    if (s === null || kf === null) throw fail('LIVE_STREAM_NOT_FOUND', streamId);
    if (kf.unit.codec !== 'avc' && kf.unit.codec !== 'hevc') throw fail('LIVE_THUMBNAIL_UNSUPPORTED', streamId, kf.unit.codec);
    let e = this.entries.get(streamId);
    if (e === undefined) {
      e = { thumb: null, source: null, pending: null, failure: null };
      this.entries.set(streamId, e);
    }
    const now = Date.now();
    const interval = this.opts.thumbnailIntervalMs;
    if (e.thumb !== null && now - e.thumb.at < interval) return e.thumb;
    if (e.pending !== null) return e.pending;
    if (e.failure !== null && now - e.failure.at < interval) throw e.failure.err;
    if (e.thumb !== null && e.source === kf.unit) { // no keyframe since: the JPEG is still current
      e.thumb = { ...e.thumb, at: now };
      return e.thumb;
    }
    if (this.stats.running >= this.opts.thumbnailMaxRenders) {
      if (e.thumb !== null) return e.thumb; // a little older than the interval beats an error
      this.stats.refused++;
      throw failWith('BUSY', { 'Retry-After': '1' }, 'live thumbnail renderer');
    }
    return this.render(streamId, e, kf.unit, kf.config);
  }

  /** Forget every stream (shutdown); renders still going finish without being cached. */
  close(): void {
    this.unsubscribe();
    this.entries.clear();
  }

  private render(streamId: string, e: Entry, unit: MediaUnit, config: MediaUnit): Promise<Thumbnail> {
    const started = Date.now();
    this.stats.running++;
    const run = (async () => {
      const { format, data } = keyframeAnnexB(streamId, unit, config);
      try {
        return await runFfmpeg(this.opts.ffmpegPath, thumbnailArgs(format, this.opts.thumbnailWidth), data, this.opts.thumbnailTimeoutMs);
      } catch (err) {
        const why = (err as Error).message;
        if (why.startsWith('ffmpeg killed after')) this.stats.timeouts++;
        throw fail('LIVE_THUMBNAIL_FAILED', streamId, why);
      }
    })();
    const cached = () => this.entries.get(streamId) === e; // false once the stream ended
    e.pending = run.then((jpeg) => {
      this.stats.renders++;
      const thumb: Thumbnail = { jpeg, etag: `"${createHash('sha1').update(jpeg).digest('base64url').slice(0, 22)}"`, at: Date.now() };
      if (cached()) {
        e.thumb = thumb;
        e.source = unit;
        e.failure = null;
      }
      this.log.debug({ streamId, bytes: jpeg.length, ms: thumb.at - started }, 'live thumbnail rendered');
      return thumb;
    }, (err: unknown) => {
      this.stats.failures++;
      const se = isStromError(err) ? err : fail('LIVE_THUMBNAIL_FAILED', streamId, String(err));
      if (cached()) e.failure = { at: Date.now(), err: se };
      this.log.warn({ streamId, code: se.code, err: se.message }, 'live thumbnail failed');
      throw se;
    }).finally(() => {
      this.stats.running--;
      e.pending = null;
    });
    return e.pending;
  }
}

/** Prometheus metrics of the live thumbnails; created unregistered, joined by `register`. */
export class ThumbnailMetrics {
  private readonly all: Array<Counter<string> | Gauge<string>>;

  constructor(st: ThumbnailStats) {
    this.all = [
      new Counter({ name: 'strom_live_thumbnail_renders_total', help: 'Live thumbnail ffmpeg runs by result (ok, failed, timeout: killed after live.thumbnailTimeoutMs)', labelNames: ['result'], registers: [], collect() {
        this.reset();
        this.inc({ result: 'ok' }, st.renders);
        this.inc({ result: 'failed' }, st.failures - st.timeouts);
        this.inc({ result: 'timeout' }, st.timeouts);
      } }),
      new Counter({ name: 'strom_live_thumbnail_refused_total', help: 'Live thumbnail requests answered 503 because live.thumbnailMaxRenders ffmpeg runs were going', registers: [], collect() {
        this.reset();
        this.inc(st.refused);
      } }),
      new Gauge({ name: 'strom_live_thumbnail_renders_running', help: 'Live thumbnail ffmpeg runs going now (bounded by live.thumbnailMaxRenders)', registers: [], collect() {
        this.set(st.running);
      } }),
    ];
  }

  /** Join the process registry (once). */
  register(registry: Registry): void {
    for (const m of this.all) registry.registerMetric(m);
  }
}
