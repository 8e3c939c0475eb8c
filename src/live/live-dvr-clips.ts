/**
 * `POST /api/v1/live-streams/:id/clips`: a clip of what a live stream's LL-HLS muxer still holds
 * (its DVR window, `llhls.dvrWindowS`; without DVR only the short LL window, and only while a muxer
 * runs) becomes a ready video in the request: the segments are copied out of memory at once
 * (recording/dvr-clip.ts) and published like a recording (video-publication.ts). The range is
 * `{start, end}` in seconds relative to the live edge (≤ 0), or `{last: N}` for `{start: -N,
 * end: 0}`; it is widened to segment boundaries and the snapped range is answered. Clips in
 * progress on this node are bounded by `vod.clipMaxInFlight`.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { fail } from '../errors.js';
import type { VideoRow, Visibility } from '../store/db/schema.js';
import type { LlHlsService } from './ll-hls/ll-hls-service.js';
import { dvrSelection, writeDvrClip } from './recording/dvr-clip.js';
import { streamTracksInfo } from './recording/live-recorder.js';
import type { StreamRegistry } from './stream/stream-registry.js';
import { publishAsVideo, type VideoPublication } from './video-publication.js';

/** A requested range: seconds relative to the live edge. */
export interface DvrClipRange {
  start: number;
  end: number;
}

/** Check a DVR clip range: both ≤ 0, start before end; `last` is the same as `{start: -last, end: 0}`. */
export function dvrRange(body: { start?: number; end?: number; last?: number }): DvrClipRange {
  if (body.last !== undefined) {
    if (body.start !== undefined || body.end !== undefined) throw fail('CLIP_RANGE_INVALID', 'last', body.last, 'give either last or start/end, not both');
    if (!(body.last > 0)) throw fail('CLIP_RANGE_INVALID', 'last', body.last, 'must be a number of seconds > 0');
    return { start: -body.last, end: 0 };
  }
  const start = body.start ?? Number.NaN;
  const end = body.end ?? 0;
  if (!(start <= 0)) throw fail('CLIP_RANGE_INVALID', 'start', start, 'must be seconds relative to the live edge, ≤ 0 (e.g. -30)');
  if (!(end <= 0)) throw fail('CLIP_RANGE_INVALID', 'end', end, 'must be seconds relative to the live edge, ≤ 0');
  if (end <= start) throw fail('CLIP_RANGE_INVALID', 'end', end, `must be greater than start (${start})`);
  return { start, end };
}

/** Clips of live streams' DVR windows. */
export class LiveDvrClips {
  private inFlight = 0;

  constructor(private readonly o: { registry: StreamRegistry; llhls: LlHlsService; publication: VideoPublication; tmpDir: string; maxInFlight: number }) {}

  /** Cut `range` out of the window of `streamId` into a new ready video (titled `title`, the stream's visibility). */
  async clip(streamId: string, range: DvrClipRange, o: { title: string; visibility: Visibility }): Promise<{ video: VideoRow; start: number; end: number }> {
    if (this.o.registry.get(streamId)?.active !== true) throw fail('LIVE_CLIP_UNAVAILABLE', streamId, 'the stream is not live on this node');
    const mux = this.o.llhls.running(streamId);
    if (mux === null) throw fail('LIVE_CLIP_UNAVAILABLE', streamId, 'no DVR window is held (llhls.dvrWindowS is 0 and nobody watches)');
    if (this.inFlight >= this.o.maxInFlight) throw fail('CLIPS_BUSY', this.o.maxInFlight);
    const picked = dvrSelection(mux.segments, streamId, range.start, range.end);
    const dir = path.join(this.o.tmpDir, `dvrclip-${streamId}-${randomBytes(4).toString('hex')}`);
    // The copy out of the muxer starts in this tick (writeDvrClip reads every buffer before its first await).
    const written = writeDvrClip(mux, picked.segments, dir, streamTracksInfo(this.o.registry, streamId));
    this.inFlight++;
    const { store, bus } = this.o.publication;
    try {
      const info = await written;
      const video = await store.videos.create({ title: o.title, visibility: o.visibility, status: 'processing', metadata: { liveStreamId: streamId, dvrClip: { start: picked.start, end: picked.end } } });
      bus.publish('video.created', { videoId: video.id, title: video.title });
      await publishAsVideo(this.o.publication, dir, info, video.id);
      return { video: (await store.videos.get(video.id)) ?? video, start: picked.start, end: picked.end };
    } finally {
      this.inFlight--;
      await rm(dir, { recursive: true, force: true });
    }
  }
}
