/**
 * The standby slot of a live stream (backup ingest): a second publisher whose units are not
 * fanned out but kept, so a switch to it starts at a keyframe at once. It holds the standby's
 * decoder configurations, its onMetaData and its latest GOP (from its last video keyframe, bounded
 * like the stream's GOP cache; over the bound it is emptied until the next keyframe). Timestamps
 * stay as the standby's encoder sent them: the stream rebases them when it promotes the standby.
 */
import { unitBytes, type MediaUnit } from './media-unit.js';
import type { Publisher } from './publisher.js';

/** How much audio an audio-only standby keeps (ms). */
const AUDIO_WINDOW_MS = 1000;

/** Why a publisher waits in the standby slot. */
export type StandbyRole =
  /* a backup while the primary is live: promoted when the primary leaves */ 'backup'
  | /* a returning primary while the backup is live: promoted at its first keyframe */ 'primary';

/** A publisher waiting in the standby slot and what it has sent so far. */
export class StandbyFeed {
  /** Latest sequence headers by track. */
  video: MediaUnit | null = null;
  audio: MediaUnit | null = null;
  /** Latest onMetaData unit and its object. */
  metadata: MediaUnit | null = null;
  meta: Record<string, unknown> = {};
  /** Units since the latest video keyframe (raw encoder timestamps). */
  gop: MediaUnit[] = [];
  private gopBytes = 0;
  /** Whether a video frame was seen (an audio-only standby caches from any audio frame). */
  private sawVideo = false;

  constructor(
    readonly publisher: Publisher,
    readonly role: StandbyRole,
    private readonly maxBytes: number,
  ) {}

  /** Keep one unit; returns true when a GOP starts with it (a video keyframe, or an audio-only feed's first frame). */
  push(u: MediaUnit): boolean {
    if (u.config) {
      if (u.kind === 'video') this.video = u;
      else if (u.kind === 'audio') this.audio = u;
      else this.metadata = u;
      return false;
    }
    if (u.kind === 'data') {
      this.metadata = u;
      return false;
    }
    if (u.kind === 'video') this.sawVideo = true;
    // Without video (no sequence header, no frame) every audio frame is a random access point: keep
    // about the last second, so a switch replays little old audio.
    const audioOnly = !this.sawVideo && this.video === null;
    const starts = u.kind === 'video' ? u.keyframe : audioOnly && (this.gop.length === 0 || u.dts - this.gop[0]!.dts >= AUDIO_WINDOW_MS);
    if (starts) {
      this.gop = [u];
      this.gopBytes = unitBytes(u);
      return true;
    }
    if (this.gop.length === 0) return false;
    this.gopBytes += unitBytes(u);
    if (this.gopBytes > this.maxBytes) {
      this.gop = [];
      this.gopBytes = 0;
    } else this.gop.push(u);
    return false;
  }
}
