/**
 * The WebRTC HTTP surface, registered above the service it exposes: WHIP ingest (`POST /whip`),
 * WHEP playback (`POST /live/<id>/whep`) and the session resources (`PATCH`/`DELETE`/`OPTIONS`
 * `/whip/<id>` and `/whep/<id>`), all in one encapsulated Fastify context so the SDP body parser
 * and the CORS headers a WebRTC client must read apply to these routes only.
 */
import type { FastifyInstance } from 'fastify';
import type { LivePlaybackGuard } from '../../auth/playback-guard.js';
import { prepareContext, resourceRoutes } from './webrtc-http.js';
import type { WebRtcService } from './webrtc-service.js';
import { whepRoutes } from './whep-routes.js';
import { whipRoutes } from './whip-routes.js';

/** Fastify plugin with every WHIP/WHEP route of `svc` (nothing when `webrtc.enabled` is false; WHEP only with `whip: false`). */
export function webrtcRoutes(svc: WebRtcService, guard: () => LivePlaybackGuard | null, o: { whip: boolean } = { whip: true }): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    if (!svc.config.webrtc.enabled) return;
    await app.register(async (sub) => {
      prepareContext(sub, svc.config.delivery.corsOrigin);
      if (o.whip) whipRoutes(sub, svc);
      whepRoutes(sub, svc, guard);
      if (o.whip) resourceRoutes(sub, 'whip', svc.table);
      resourceRoutes(sub, 'whep', svc.table);
    });
  };
}
