/**
 * Connects the stream hub to the rest of the process: stream keys resolve through the metadata
 * store (with `live.staticKeys` as a fallback for keys configured by hand), lifecycle events go on
 * the event bus (SSE, webhooks) and into the `live_streams.status` column, `/live/…` playback goes
 * through the same playback guard as VOD (signed streams need a token; media rate limits apply),
 * and the API reads runtime figures (bitrate, fps, codecs, viewers) from the hub.
 * In cluster mode the database is shared: a start resets only streams no node publishes (the
 * origin map is the truth of what is live), the API reports streams live on other nodes, and
 * relay publishers (another node's stream pulled here) write no status, events or recordings.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { fail } from '../errors.js';
import type { LivePlaybackGuard } from '../auth/playback-guard.js';
import type { EventBus } from '../events/event-bus.js';
import type { Store } from '../store/db/database.js';
import type { OriginLookup } from '../cluster/origin-map.js';
import type { LiveServer } from './live-server.js';
import { staticKeyResolver, type LiveStreamStatus } from './stream/stream-registry.js';
import { countsAsViewer } from './stream/reader.js';
import path from 'node:path';
import type { BlobStorage } from '../storage/blob-storage.js';
import { LiveRecorder, type RecorderOptions } from './recording/live-recorder.js';
import { sweepRecordings } from './recording/recording-sweep.js';
import { publishAsVideo } from './video-publication.js';
import { LiveDvrClips } from './live-dvr-clips.js';

/** What the live server is connected to. */
export interface LiveWiring {
  store: Store;
  bus: EventBus;
  /** The playback guard every live output consults (signed streams, media rate limits). */
  guard: LivePlaybackGuard;
  /** Hands the API a reader of the runtime status of active streams. */
  setLiveStatus(status: (id: string) => LiveStreamStatus | null | Promise<LiveStreamStatus | null>): void;
  /** Cluster mode: the live origin map (which node publishes what); absent on a single node. */
  origins?: OriginLookup;
  /** Media storage recordings are published into (absent: `<dataDir>/assets`). */
  storage?: BlobStorage;
}

