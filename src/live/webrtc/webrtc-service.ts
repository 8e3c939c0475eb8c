/**
 * The WebRTC subsystem of one Strom process: the session table, the per-stream WHEP
 * fan-outs, the metrics and the Fastify routes (WHIP ingest, WHEP playback, session resources),
 * registered in their own encapsulated context so the SDP body parser applies to them only.
 * `close` ends every session (shutdown, LiveServer.close).
 */
import type { Logger } from 'pino';
import { RTCDtlsTransport } from 'werift';
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
    const sum = (bytes: (f: WhepFanout) => number) => () => [...this.fanouts.values()].reduce((n, f) => n + bytes(f), 0);
    this.metrics = new WebRtcMetrics(() => this.table.counts(), sum((f) => f.cachedBytes), sum((f) => f.nack?.bytes ?? 0));
    // werift makes its DTLS certificate (one per process) when the first session negotiates:
    // ~0.5 s the first viewer after a start would wait. Made now instead, off the request path.
    RTCDtlsTransport.SetupCertificate().catch((err: unknown) => this.log.warn({ err }, 'DTLS certificate not made ahead; the first session makes it'));
  }

  /**
   * The fan-out of `streamId`, started (one hub reader per stream) if there is none: called when a
   * WHEP offer arrives, so the hub reader, audio bridge and GOP cache are ready when the viewer's
   * DTLS completes. Throws LIVE_STREAM_NOT_FOUND when the stream is not live.
   */
  prepare(streamId: string): WhepFanout {
    let f = this.fanouts.get(streamId);
    if (f === undefined) {
      f = new WhepFanout(streamId, this.registry, this.config.live.gopCacheMaxBytes, this.config.webrtc.fanoutIdleMs, this.config.webrtc, this.metrics.stats, this.log, (done) => {
        if (this.fanouts.get(done.streamId) === done) this.fanouts.delete(done.streamId);
      });
      this.fanouts.set(streamId, f);
      try {
        f.start();
      } catch (err) {
        this.fanouts.delete(streamId);
        throw err;
      }
    }
    return f;
  }

  /** Join `s` to its stream's fan-out (connected: ICE and DTLS done). */
  join(s: WhepSession): WhepFanout {
    const f = this.prepare(s.streamId); // throws LIVE_STREAM_NOT_FOUND when the stream ended meanwhile
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
