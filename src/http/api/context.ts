/** What every API route plugin receives: config, store, playback tokens, the delivery origin. */
import type { Config } from '../../config.js';
import type { Store } from '../../store/db/database.js';
import type { PlaybackTokens } from '../../auth/playback-tokens.js';
import type { Delivery } from '../delivery/delivery-handler.js';
import type { LiveStreamStatus } from '../../live/stream/stream-registry.js';
import type { RestreamService } from '../../live/restream/restream-service.js';
import type { PullManager } from '../../live/pull/pull-manager.js';

/** Shared dependencies of the API plugins. */
export interface ApiContext {
  config: Config;
  store: Store;
  tokens: PlaybackTokens;
  delivery: Delivery;
  /** The RTMP port actually bound (set by the live server once listening), else `rtmp.port`. */
  rtmpPort: () => number;
  /** Bound SRT port, or null when SRT is off or not yet listening. */
  srtPort: () => number | null;
  /** Bound RTSP port, or null when RTSP is off or not yet listening. */
  rtspPort: () => number | null;
  /** Runtime state of a live stream from the stream hub (or, in a cluster, the origin map), or null when it has none. */
  liveStatus: (id: string) => LiveStreamStatus | null | Promise<LiveStreamStatus | null>;
  /** The restreaming outputs' runtime (null until the live server is wired). */
  restream: () => RestreamService | null;
  /** The pulled sources' runtime (null until the live server is wired). */
  pull: () => PullManager | null;
}

/** ISO-8601 text of an epoch-ms time. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
