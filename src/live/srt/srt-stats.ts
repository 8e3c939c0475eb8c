/**
 * Counters of the SRT service and its Prometheus metrics (created unregistered, joined by
 * `register`, read at scrape time so the hot path only increments numbers).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Counters shared by the listener's sessions. */
export interface SrtStats {
  publishers: number;
  readers: number;
  accepted: number;
  refused: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
  /** Packets repaired by retransmission, and given up as too late (sessions that have ended). */
  recovered: number;
  lost: number;
  tsWarnings: Record<string, number>;
}

/** Fresh counters. */
export function newSrtStats(): SrtStats {
  return { publishers: 0, readers: 0, accepted: 0, refused: {}, bytesIn: 0, bytesOut: 0, recovered: 0, lost: 0, tsWarnings: {} };
}

/** Prometheus view of the SRT service. */
export class SrtMetrics {
  private readonly all: Array<Counter<string> | Gauge<string>>;

  constructor(st: SrtStats, live: () => { garbage: number; stray: number; recovered: number; lost: number }) {
    this.all = [
      new Gauge({ name: 'strom_srt_connections', help: 'SRT connections open now, by role (publish, request)', labelNames: ['role'], registers: [], collect() {
        this.set({ role: 'publish' }, st.publishers);
        this.set({ role: 'request' }, st.readers);
      } }),
      new Counter({ name: 'strom_srt_handshakes_total', help: 'SRT conclusion handshakes by result (accepted, or the refusal reason code)', labelNames: ['result'], registers: [], collect() {
        this.reset();
        this.inc({ result: 'accepted' }, st.accepted);
        for (const [code, n] of Object.entries(st.refused)) this.inc({ result: code }, n);
      } }),
      new Counter({ name: 'strom_srt_bytes_total', help: 'SRT payload bytes (MPEG-TS) by direction', labelNames: ['direction'], registers: [], collect() {
        this.reset();
        this.inc({ direction: 'in' }, st.bytesIn);
        this.inc({ direction: 'out' }, st.bytesOut);
      } }),
      new Counter({ name: 'strom_srt_packets_total', help: 'SRT data packets received out of order: recovered (by retransmission or reordering) or lost (given up after the latency window)', labelNames: ['result'], registers: [], collect() {
        this.reset();
        const l = live();
        this.inc({ result: 'recovered' }, l.recovered);
        this.inc({ result: 'lost' }, l.lost);
      } }),
      new Counter({ name: 'strom_srt_ts_problems_total', help: 'MPEG-TS problems in SRT publishers\' streams by kind (cc-error, psi-crc, ...)', labelNames: ['kind'], registers: [], collect() {
        this.reset();
        for (const [kind, n] of Object.entries(st.tsWarnings)) this.inc({ kind }, n);
      } }),
      new Counter({ name: 'strom_srt_dropped_datagrams_total', help: 'UDP datagrams the SRT listener dropped: not SRT (garbage) or for no known connection (stray)', labelNames: ['kind'], registers: [], collect() {
        this.reset();
        const l = live();
        this.inc({ kind: 'garbage' }, l.garbage);
        this.inc({ kind: 'stray' }, l.stray);
      } }),
    ];
  }

  /** Join the process registry (once). */
  register(registry: Registry): void {
    for (const m of this.all) registry.registerMetric(m);
  }
}
