/**
 * Connects the stream hub to the rest of the process: stream keys resolve through the metadata
 * store (with `live.staticKeys` as a fallback for keys configured by hand), lifecycle events go on
 * the event bus (SSE, webhooks) and into the `live_streams.status` column, `/live/…` playback goes
 * through the same playback guard as VOD (signed streams need a token; media rate limits apply),
 * and the API reads runtime figures (bitrate, fps, codecs, viewers) from the hub.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { EventBus } from '../events/event-bus.js';
import type { ControlPlane } from '../http/api/api.js';
import type { LiveServer } from './live-server.js';
import { staticKeyResolver } from './stream/stream-registry.js';

/** Wire `live` to the store, bus, guard and API; listeners live as long as the process. */
export async function wireLive(live: LiveServer, control: ControlPlane, bus: EventBus, config: Config, log: Logger): Promise<void> {
  const { store } = control;
  // No stream is live before this process has accepted a publisher (a crash may have left 'active').
  await store.db.updateTable('live_streams').set({ status: 'idle' }).where('status', '=', 'active').execute();
  const fallback = staticKeyResolver(config.live.staticKeys);
  live.setResolver(async (key) => {
    const row = await store.liveStreams.findLiveStreamByKey(key);
    return row ? { streamId: row.id } : fallback(key);
  });
  const setStatus = (streamId: string, status: 'active' | 'idle') => {
    store.liveStreams.update(streamId, { status }).catch((err: unknown) => log.warn({ err, streamId }, 'could not record live status'));
  };
  live.events.on('publish.start', (e) => {
    setStatus(e.streamId, 'active');
    bus.publish('live.publish.start', { streamId: e.streamId, sessionId: e.sessionId, remote: e.remote });
  });
  live.events.on('publish.stop', (e) => {
    if (live.status(e.streamId).state !== 'active') setStatus(e.streamId, 'idle'); // not on takeover
    bus.publish('live.publish.stop', { streamId: e.streamId, sessionId: e.sessionId, reason: e.reason });
  });
  live.events.on('viewer.join', (e) => bus.publish('live.viewer.join', { streamId: e.streamId, protocol: e.protocol, viewerId: e.viewerId }));
  live.events.on('viewer.leave', (e) => bus.publish('live.viewer.leave', { streamId: e.streamId, protocol: e.protocol, viewerId: e.viewerId }));
  // Signed live streams: `/live/<id>.flv?token=…` (or Bearer); public ones pass after the media rate limit.
  live.setPlaybackGuard((req, streamId) => control.guard(req, streamId, '', null));
  control.setLiveStatus((id) => {
    const s = live.status(id);
    return s.state === 'active' ? s : null;
  });
}
