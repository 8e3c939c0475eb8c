/**
 * The WebRTC subsystem of one Strom process (issue 9): the session table, the per-stream WHEP
 * fan-outs, the metrics and the Fastify routes (WHIP ingest, WHEP playback, session resources),
 * registered in their own encapsulated context so the SDP body parser applies to them only.
 * `close` ends every session (shutdown, LiveServer.close).
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { LivePlaybackGuard } from '../live/http-flv.js';
import type { StreamRegistry } from '../live/stream/stream-registry.js';
import { SessionTable } from './sdp-resource.js';
import { prepareContext, resourceRoutes } from './webrtc-http.js';
import { WebRtcMetrics } from './webrtc-metrics.js';
import { WhepFanout } from './whep-fanout.js';
import { whepRoutes } from './whep-routes.js';
import type { WhepSession } from './whep-session.js';
import { whipRoutes } from './whip-routes.js';

/** WHIP/WHEP for one process. */
export class WebRtcService {
  readonly table: SessionTable;
  readonly metrics: WebRtcMetrics;
  readonly log: Logger;
  private readonly fanouts = new Map<string, WhepFanout>();

  constructor(readonly config: Config, readonly registry: StreamRegistry, log: Logger) {
    this.log = log.child({ component: 'webrtc' });
    this.table = new SessionTable(config.webrtc.maxSessions);
    this.metrics = new WebRtcMetrics(() => this.table.counts(), () => [...this.fanouts.values()].reduce((n, f) => n + f.cachedBytes, 0));
  }

  /** Fastify plugin: POST /whip, POST /live/<id>/whep, PATCH/DELETE/OPTIONS /whip/<id> and /whep/<id>. */
  routes(guard: () => LivePlaybackGuard | null): (app: FastifyInstance) => Promise<void> {
    return async (app) => {
      if (!this.config.webrtc.enabled) return;
      await app.register(async (sub) => {
        prepareContext(sub, this.config.delivery.corsOrigin);
        whipRoutes(sub, this);
        whepRoutes(sub, this, guard);
        resourceRoutes(sub, 'whip', this.table);
        resourceRoutes(sub, 'whep', this.table);
      });
    };
  }

  /** Join `s` to its stream's fan-out, creating it (one hub reader per stream) if needed. */
  join(s: WhepSession): WhepFanout {
    let f = this.fanouts.get(s.streamId);
    if (f === undefined) {
      f = new WhepFanout(s.streamId, this.registry, this.config.live.gopCacheMaxBytes, this.metrics.stats, this.log, (done) => {
        if (this.fanouts.get(done.streamId) === done) this.fanouts.delete(done.streamId);
      });
      f.start(); // throws LIVE_STREAM_NOT_FOUND when the stream ended meanwhile
      this.fanouts.set(s.streamId, f);
    }
    f.add(s);
    return f;
  }

  /** Fan-outs now (tests, status). */
  get fanoutCount(): number {
    return this.fanouts.size;
  }

  /** End every session and fan-out; resolves once their peer connections are released (bounded). */
  async close(reason = 'server shutting down'): Promise<void> {
    const released = this.table.closeAll(reason);
    for (const f of [...this.fanouts.values()]) f.close(reason);
    await released;
  }
}
