/**
 * The VOD engine's one entry point: source file in, published asset out (docs/VOD.md). Probe →
 * plan → one ffmpeg process for the whole ladder (plus poster and storyboard from the same decode)
 * → progressive publication of finished segments → download MP4 and storyboard map → VOD
 * playlists and MPD. Everything is produced in `tmp/<job>/` and moved into `assets/<id>/` file by
 * file with rename(2). Any failure, timeout or abort removes both the work directory and whatever
 * was already published, so an errored job leaves nothing servable behind. The job store and HTTP
 * API are not this module's business: it reports through callbacks and a returned summary.
 * With `publish` (object storage), the whole asset is built in the work directory and handed to
 * it at the end — the storage's atomic publication — instead of being renamed into `assets/`.
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { fail, isNoSpace, isStromError } from '../errors.js';
import { buildLadderArgs, type ImageOutputs } from './ffmpeg-args.js';
import { runFfmpeg } from './ffmpeg-runner.js';
import { storyboardLayout, storyboardVtt, writeDownloadMp4 } from './extras.js';
import { trackBandwidth } from './hls-manifests.js';
import { parseLadder, planLadder, type Rendition } from './ladder.js';
import { probeMedia, type ProbeResult } from './probe.js';
import { AssetPublisher, moveInto, writeAtomic } from './publisher.js';
import type { MediaProtector } from './protection/media-protector.js';

/** A progress report. `speed` is the encode speed as a multiple of realtime. */
export interface VodProgress {
  phase: 'probe' | 'transcode' | 'package' | 'done';
  percent: number;
  speed: number;
  etaS: number | null;
}

/** Inputs of `processVideo`. */
export interface ProcessVideoOptions {
  source: string;
  /** `<dataDir>/assets`; the asset goes to `<assetsDir>/<assetId>`, which must not exist yet. */
  assetsDir: string;
  /** `<dataDir>/tmp`; the job works in a fresh sub-directory that is always removed. */
  tmpDir: string;
  assetId: string;
  config: Config['vod'];
  signal?: AbortSignal;
  onProgress?: (p: VodProgress) => void;
  /** Called once, when master.m3u8 and every rendition's first segments are published. */
  onPlayable?: (info: { elapsedMs: number }) => void;
  /** Publish segments while encoding (default true); false publishes the whole asset at the end. */
  progressive?: boolean;
  /** Publish the finished asset directory somewhere else (object storage); implies `progressive: false`. */
  publish?: (outDir: string) => Promise<void>;
  /** Encrypt the published media (docs/VOD.md "Content protection"); no MP4 download is made then. */
  protector?: MediaProtector;
}

/** One published rendition. */
export interface RenditionSummary {
  name: string;
  kind: 'video' | 'audio';
  width?: number;
  height?: number;
  fps?: number;
  codecs: string;
  bandwidth: number;
  averageBandwidth: number;
  segments: number;
}

/** What `processVideo` produced. */
export interface AssetSummary {
  assetId: string;
  dir: string;
  durationS: number;
  audioOnly: boolean;
  probe: ProbeResult;
  renditions: RenditionSummary[];
  /** Paths relative to the asset directory. */
  /** `mpd` is null for AES-128 (HLS only) and `download` for every protected asset (it would be clear media). */
  files: { master: string; mpd: string | null; download: string | null; poster: string | null; storyboard: string | null; storyboardVtt: string | null };
  downloadBytes: number;
  timings: { probeMs: number; transcodeMs: number; packageMs: number; totalMs: number; playableMs: number };
  /** Media seconds encoded per wall second over the transcode. */
  speed: number;
}

/** Segments each rendition needs before the asset is announced playable. */
const PLAYABLE_SEGMENTS = 2;
/** How often finished segments are looked for and published. */
const SYNC_INTERVAL_MS = 250;

