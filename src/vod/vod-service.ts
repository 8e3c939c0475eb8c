/**
 * The VOD service: connects uploads, the durable job queue and the transcode engine. `enqueue`
 * adds a `transcode` job for a video whose source is stored; the worker pool runs it through
 * `processVideo`, mirrors progress into the video row (throttled) and onto the event bus, and
 * settles the video as `ready` or `errored` (with the engine's error code and message).
 * A re-run after a crash first removes whatever an earlier attempt had published, so an asset is
 * never half-published or duplicated.
 *
 * With object storage (`storage.kind = s3`) the job runs on whichever node leases it: the source is
 * downloaded from the bucket to the node's `tmp/`, transcoded there, and the finished asset is
 * published through the storage's atomic publication (no progressive playback before it is
 * complete); the downloaded source is removed whatever happens.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { fail, isStromError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { Store } from '../store/db/database.js';
import type { JobRow, VideoRow } from '../store/db/schema.js';
import type { ContentKeys } from './protection/content-keys.js';
import { mediaProtector, type MediaProtector } from './protection/media-protector.js';
import { WorkerPool, isTransient, type JobContext, type JobHandler } from '../jobs/worker-pool.js';
import { processVideo, type AssetSummary, type VodProgress } from './process-video.js';
import { assetPrefix, STORAGE_URI, type BlobStorage } from '../storage/blob-storage.js';
import { createStorage } from '../storage/create-storage.js';
import { sweepStaging } from '../storage/staging-sweep.js';
import { setToolNiceness, setToolPaths } from './ffmpeg-runner.js';

/** Job kind of a transcode. */
export const TRANSCODE = 'transcode';

/** Dependencies of the service. */
export interface VodServiceOptions {
  config: Config;
  store: Store;
  bus: EventBus;
  log: Logger;
  /** Drop cached delivery metadata of an asset (it is being republished). */
  invalidate: (assetId: string) => void;
  /** Caption tracks: written again into every freshly packaged asset (its manifests come without them). */
  captions?: { apply(videoId: string): Promise<void> };
  /** Media storage: where sources are read from and assets published to (default: the one `config.storage` names). */
  storage?: BlobStorage;
  /** Other job kinds run by the same pool (clips), by kind. */
  handlers?: Record<string, JobHandler>;
  /** Content keys of protected videos (src/vod/protection); without them a protected video's job fails. */
  keys?: ContentKeys;
}

/** Where the original of a video is kept (docs/STORAGE.md). */
export function sourceDir(dataDir: string, videoId: string): string {
  return path.join(dataDir, 'sources', videoId);
}

/** Upload → queue → transcode → publish. */
export class VodService {
  readonly pool: WorkerPool;
  private readonly assetsDir: string;
  private readonly tmpDir: string;
  private readonly storage: BlobStorage;

  constructor(private readonly o: VodServiceOptions) {
    this.assetsDir = path.join(o.config.dataDir, 'assets');
    this.tmpDir = path.join(o.config.dataDir, 'tmp');
    this.storage = o.storage ?? createStorage(o.config);
    setToolPaths({ ffmpeg: o.config.vod.ffmpegPath, ffprobe: o.config.vod.ffprobePath });
    setToolNiceness(o.config.vod.toolNiceness);
    this.pool = new WorkerPool({
      jobs: o.store.jobs,
      log: o.log,
      handlers: { ...o.handlers, [TRANSCODE]: (job, ctx) => this.transcode(job, ctx) },
      concurrency: o.config.jobs.concurrency,
      timeoutMs: o.config.vod.jobTimeoutMs,
      leaseMs: o.config.jobs.leaseMs,
      pollMs: o.config.jobs.pollMs,
      retryBaseMs: o.config.jobs.retryBaseMs,
    });
  }

  /**
   * Start running jobs. On SQLite (one node) jobs left `running` by a killed process are queued
   * again first; on a shared PostgreSQL another node may hold them, so only lease expiry frees them.
   */
  async start(): Promise<void> {
    if (!this.o.config.jobs.enabled || this.o.config.jobs.concurrency === 0) return void this.o.log.info('jobs.enabled is false or jobs.concurrency is 0: this node queues jobs but runs none');
    const n = await this.o.store.jobs.recoverOrphans();
    if (n > 0) this.o.log.warn({ jobs: n }, 'requeued jobs interrupted by an earlier stop');
    this.pool.start();
    // Object storage: publications a crashed node left under staging/ (never served) are deleted.
    if (this.storage.kind !== 'fs') {
      sweepStaging(this.storage).then((removed) => {
        if (removed.length > 0) this.o.log.warn({ folders: removed }, 'deleted abandoned publication staging folders');
      }, (err: unknown) => this.o.log.warn({ err }, 'could not sweep publication staging folders'));
    }
  }

  /** Queue a job of another kind (`handlers`) for a video and wake the pool. */
  async enqueueJob(kind: string, videoId: string, payload: unknown): Promise<void> {
    await this.o.store.jobs.enqueue({ kind, videoId, maxAttempts: this.o.config.jobs.maxAttempts, payload });
    this.o.bus.publish('video.queued', { videoId });
    this.pool.kick();
  }

  /** Queue the transcode of a stored source. */
  async enqueue(videoId: string): Promise<void> {
    const row = await this.o.store.videos.get(videoId);
    if (row && row.status !== 'queued') await this.o.store.videos.setStatus(videoId, 'queued', { progress: 0 });
    await this.o.store.jobs.enqueue({ kind: TRANSCODE, videoId, maxAttempts: this.o.config.jobs.maxAttempts });
    this.o.bus.publish('video.queued', { videoId });
    this.pool.kick();
  }

