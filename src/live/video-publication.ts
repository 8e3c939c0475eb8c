/**
 * A finished recording directory (a live recording, or a clip of the DVR window) becomes the asset
 * of an existing video row: atomic publication (publish-recording.ts, docs/STORAGE.md), then the
 * row goes ready with its duration and size and `video.ready` is published — or, when the
 * publication fails, errored with nothing left under the asset's prefix.
 */
import type { EventBus } from '../events/event-bus.js';
import type { Store } from '../store/db/database.js';
import type { BlobStorage } from '../storage/blob-storage.js';
import { publishRecordingDir } from './recording/publish-recording.js';
import { recordingDurationS, type RecordingInfo } from './recording/vod-manifests.js';

/** What publishing needs. */
export interface VideoPublication {
  store: Store;
  bus: EventBus;
  dataDir: string;
  storage?: BlobStorage;
}

/** Publish `dir` as the asset of `videoId` and settle the row; returns the duration in seconds. */
export async function publishAsVideo(o: VideoPublication, dir: string, info: RecordingInfo, videoId: string): Promise<number> {
  try {
    await publishRecordingDir(dir, videoId, o.dataDir, o.storage);
  } catch (err) {
    await o.store.videos.setStatus(videoId, 'errored', { error: { code: 'TRANSCODE_FAILED', message: `recording could not be published: ${String(err)}` } });
    throw err;
  }
  const durationS = recordingDurationS(info);
  await o.store.videos.setStatus(videoId, 'ready', { progress: 1, playable: true, durationS, width: info.width ?? null, height: info.height ?? null });
  o.bus.publish('video.ready', { videoId, durationS });
  return durationS;
}
