/**
 * Metrics of the internal live relay. The relay bumps plain integers (`RelayStats`); prom-client
 * reads them at scrape time. Created unregistered and joined to the process registry by
 * `register` (app.ts owns the registry), like the WebRTC metrics.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Monotonic totals of the relay, bumped where things happen. */
export class RelayStats {
  /** Upstream connections that delivered media, by outcome of the attempt. */
  connects = 0;
  connectFailures = 0;
  /** Upstream connections opened after the first one of a pull (origin moved, died, flapped). */
  reconnects = 0;
  /** Pulls ended because their origin reconnected more than the per-minute bound. */
  reconnectLimited = 0;
  /** Pulls refused because cluster.relayMaxStreams were running. */
  refused = 0;
  /** Pulls ended because nobody read them for cluster.relayIdleMs. */
  idleClosed = 0;
  /** Pulls ended because no origin could be found or reached within the connect timeout. */
  originGone = 0;
  /** FLV bytes received from origins. */
  bytesIn = 0;
}

/** The relay's Prometheus metrics. */
export class RelayMetrics {
  private readonly all: Array<Counter<string> | Gauge<string>>;

  constructor(st: RelayStats, pulls: () => number, served: () => number) {
    const total = (name: string, help: string, read: () => Array<[Record<string, string>, number]>, labelNames: string[] = []) =>
      new Counter({ name, help, labelNames, registers: [], collect() {
        this.reset();
        for (const [labels, v] of read()) this.inc(labels, v);
      } });
    this.all = [
      new Gauge({ name: 'strom_live_relay_pulls', help: 'Streams this node pulls from other nodes now (one upstream connection each)', registers: [], collect() {
        this.set(pulls());
      } }),
      new Gauge({ name: 'strom_live_relay_served', help: 'Upstream connections other nodes hold to this node (internal relay readers)', registers: [], collect() {
        this.set(served());
      } }),
      total('strom_live_relay_connects_total', 'Upstream connection attempts of the relay by result', () => [[{ result: 'ok' }, st.connects], [{ result: 'failed' }, st.connectFailures]], ['result']),
      total('strom_live_relay_reconnects_total', 'Upstream connections opened after the first of a pull (origin moved or lost)', () => [[{}, st.reconnects]]),
      total('strom_live_relay_reconnect_limited_total', 'Relayed streams ended because their origin needed too many reconnects in a minute', () => [[{}, st.reconnectLimited]]),
      total('strom_live_relay_refused_total', 'Pulls refused because cluster.relayMaxStreams streams were relayed', () => [[{}, st.refused]]),
      total('strom_live_relay_ended_total', 'Relayed streams released, by reason (idle: no readers; origin-gone: no origin within the connect timeout)', () => [[{ reason: 'idle' }, st.idleClosed], [{ reason: 'origin-gone' }, st.originGone]], ['reason']),
      total('strom_live_relay_bytes_total', 'FLV bytes received from origin nodes', () => [[{}, st.bytesIn]]),
    ];
  }

  /** Join the process registry (once). */
  register(registry: Registry): void {
    for (const m of this.all) registry.registerMetric(m);
  }
}
