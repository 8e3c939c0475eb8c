/**
 * Metrics of the edge's playback sync (playback-sync.ts). The sync bumps plain integers
 * (`PlaybackSyncStats`); prom-client reads them and the sync's state at scrape time. Created
 * unregistered and joined to the edge's registry by `register`, whoever composes the edge.
 *
 *   strom_edge_sync_connected            1 while a sync stream from an origin is open
 *   strom_edge_sync_snapshots_total      snapshots applied (the first, then one per reconnect)
 *   strom_edge_sync_reconnects_total     streams opened after the first one
 *   strom_edge_sync_deltas_total{type}   changes applied: key-added, key-revoked, visibility, invalidate
 *   strom_edge_sync_age_seconds          since the origin was last heard (events or heartbeats); -1 before
 *   strom_edge_sync_signed_ids / _keys   size of the copy: signed ids, active signing keys
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Delta types counted by `strom_edge_sync_deltas_total`. */
export const DELTA_TYPES = ['key-added', 'key-revoked', 'visibility', 'invalidate'] as const;

/** Monotonic totals of the sync, bumped where things happen. */
export class PlaybackSyncStats {
  snapshots = 0;
  reconnects = 0;
  readonly deltas = new Map<string, number>(DELTA_TYPES.map((t) => [t, 0]));
}

/** What the gauges read at scrape time. */
export interface PlaybackSyncGauges {
  connected(): boolean;
  /** Epoch ms the origin was last heard, 0 = never. */
  lastHeard(): number;
  signedIds(): number;
  keys(): number;
}

/** The sync's Prometheus metrics. */
export class PlaybackSyncMetrics {
  private readonly all: Array<Counter<string> | Gauge<string>>;

  constructor(st: PlaybackSyncStats, g: PlaybackSyncGauges) {
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: [], collect() {
        this.set(read());
      } });
    const total = (name: string, help: string, read: () => Array<[Record<string, string>, number]>, labelNames: string[] = []) =>
      new Counter({ name, help, labelNames, registers: [], collect() {
        this.reset();
        for (const [labels, v] of read()) this.inc(labels, v);
      } });
    this.all = [
      gauge('strom_edge_sync_connected', 'Whether a playback sync stream from an origin is open (1) or not (0: the edge serves its last known policy)', () => (g.connected() ? 1 : 0)),
      total('strom_edge_sync_snapshots_total', 'Playback policy snapshots applied (the first, then one per reconnect)', () => [[{}, st.snapshots]]),
      total('strom_edge_sync_reconnects_total', 'Playback sync streams opened after the first one', () => [[{}, st.reconnects]]),
      total('strom_edge_sync_deltas_total', 'Playback policy changes applied, by type', () => [...st.deltas].map(([type, n]) => [{ type }, n]), ['type']),
      gauge('strom_edge_sync_age_seconds', 'Seconds since the origin\'s playback sync was last heard (an event or a heartbeat); -1 before the first', () => (g.lastHeard() === 0 ? -1 : (Date.now() - g.lastHeard()) / 1000)),
      gauge('strom_edge_sync_signed_ids', 'Signed video and live stream ids in the edge\'s copy of the playback policy', () => g.signedIds()),
      gauge('strom_edge_sync_keys', 'Active signing keys in the edge\'s copy of the playback policy', () => g.keys()),
    ];
  }

  /** Join the edge's registry (once). */
  register(registry: Registry): void {
    for (const m of this.all) registry.registerMetric(m);
  }
}
