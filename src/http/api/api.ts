/**
 * Assembles the control plane: opens the metadata store, loads the playback policy and signing
 * keys, installs the delivery guard (signed playback + media rate limit + per-token stream cap),
 * then registers, in order, deadlines → API middleware (authenticate → log → rate-limit) →
 * OpenAPI → the resource plugins. `buildStrom` calls this once.
 */
import type { FastifyInstance } from 'fastify';
import type { FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Config } from '../../config.js';
import { openStore, type Store } from '../../store/db/database.js';
import { createApiVerifier, loadApiSecret } from '../../auth/api-auth.js';
import { apiMiddleware } from '../../auth/middleware.js';
import { deadlines } from '../../auth/deadlines.js';
import { PlaybackTokens } from '../../auth/playback-tokens.js';
import { createPlaybackGuard, PlaybackPolicy } from '../../auth/playback-guard.js';
import { MediaRateLimiter, StreamCap } from '../../auth/rate-limits.js';
import type { Delivery } from '../delivery/delivery-handler.js';
import type { LiveStreamStatus } from '../../live/stream/stream-registry.js';
import { registerOpenApi, openApiRoutes } from './openapi.js';
import { videosRoutes } from './videos.js';
import { liveStreamsRoutes } from './live-streams.js';
import { liveOutputsRoutes } from './live-outputs.js';
import type { RestreamService } from '../../live/restream/restream-service.js';
import type { PullManager } from '../../live/pull/pull-manager.js';
import { signingKeysRoutes } from './signing-keys.js';
import { thumbnailRoutes } from './thumbnails.js';
import { webhooksRoutes } from './webhooks.js';
import { captionsRoutes } from './captions.js';
import { CaptionPublisher } from '../../vod/captions/caption-publisher.js';

/** What the control plane exposes to the rest of the process. */
export interface ControlPlane {
  store: Store;
  policy: PlaybackPolicy;
  tokens: PlaybackTokens;
  mediaLimiter: MediaRateLimiter;
  streamCap: StreamCap;
  /** The playback guard, for other media surfaces (/live/…): `(req, id, rel, token?, res?)`. */
  guard: ReturnType<typeof createPlaybackGuard>;
  /** Tell the API which RTMP port is really bound (ingest URLs); default `rtmp.port`. */
  setRtmpPort(port: () => number | null): void;
  /** Where the SRT listener is bound (SRT URLs in live stream answers); null when it is off. */
  setSrtPort(port: () => number | null): void;
  /** Where the RTSP listener is bound (RTSP URLs in live stream answers); null when it is off. */
  setRtspPort(port: () => number | null): void;
  /** Give the API the stream hub's runtime status. */
  setLiveStatus(status: (id: string) => LiveStreamStatus | null | Promise<LiveStreamStatus | null>): void;
  /** Give the API the restreaming outputs' runtime. */
  setRestream(restream: RestreamService): void;
  /** Give the API the pulled sources' runtime. */
  setPull(pull: PullManager): void;
  /** Writes caption tracks into assets (the API, and the VOD service after every packaging). */
  captions: CaptionPublisher;
}

/** Open the store and register auth, rate limits, deadlines and the `/api/v1` routes on `app`; `rateLimitStore`: the cluster's API limit store. */
export async function registerControlPlane(app: FastifyInstance, config: Config, delivery: Delivery, o: { rateLimitStore?: FastifyRateLimitStoreCtor } = {}): Promise<ControlPlane> {
  const store = await openStore(config.dataDir, { ...config.store, nodeId: config.cluster.nodeId ?? undefined });
  app.addHook('onClose', async () => store.close());

  const policy = new PlaybackPolicy();
  store.videos.onVisibility = (id, v) => policy.set(id, v);
  store.liveStreams.onVisibility = (id, v) => policy.set(id, v);
  for (const r of await store.videos.visibilities()) policy.set(r.id, r.visibility);
  for (const r of await store.liveStreams.visibilities()) policy.set(r.id, r.visibility);

  const tokens = new PlaybackTokens(store.signingKeys, config.playback.tokenCacheEntries);
  await tokens.load();
  const mediaLimiter = new MediaRateLimiter(config.rateLimit.media.perMinute, config.rateLimit.media.maxClients);
  const streamCap = new StreamCap(config.rateLimit.maxStreamsPerToken);
  const guard = createPlaybackGuard({ policy, tokens, limiter: mediaLimiter, cap: streamCap });
  delivery.setGuard(guard);
  delivery.setPrivacy((id) => policy.isSigned(id)); // signed assets outside /s/<token>/: private caching

  const verify = createApiVerifier(config, loadApiSecret(config));
  await app.register(deadlines, { config });
  await app.register(apiMiddleware, { config, verify, rateLimitStore: o.rateLimitStore });
  await registerOpenApi(app);
  let rtmpPort = (): number | null => config.rtmp.port;
  let srtPort = (): number | null => null;
  let rtspPort = (): number | null => null;
  let liveStatus = (_id: string): LiveStreamStatus | null | Promise<LiveStreamStatus | null> => null;
  let restream: RestreamService | null = null;
  let pull: PullManager | null = null;
  const ctx = { config, store, tokens, delivery, rtmpPort: () => rtmpPort() ?? config.rtmp.port, srtPort: () => srtPort(), rtspPort: () => rtspPort(), liveStatus: (id: string) => liveStatus(id), restream: () => restream, pull: () => pull };
  await app.register(openApiRoutes);
  await app.register(videosRoutes(ctx));
  await app.register(liveStreamsRoutes(ctx));
  await app.register(liveOutputsRoutes(ctx)); // /api/v1/live-streams/:id/outputs (restreaming)
  await app.register(signingKeysRoutes(ctx));
  await app.register(webhooksRoutes(ctx)); // /api/v1/webhooks (scope admin)
  await app.register(thumbnailRoutes(ctx)); // thumbnails at a requested time
  const captions = new CaptionPublisher({ storage: delivery.storage, list: (id) => store.captions.list(id), invalidate: (id) => delivery.catalog.invalidateAsset(id) });
  await app.register(captionsRoutes(ctx, captions)); // caption tracks: files and manifests
  return { store, policy, tokens, mediaLimiter, streamCap, guard, captions, setRtmpPort: (p) => void (rtmpPort = p), setSrtPort: (p) => void (srtPort = p), setRtspPort: (p) => void (rtspPort = p), setLiveStatus: (f) => void (liveStatus = f), setRestream: (r) => void (restream = r), setPull: (p) => void (pull = p) };
}