  /** Stop the running transcode of a deleted video (its queued jobs are cancelled in the table). */
  cancel(videoId: string): void {
    this.pool.cancelVideo(videoId);
  }

  /** Stop: running jobs are aborted and go back to the queue for the next start. */
  stop(): Promise<void> {
    return this.pool.stop();
  }

  private async transcode(job: JobRow, ctx: JobContext): Promise<void> {
    const { store, bus } = this.o;
    const videoId = job.video_id;
    if (videoId === null) throw fail('JOB_FAILED', job.id, 'transcode job without a video');
    const video = await store.videos.get(videoId);
    if (!video) return ctx.log.info('video was deleted; nothing to do');
    if (!video.source_path) throw fail('JOB_FAILED', job.id, `video ${videoId} has no stored source`);
    // A crashed earlier attempt may have published part of the asset or left its work directory
    // (processVideo names it `<assetId>-<random>`): start from nothing.
    await this.removeAsset(videoId);
    for (const name of await readdir(this.tmpDir).catch(() => [] as string[])) {
      if (name.startsWith(`${videoId}-`)) await rm(path.join(this.tmpDir, name), { recursive: true, force: true });
    }
    this.o.invalidate(videoId);
    await store.videos.setStatus(videoId, 'processing', { progress: 0, error: null, playable: false });

    let lastWrite = 0;
    const onProgress = (p: VodProgress) => {
      bus.publish('video.progress', { videoId, phase: p.phase, percent: p.percent, speed: p.speed, etaS: p.etaS ?? undefined });
      const now = Date.now();
      if (now - lastWrite < 1000 && p.phase !== 'done') return; // the row needs no more than 1 write/s
      lastWrite = now;
      void store.videos.update(videoId, { progress: Math.min(1, p.percent / 100) }).catch(() => undefined);
    };
    const onPlayable = () => {
      this.o.invalidate(videoId);
      void store.videos.update(videoId, { playable: true }).then(() => bus.publish('video.playable', { videoId }), () => undefined);
    };
    let summary: AssetSummary;
    const inStorage = video.source_path.startsWith(STORAGE_URI);
    // A source kept in object storage is fetched to this node first (ffmpeg needs a file).
    const localSource = inStorage ? path.join(this.tmpDir, `${videoId}-source-${randomBytes(4).toString('hex')}`) : video.source_path;
    try {
      if (inStorage) {
        await mkdir(this.tmpDir, { recursive: true });
        await this.storage.download(video.source_path.slice(STORAGE_URI.length), localSource);
      }
      summary = await processVideo({
        source: localSource, assetsDir: this.assetsDir, tmpDir: this.tmpDir, assetId: videoId,
        config: this.o.config.vod, signal: ctx.signal, onProgress, onPlayable, protector: this.protector(video, job.id),
        publish: this.storage.kind === 'fs' ? undefined : (outDir) => this.storage.publish(outDir, assetPrefix(videoId)),
      });
    } catch (err) {
      await this.settleFailure(job, videoId, err, ctx);
      throw err;
    } finally {
      if (inStorage) await rm(localSource, { force: true });
    }
    this.o.invalidate(videoId);
    // Captions added before this run (a re-run of the job) survive the new manifests.
    if (this.o.captions && (await store.captions.list(videoId)).length > 0) {
      await this.o.captions.apply(videoId).catch((err: unknown) => ctx.log.warn({ err }, 'could not write the caption tracks into the new asset'));
    }
    const top = summary.renditions.find((r) => r.kind === 'video');
    await store.videos.setStatus(videoId, 'ready', {
      progress: 1, playable: true, durationS: summary.durationS, width: top?.width ?? null, height: top?.height ?? null,
      metadata: { ...safeJson(video.metadata), renditions: summary.renditions.map((r) => r.name), audioOnly: summary.audioOnly, speed: summary.speed, timings: summary.timings },
    });
    bus.publish('video.ready', { videoId, durationS: summary.durationS });
  }

  /** The encryption of a protected video's media, undefined for a clear one. */
  private protector(video: VideoRow, jobId: string): MediaProtector | undefined {
    if (video.protection === 'none') return undefined;
    if (!this.o.keys) throw fail('JOB_FAILED', jobId, 'content keys are not available on this node');
    return mediaProtector(video.protection, video.id, this.o.keys, this.o.config.vod.protectionKeyRotationSegments);
  }

  /** Remove whatever is published of an asset (its folder, or its objects in a bucket). */
  private async removeAsset(videoId: string): Promise<void> {
    if (this.storage.kind === 'fs') await rm(path.join(this.assetsDir, videoId), { recursive: true, force: true });
    else await this.storage.deletePrefix(assetPrefix(videoId));
  }

  /** Record a failure on the video when it is final (permanent, timed out or out of attempts): error on the row, asset removed, `video.errored`. */
  async settleFailure(job: JobRow, videoId: string, err: unknown, ctx: JobContext): Promise<void> {
    const reason = ctx.signal.reason as unknown;
    if (ctx.signal.aborted && (reason === 'shutdown' || reason === 'cancelled')) return;
    const e = ctx.signal.aborted && reason === 'timeout' ? fail('JOB_TIMEOUT', job.id, this.o.config.vod.jobTimeoutMs) : err;
    const final = !isTransient(e) || job.attempts >= job.max_attempts;
    if (!final) return;
    const code = isStromError(e) ? e.code : 'JOB_FAILED';
    const message = e instanceof Error ? e.message : String(e);
    await this.removeAsset(videoId);
    this.o.invalidate(videoId);
    await this.o.store.videos.setStatus(videoId, 'errored', { error: { code, message }, playable: false });
    this.o.bus.publish('video.errored', { videoId, code, message });
  }
}

function safeJson(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
