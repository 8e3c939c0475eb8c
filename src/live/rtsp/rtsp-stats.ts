/**
 * Counters of the RTSP service and its Prometheus metrics (created unregistered, joined by
 * `register`, read at scrape time so the hot path only increments numbers).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Counters shared by the server's connections and sessions. */
export interface RtspStats {
  connections: number;
  publishers: number;
  readers: number;
  /** Requests by `METHOD status`. */
  requests: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
  /** RTP packets of publishers given up as lost / put back in order (UDP) / arriving too late. */
  lost: number;
  reordered: number;
  late: number;
  /** Malformed RTP/RTCP packets dropped. */
  badPackets: number;
  /** Refused credentials by role. */
  authFailures: Record<string, number>;
}

/** Fresh counters. */
export function newRtspStats(): RtspStats {
  return { connections: 0, publishers: 0, readers: 0, requests: {}, bytesIn: 0, bytesOut: 0, lost: 0, reordered: 0, late: 0, badPackets: 0, authFailures: {} };
}

/** Prometheus view of the RTSP service. */
export class RtspMetrics {
  private readonly all: Array<Counter<string> | Gauge<string>>;

  constructor(st: RtspStats, stray: () => number) {
    this.all = [
      new Gauge({ name: 'strom_rtsp_connections', help: 'RTSP TCP connections open now', registers: [], collect() {
        this.set(st.connections);
      } }),
      new Gauge({ name: 'strom_rtsp_sessions', help: 'RTSP sessions publishing or playing now, by role (publish, read)', labelNames: ['role'], registers: [], collect() {
        this.set({ role: 'publish' }, st.publishers);
        this.set({ role: 'read' }, st.readers);
      } }),
      new Counter({ name: 'strom_rtsp_requests_total', help: 'RTSP requests answered, by method and status code', labelNames: ['method', 'status'], registers: [], collect() {
        this.reset();
        for (const [k, n] of Object.entries(st.requests)) {
          const [method = '', status = ''] = k.split(' ');
          this.inc({ method, status }, n);
        }
      } }),
      new Counter({ name: 'strom_rtsp_bytes_total', help: 'RTP payload bytes by direction (in: publishers, out: readers)', labelNames: ['direction'], registers: [], collect() {
        this.reset();
        this.inc({ direction: 'in' }, st.bytesIn);
        this.inc({ direction: 'out' }, st.bytesOut);
      } }),
      new Counter({ name: 'strom_rtsp_rtp_packets_total', help: 'publishers\' RTP packets that were not in order: lost (sequence gaps), reordered (put back in place, UDP), late (dropped after their place was given up), invalid (malformed), stray (UDP from no session\'s address)', labelNames: ['result'], registers: [], collect() {
        this.reset();
        this.inc({ result: 'lost' }, st.lost);
        this.inc({ result: 'reordered' }, st.reordered);
        this.inc({ result: 'late' }, st.late);
        this.inc({ result: 'invalid' }, st.badPackets);
        this.inc({ result: 'stray' }, stray());
      } }),
      new Counter({ name: 'strom_rtsp_auth_failures_total', help: 'RTSP requests refused for missing or wrong credentials, by role (publish, read)', labelNames: ['role'], registers: [], collect() {
        this.reset();
        for (const [role, n] of Object.entries(st.authFailures)) this.inc({ role }, n);
      } }),
    ];
  }

  /** Join the process registry (once). */
  register(registry: Registry): void {
    for (const m of this.all) registry.registerMetric(m);
  }
}