function imageOutputs(probe: ProbeResult, plan: Rendition[], workDir: string, tiles: number): ImageOutputs | undefined {
  const top = plan.find((r) => r.kind === 'video');
  if (!top || top.kind !== 'video') return undefined;
  const layout = storyboardLayout(probe.durationS, top.width, top.height, tiles);
  return { ...layout, posterAtS: Math.min(probe.durationS * 0.1, 5), posterFile: path.join(workDir, 'poster.jpg'), storyboardFile: path.join(workDir, 'storyboard.jpg') };
}

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

/** Transcode and package `source` into `assets/<assetId>`; throws a catalog error (MEDIA_*, TRANSCODE_*) on failure. */
export async function processVideo(o: ProcessVideoOptions): Promise<AssetSummary> {
  const t0 = performance.now();
  const cfg = o.config;
  const assetDir = path.join(o.assetsDir, o.assetId);
  if (await exists(assetDir)) throw fail('TRANSCODE_FAILED', `asset directory ${assetDir} already exists`);
  const workDir = path.join(o.tmpDir, `${o.assetId}-${randomBytes(4).toString('hex')}`);
  const progressive = o.publish ? false : (o.progressive ?? true);
  const outDir = progressive ? assetDir : path.join(workDir, 'out');
  // One controller for the job: the caller's signal, the job timeout and internal failures stop ffmpeg.
  const job = new AbortController();
  const onAbort = (): void => job.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) job.abort(o.signal.reason);
  const timer = setTimeout(() => job.abort(fail('TRANSCODE_TIMEOUT', cfg.jobTimeoutMs)), cfg.jobTimeoutMs);
  const report = (p: VodProgress): void => o.onProgress?.(p);
  let created = false;
  let publisher: AssetPublisher | undefined;
  try {
    report({ phase: 'probe', percent: 0, speed: 0, etaS: null });
    const probe = await probeMedia(o.source, { limits: cfg, signal: job.signal });
    const probeMs = performance.now() - t0;
    const plan = planLadder(probe, { rungs: parseLadder(cfg.ladder), fpsCap: cfg.fpsCap, audioKbps: cfg.audioKbps });
    for (const r of plan) await mkdir(path.join(workDir, r.name), { recursive: true });
    if (!o.publish) await mkdir(path.dirname(assetDir), { recursive: true });
    await mkdir(outDir, { recursive: false }).catch(async (err: NodeJS.ErrnoException) => {
      throw err.code === 'EEXIST' ? fail('TRANSCODE_FAILED', `asset directory ${assetDir} already exists`) : err;
    });
    created = true;
    const images = imageOutputs(probe, plan, workDir, cfg.storyboardTiles);
    const args = buildLadderArgs({ source: o.source, plan, segmentSeconds: cfg.segmentSeconds, firstSegmentSeconds: cfg.firstSegmentSeconds, preset: cfg.preset, workDir, sourceFps: probe.video?.fps, images });
    publisher = new AssetPublisher({ workDir, outDir, plan, segmentSeconds: cfg.segmentSeconds, startKbps: cfg.startKbps, playableSegments: PLAYABLE_SEGMENTS, protector: o.protector });
    let playableMs = 0;
    const announce = (became: boolean): void => {
      if (!became || !progressive || playableMs > 0) return;
      playableMs = performance.now() - t0;
      o.onPlayable?.({ elapsedMs: playableMs });
    };
    const tEncode = performance.now();
    let speed = 0;
    let outTimeS = 0;
    // Progress: ffmpeg's own report, or (ffmpeg 5.1 withholds `-progress` until every output, the
    // storyboard sprite included, has started) the media time already published.
    const tick = (): void => {
      publisher!.sync().then((became) => {
        announce(became);
        const doneS = Math.max(outTimeS, publisher!.durationS());
        if (doneS <= 0) return;
        if (outTimeS === 0) speed = doneS / ((performance.now() - tEncode) / 1000);
        const left = Math.max(0, probe.durationS - doneS);
        report({ phase: 'transcode', percent: Math.min(95, (doneS / probe.durationS) * 95), speed, etaS: speed > 0 ? left / speed : null });
      }, (err: unknown) => job.abort(err));
    };
    // Segments are published on a timer, independent of progress reports.
    const poll = setInterval(tick, SYNC_INTERVAL_MS);
    try {
      await runFfmpeg(args, {
        signal: job.signal,
        onProgress: (p) => {
          speed = p.speed || speed;
          outTimeS = p.outTimeS;
          tick();
        },
      });
    } finally {
      clearInterval(poll);
    }
    if (job.signal.aborted) throw job.signal.reason;
    announce(await publisher.sync());
    const transcodeMs = performance.now() - tEncode;
    const encodedS = publisher.durationS();
    // ffmpeg exits 0 on a file whose data stops early (truncated mdat): compare with the probed length.
    if (encodedS < probe.durationS * 0.9 - 1) throw fail('MEDIA_DECODE_FAILED', encodedS, `media data ends before the ${probe.durationS.toFixed(1)} s the container declares`);
    report({ phase: 'package', percent: 96, speed, etaS: null });
    const tPackage = performance.now();
    // A protected asset gets no progressive MP4: it would be the clear media (and its segments are ciphertext by now).
    const download = o.protector === undefined;
    const downloadBytes = download ? await writeDownloadMp4({ outDir, workDir, video: publisher.video[0], audio: publisher.audio, to: path.join(workDir, 'download.mp4'), signal: job.signal }) : 0;
    if (download) await moveInto(path.join(workDir, 'download.mp4'), path.join(outDir, 'download.mp4'));
    const hasPoster = images !== undefined && (await exists(images.posterFile));
    if (hasPoster) await moveInto(images.posterFile, path.join(outDir, 'poster.jpg'));
    const hasStoryboard = images !== undefined && (await exists(images.storyboardFile));
    if (hasStoryboard) {
      await moveInto(images.storyboardFile, path.join(outDir, 'storyboard.jpg'));
      await writeAtomic(path.join(outDir, 'storyboard.vtt'), storyboardVtt(images, probe.durationS));
    }
    await publisher.finish();
    if (o.publish) await o.publish(outDir);
    else if (!progressive) await rename(outDir, assetDir);
    // Short sources (fewer segments than PLAYABLE_SEGMENTS) and non-progressive jobs become playable here.
    if (playableMs === 0) {
      playableMs = performance.now() - t0;
      o.onPlayable?.({ elapsedMs: playableMs });
    }
    const packageMs = performance.now() - tPackage;
    const totalMs = performance.now() - t0;
    report({ phase: 'done', percent: 100, speed, etaS: 0 });
    return {
      assetId: o.assetId,
      dir: assetDir,
      durationS: encodedS,
      audioOnly: probe.video === null,
      probe,
      renditions: publisher.tracks.map((t) => {
        const bw = trackBandwidth(t, { segmentSeconds: cfg.segmentSeconds, complete: true });
        const r = t.rendition;
        const geo = r.kind === 'video' ? { width: r.width, height: r.height, fps: r.fps } : {};
        return { name: r.name, kind: r.kind, ...geo, codecs: t.codecs, bandwidth: bw.peak, averageBandwidth: bw.average, segments: t.segments.length };
      }),
      files: { master: 'master.m3u8', mpd: o.protector?.mode === 'aes-128' ? null : 'manifest.mpd', download: download ? 'download.mp4' : null, poster: hasPoster ? 'poster.jpg' : null, storyboard: hasStoryboard ? 'storyboard.jpg' : null, storyboardVtt: hasStoryboard ? 'storyboard.vtt' : null },
      downloadBytes,
      timings: { probeMs, transcodeMs, packageMs, totalMs, playableMs },
      speed: probe.durationS / (transcodeMs / 1000),
    };
  } catch (err) {
    // Let an in-flight segment move finish before removing what was published.
    await publisher?.idle();
    if (created && !o.publish) await rm(assetDir, { recursive: true, force: true }); // a failed publish removes its own objects
    if (isStromError(err)) throw err;
    if (isNoSpace(err)) throw fail('STORAGE_FULL', 'the assets directory');
    throw fail('TRANSCODE_FAILED', err instanceof Error ? err.message : String(err));
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
    await rm(workDir, { recursive: true, force: true });
  }
}
