/**
 * The WebRTC subsystem of one Strom process: the session table, the per-stream WHEP
 * fan-outs, the metrics and the Fastify routes (WHIP ingest, WHEP playback, session resources),
 * registered in their own encapsulated context so the SDP body parser applies to them only.
 * `close` ends every session (shutdown, LiveServer.close).
 */
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import { SessionTable } from './sdp-resource.js';
import { WebRtcMetrics } from './webrtc-metrics.js';
import { WhepFanout } from './whep-playback.js';
import type { WhepSession } from './whep-session.js';

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
