/**
 * Clips as jobs. `create` checks the range against the packaged source, snaps it (clip-range.ts),
 * inserts the clip's video row (`queued`, `clipOf` = source and snapped range, the source's
 * visibility) and queues a `clip` job — bounded by `vod.clipMaxInFlight` unfinished clip jobs over
 * every node. The job runs on the VOD worker pool like a transcode: the clip is packaged in a
 * work folder under `tmp/` and published with one atomic `BlobStorage.publish`, so the asset is
 * complete or absent; the row goes processing → ready (or errored) with the same bus events, and
 * so the same webhooks, as any other video.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../../config.js';
import { fail } from '../../errors.js';
import type { EventBus } from '../../events/event-bus.js';
import type { JobContext } from '../../jobs/worker-pool.js';
import type { Store } from '../../store/db/database.js';
import type { JobRow, VideoRow } from '../../store/db/schema.js';
import type { ClipOf } from '../../store/db/videos-repo.js';
import { assetPrefix, type BlobStorage } from '../../storage/blob-storage.js';
import { packageClip } from './clip-packager.js';
import { planClip, readClipSource } from './clip-source.js';
import { copyClipCaptions } from './clip-captions.js';

/** Job kind of a clip. */
export const CLIP = 'clip';

/** A clip request. */
export interface ClipInput {
  start: number;
  end: number;
  title?: string;
}

/** Dependencies of the clip jobs. */
export interface ClipJobsOptions {
  config: Config;
  store: Store;
  bus: EventBus;
  storage: BlobStorage;
  invalidate: (assetId: string) => void;
  /** Queue the job and wake the pool. */
  enqueue: (clipId: string, payload: { sourceId: string }) => Promise<void>;
  /** The VOD service's failure settling (error on the row, asset removed) when the failure is final. */
  settleFailure: (job: JobRow, videoId: string, err: unknown, ctx: JobContext) => Promise<void>;
  /** Writes caption tracks into a published asset. */
  captions?: { apply(videoId: string): Promise<void> };
}

/** Check the requested range against the source's duration and `vod.clipMinSeconds`, naming the offending value. */
export function checkRange(start: number, end: number, durationS: number, minSeconds: number): void {
  if (!Number.isFinite(start) || start < 0) throw fail('CLIP_RANGE_INVALID', 'start', start, 'must be a number of seconds ≥ 0');
  if (!Number.isFinite(end) || end <= start) throw fail('CLIP_RANGE_INVALID', 'end', end, `must be greater than start (${start})`);
  if (start >= durationS) throw fail('CLIP_RANGE_INVALID', 'start', start, `is beyond the video's duration of ${durationS.toFixed(3)} s`);
  if (end > durationS + 0.001) throw fail('CLIP_RANGE_INVALID', 'end', end, `is beyond the video's duration of ${durationS.toFixed(3)} s`);
  if (end - start < minSeconds) throw fail('CLIP_RANGE_INVALID', 'end', end, `makes a clip of ${(end - start).toFixed(3)} s, shorter than vod.clipMinSeconds (${minSeconds} s)`);
}

/** Clip creation and the `clip` job handler. */
export class ClipJobs {
  private readonly created: Counter<string>;
  private readonly finished: Counter<string>;
  private readonly running: Gauge<string>;
  private active = 0;

  constructor(private readonly o: ClipJobsOptions) {
    this.created = new Counter({ name: 'strom_clips_created_total', help: 'Clips accepted by POST /api/v1/videos/:id/clips', registers: [] });
    this.finished = new Counter({ name: 'strom_clips_finished_total', help: 'Clip jobs finished on this node, by result (ready, failed)', labelNames: ['result'], registers: [] });
    const active = () => this.active;
    this.running = new Gauge({ name: 'strom_clips_running', help: 'Clip jobs being packaged on this node', registers: [], collect() {
      this.set(active());
    } });
  }

  /** Join the process registry (once). */
  register(registry: Registry): void {
    for (const m of [this.created, this.finished, this.running]) registry.registerMetric(m);
  }