/** Wire `live` to the store, bus, guard and API; listeners live as long as the process. */
export async function wireLive(live: LiveServer, wiring: LiveWiring, config: Config, log: Logger): Promise<void> {
  const { store, bus, origins } = wiring;
  // No stream is live before this process has accepted a publisher (a crash may have left 'active').
  if (origins === undefined) await store.db.updateTable('live_streams').set({ status: 'idle' }).where('status', '=', 'active').execute();
  else await resetUnpublished(store, origins, log);
  /** The node publishing `streamId` when it is another one (cluster), else null; null too while Redis is away. */
  const otherOrigin = async (streamId: string) => {
    const e = await origins?.lookup(streamId).catch(() => null);
    return e != null && e.nodeId !== origins?.nodeId ? e : null;
  };
  const fallback = staticKeyResolver(config.live.staticKeys);
  live.setResolver(async (key) => {
    const row = await store.liveStreams.findLiveStreamByKey(key);
    if (row?.source) throw fail('LIVE_SOURCE_PULLED', row.id); // one publisher: the source
    return row ? { streamId: row.id } : fallback(key);
  });
  // SRT: a stream's own passphrase, else srt.passphrase (the service's default).
  // RTSP Digest publishers: the stream's key, checked against the Digest response (docs/RTSP.md).
  live.rtsp?.setKeyLookup(async (streamId) => (await store.liveStreams.get(streamId))?.stream_key ?? null);
  live.srt?.setPassphraseLookup(async (streamId) => (await store.liveStreams.get(streamId))?.srt_passphrase ?? null);
  const setStatus = (streamId: string, status: 'active' | 'idle') => {
    store.liveStreams.update(streamId, { status }).catch((err: unknown) => log.warn({ err, streamId }, 'could not record live status'));
  };
  live.events.on('publish.start', (e) => {
    // Live ABR: the stream's own abr flag (live.abrAll covers the rest); a relayed stream too.
    store.liveStreams.get(e.streamId).then((row) => live.llhls.abr.setWanted(e.streamId, row?.abr === 1))
      .catch((err: unknown) => log.warn({ err, streamId: e.streamId }, 'could not read the live ABR flag'));
    if (e.relay) return; // another node's publisher: that node writes status and events
    setStatus(e.streamId, 'active');
    bus.publish('live.publish.start', { streamId: e.streamId, sessionId: e.sessionId, remote: e.remote });
  });
  live.events.on('publish.stop', (e) => {
    if (e.relay) return;
    // On takeover the registry emits publish.stop before attaching the new publisher in the same
    // tick: look again after it so a takeover never flips the stream to idle. In a cluster, a
    // stream that moved to another node stays active too.
    queueMicrotask(() => {
      const s = live.registry.active(e.streamId);
      if (s !== null && s.publisher?.relayFrom === undefined) return;
      if (origins === undefined) return setStatus(e.streamId, 'idle');
      void otherOrigin(e.streamId).then((o) => o === null && setStatus(e.streamId, 'idle'));
    });
    bus.publish('live.publish.stop', { streamId: e.streamId, sessionId: e.sessionId, reason: e.reason });
  });
  // A switch keeps the stream active: no publish.stop/start, so webhooks see one live session.
  live.events.on('publish.switch', (e) => bus.publish('live.publish.switch', { streamId: e.streamId, from: e.from, to: e.to, reason: e.reason }));
  // The reconnect window keeps the stream active too: publish.stop comes only if no publisher returns.
  live.events.on('publish.interrupted', (e) => bus.publish('live.publish.interrupted', e));
  live.events.on('publish.resumed', (e) => bus.publish('live.publish.resumed', e));
  live.events.on('viewer.join', (e) => countsAsViewer(e.protocol) && bus.publish('live.viewer.join', { streamId: e.streamId, protocol: e.protocol, viewerId: e.viewerId }));
  live.events.on('viewer.leave', (e) => countsAsViewer(e.protocol) && bus.publish('live.viewer.leave', { streamId: e.streamId, protocol: e.protocol, viewerId: e.viewerId }));
  // Signed live streams: `/live/<id>.flv?token=…` (or Bearer); public ones pass after the media rate limit.
  live.setPlaybackGuard(wiring.guard);
  // Recording → VOD: record=1 streams (or live.recordAll) become videos when they end.
  const publication = { store, bus, dataDir: config.dataDir, storage: wiring.storage };
  const recOpts: RecorderOptions = {
    tmpDir: path.join(config.dataDir, 'tmp'),
    maxBytes: config.live.recordMaxBytes,
    alwaysOn: config.llhls.dvrWindowS > 0, // DVR: the window fills while nobody watches
    shouldRecord: async (id) => config.live.recordAll || (await store.liveStreams.get(id))?.record === 1,
    publish: async (rec) => {
      const title = (await store.liveStreams.get(rec.streamId))?.title || rec.streamId;
      const video = await store.videos.create({ title: `${title} — recording ${new Date(rec.startedAt).toISOString().slice(0, 16).replace('T', ' ')}`, status: 'processing', metadata: { liveStreamId: rec.streamId, sessionId: rec.sessionId } });
      const durationS = await publishAsVideo(publication, rec.dir, rec.info, video.id); // atomic publication (docs/STORAGE.md)
      log.info({ streamId: rec.streamId, videoId: video.id, durationS }, 'live recording published as a video');
    },
  };
  // Crash-safe recordings: finish or remove what a crash left in tmp/rec-* before new publishers arrive
  await sweepRecordings(recOpts.tmpDir, recOpts.publish, log.child({ component: 'recorder' }));
  live.recorder = new LiveRecorder(live.registry, live.events, live.llhls, recOpts, log.child({ component: 'recorder' }));
  live.dvrClips = new LiveDvrClips({ registry: live.registry, llhls: live.llhls, publication, tmpDir: recOpts.tmpDir, maxInFlight: config.vod.clipMaxInFlight });
  wiring.setLiveStatus((id) => {
    const s = live.status(id);
    if (s.state === 'active' || origins === undefined) return s.state === 'active' ? s : null;
    // Live on another node, not relayed here: active, with figures this node does not know.
    return otherOrigin(id).then((o) => (o === null ? null : { ...s, state: 'active', publishedAt: new Date(o.since).toISOString(), originNode: o.nodeId }));
  });
}

/**
 * Cluster start: reset to idle only the 'active' streams no node publishes (no origin entry, or
 * one naming this node, which has no publisher yet). While Redis is away nothing is reset: the
 * database is shared, and other nodes' streams must not be marked idle.
 */
async function resetUnpublished(store: Store, origins: OriginLookup, log: Logger): Promise<void> {
  const rows = await store.db.selectFrom('live_streams').select('id').where('status', '=', 'active').execute();
  try {
    for (const { id } of rows) {
      const o = await origins.lookup(id);
      if (o === null || o.nodeId === origins.nodeId) await store.liveStreams.update(id, { status: 'idle' });
    }
  } catch (err) {
    log.warn({ err: (err as Error).message, nodeId: origins.nodeId }, 'origin map unreachable at start: live stream status not reset');
  }
}