  /** Validate, snap and queue a clip of `source`; returns the new video row. */
  async create(source: VideoRow, input: ClipInput): Promise<VideoRow> {
    const { store, config } = this.o;
    if (source.status !== 'ready') throw fail('VIDEO_NOT_READY', source.id, source.status);
    // Its segments are ciphertext under keys derived from its own id: a copy would not play.
    if (source.protection !== 'none') throw fail('PROTECTED_MEDIA', source.id, source.protection, 'clips of protected videos are not made');
    const src = await readClipSource(this.o.storage, source.id);
    checkRange(input.start, input.end, src.durationS, config.vod.clipMinSeconds);
    const plan = planClip(src, input.start, input.end);
    const limit = config.vod.clipMaxInFlight;
    if ((await store.jobs.countActive(CLIP)) >= limit) throw fail('CLIPS_BUSY', limit);
    const clipOf: ClipOf = { videoId: source.id, start: plan.range.start, end: plan.range.end };
    const row = await store.videos.create({
      title: input.title ?? `${source.title || source.id} (${plan.range.start}–${plan.range.end} s)`,
      description: source.description, visibility: source.visibility, status: 'queued', clipOf,
    });
    this.o.bus.publish('video.created', { videoId: row.id, title: row.title });
    try {
      await this.o.enqueue(row.id, { sourceId: source.id });
    } catch (err) {
      await store.videos.delete(row.id); // no clip row without its job
      this.o.bus.publish('video.deleted', { videoId: row.id });
      throw err;
    }
    this.created.inc();
    return row;
  }

  /** The `clip` job: package into a work folder, publish atomically, settle the row. */
  async run(job: JobRow, ctx: JobContext): Promise<void> {
    const { store, bus, storage } = this.o;
    const clipId = job.video_id;
    if (clipId === null) throw fail('JOB_FAILED', job.id, 'clip job without a video');
    const clip = await store.videos.get(clipId);
    if (!clip) return ctx.log.info('clip was deleted; nothing to do');
    const clipOf = clip.clip_of ? (JSON.parse(clip.clip_of) as ClipOf) : null;
    if (!clipOf) throw fail('JOB_FAILED', job.id, `video ${clipId} is not a clip`);
    const work = path.join(this.o.config.dataDir, 'tmp', `${clipId}-${randomBytes(4).toString('hex')}`);
    const outDir = path.join(work, 'asset');
    this.active++;
    try {
      // A crashed earlier attempt may have published: start from nothing (publish needs an empty prefix).
      await storage.deletePrefix(assetPrefix(clipId));
      await store.videos.setStatus(clipId, 'processing', { progress: 0, error: null, playable: false });
      bus.publish('video.progress', { videoId: clipId, phase: 'clip', percent: 0 });
      const source = await store.videos.get(clipOf.videoId);
      if (!source || source.status !== 'ready') throw fail('VIDEO_NOT_READY', clipOf.videoId, source?.status ?? 'deleted');
      const src = await readClipSource(storage, source.id);
      const plan = planClip(src, clipOf.start, clipOf.end);
      await mkdir(outDir, { recursive: true });
      const summary = await packageClip({ storage, src, plan, outDir, workDir: work, posterWidth: source.width ?? 640, signal: ctx.signal });
      await storage.publish(outDir, assetPrefix(clipId));
      this.o.invalidate(clipId);
      if (await copyClipCaptions(store, source.id, clipId, plan.range) > 0) {
        await this.o.captions?.apply(clipId).catch((err: unknown) => ctx.log.warn({ err }, 'could not write the caption tracks into the clip'));
      }
      await store.videos.setStatus(clipId, 'ready', {
        progress: 1, playable: true, durationS: summary.durationS, width: source.width, height: source.height,
        metadata: { renditions: summary.renditions, clipBytes: summary.bytes },
      });
      bus.publish('video.ready', { videoId: clipId, durationS: summary.durationS });
      this.finished.inc({ result: 'ready' });
    } catch (err) {
      this.finished.inc({ result: 'failed' });
      await this.o.settleFailure(job, clipId, err, ctx);
      throw err;
    } finally {
      this.active--;
      await rm(work, { recursive: true, force: true });
    }
  }
}
