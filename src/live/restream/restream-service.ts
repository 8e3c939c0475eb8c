/**
 * Runs the restreaming outputs of the streams published on this node. Outputs start when a real
 * publisher starts here (`publish.start` with relay:false — in a cluster, only the publisher's
 * node pushes) and stop when it stops; a takeover keeps them (the registry keeps their readers).
 * API changes call `changed(streamId)`, which compares the stored outputs with the running ones
 * (start the new and enabled, stop the removed and disabled, restart the changed). Each stream's
 * syncs run one after the other. State changes go on the event bus as `live.output.state`; other
 * nodes' events keep the last known status of outputs running elsewhere (cluster mode).
 */
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { EventBus, EventMap } from '../../events/event-bus.js';
import type { Store } from '../../store/db/database.js';
import type { LiveOutputRow } from '../../store/db/schema.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import { maskOutputUrl, secretsOf } from './output-url.js';
import { RestreamMetrics } from './restream-metrics.js';
import { RestreamOutput, type OutputState, type OutputStatus, type OutputTuning } from './restream-output.js';
import type { TransportRegistry } from './transport.js';
import { defaultTransports } from './transports.js';

/** The status of an output that is not running on this node. */
const IDLE: OutputStatus = { state: 'idle', lastError: null, bytesSent: 0, connectedAt: null, reconnects: 0 };

/** Restreaming for the whole process. */
export class RestreamService {
  readonly metrics: RestreamMetrics;
  private readonly running = new Map<string, Map<string, RestreamOutput>>();
  /** Last status of outputs not running here: ended here (idle, with their figures) or running on other nodes (their bus events). */
  private readonly lastKnown = new Map<string, OutputStatus>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly offs: Array<() => void> = [];
  private retiredBytes = 0;
  private reconnectsTotal = 0;
  private closed = false;

  constructor(
    private readonly registry: StreamRegistry,
    private readonly store: Store,
    private readonly bus: EventBus,
    private readonly config: Config,
    private readonly log: Logger,
    readonly transports: TransportRegistry = defaultTransports(),
    private readonly tuning: OutputTuning = { minBackoffMs: 1000, maxBackoffMs: 30_000, maxRefusals: 5, timeoutMs: 10_000, rtmpChunkSize: config.rtmp.chunkSize },
  ) {
    this.metrics = new RestreamMetrics({
      byState: () => this.byState(),
      bytesSent: () => this.retiredBytes + this.all().reduce((n, o) => n + o.bytesSent, 0),
      reconnects: () => this.reconnectsTotal,
    });
    const ev = registry.events;
    this.offs.push(ev.on('publish.start', (e) => {
      if (!e.relay) void this.changed(e.streamId, true);
    }));
    this.offs.push(ev.on('publish.stop', (e) => {
      // A takeover emits publish.stop then publish.start in one tick: decide after it.
      if (!e.relay) queueMicrotask(() => void this.changed(e.streamId));
    }));
    this.offs.push(bus.subscribe((e) => {
      if (e.local || e.type !== 'live.output.state') return;
      const d = e.data as EventMap['live.output.state'];
      this.lastKnown.set(d.outputId, { state: d.state as OutputState, lastError: d.reason, bytesSent: d.bytesSent, connectedAt: d.connectedAt, reconnects: d.reconnects });
    }));
  }

  /** Runtime status of one output: running here, else its last known status (ended here, or running on another node). */
  status(streamId: string, outputId: string): OutputStatus {
    return this.running.get(streamId)?.get(outputId)?.status() ?? this.lastKnown.get(outputId) ?? IDLE;
  }

  /** Drop what is remembered of a deleted output. */
  forget(outputId: string): void {
    this.lastKnown.delete(outputId);
  }

  /** Bring the running outputs of `streamId` in line with the store; `restart` also retries failed ones (a new publish). */
  changed(streamId: string, restart = false): Promise<void> {
    const prev = this.queues.get(streamId) ?? Promise.resolve();
    const next = prev.then(() => this.sync(streamId, restart)).catch((err: unknown) => this.log.warn({ err, streamId }, 'could not sync restream outputs'));
    this.queues.set(streamId, next);
    void next.then(() => this.queues.get(streamId) === next && this.queues.delete(streamId));
    return next;
  }

  /** Stop every output (shutdown, before the registry closes its streams). */
  close(): void {
    this.closed = true;
    for (const off of this.offs) off();
    for (const id of [...this.running.keys()]) this.stopAll(id, 'server shutting down');
  }

  private async sync(streamId: string, restart: boolean): Promise<void> {
    const s = this.registry.active(streamId);
    const local = !this.closed && s !== null && s.publisher?.relayFrom === undefined;
    const rows = local ? (await this.store.liveOutputs.list(streamId)).filter((r) => r.enabled === 1) : [];
    const wanted = new Map(rows.map((r) => [r.id, r]));
    const mine = this.running.get(streamId) ?? new Map<string, RestreamOutput>();
    for (const [id, o] of mine) {
      const row = wanted.get(id);
      if (row !== undefined && fingerprint(row) === o.fingerprint) continue;
      this.retire(mine, o, row === undefined ? (local ? 'output disabled or deleted' : 'stream not live on this node') : 'destination changed');
    }
    for (const row of rows) {
      const o = mine.get(row.id) ?? this.create(row);
      if (o === null) continue;
      mine.set(row.id, o);
      if (restart || o.state === 'idle') o.start();
    }
    if (mine.size > 0) this.running.set(streamId, mine);
    else this.running.delete(streamId);
  }

  private create(row: LiveOutputRow): RestreamOutput | null {
    let checked: ReturnType<TransportRegistry['check']>;
    try {
      checked = this.transports.check(row.url, row.stream_key);
    } catch (err) {
      this.log.warn({ streamId: row.stream_id, outputId: row.id, reason: (err as Error).message }, 'restream output not started');
      return null;
    }
    const { target, transport } = checked;
    const log = this.log.child({ component: 'restream', streamId: row.stream_id, outputId: row.id, destination: maskOutputUrl(row.url, row.stream_key) });
    return new RestreamOutput(row.stream_id, row.id, fingerprint(row), target, transport, secretsOf(row.url, row.stream_key), this.registry, this.tuning, {
      onState: (o, reason) => {
        if (o.state === 'reconnecting' && reason !== null) this.reconnectsTotal++;
        if (o.state === 'live') log.info('restream output live');
        const st = o.status();
        this.bus.publish('live.output.state', { streamId: o.streamId, outputId: o.outputId, state: st.state, reason, bytesSent: st.bytesSent, reconnects: st.reconnects, connectedAt: st.connectedAt });
      },
    }, log);
  }

  private retire(mine: Map<string, RestreamOutput>, o: RestreamOutput, reason: string): void {
    o.stop(reason);
    this.retiredBytes += o.bytesSent;
    this.lastKnown.set(o.outputId, o.status());
    mine.delete(o.outputId);
  }

  private stopAll(streamId: string, reason: string): void {
    const mine = this.running.get(streamId);
    if (mine) for (const o of [...mine.values()]) this.retire(mine, o, reason);
    this.running.delete(streamId);
  }

  private all(): RestreamOutput[] {
    return [...this.running.values()].flatMap((m) => [...m.values()]);
  }

  private byState(): Record<OutputState, number> {
    const n: Record<OutputState, number> = { idle: 0, connecting: 0, live: 0, reconnecting: 0, failed: 0 };
    for (const o of this.all()) n[o.state]++;
    return n;
  }
}

/** What makes two rows the same destination. */
function fingerprint(r: LiveOutputRow): string {
  return `${r.url}\n${r.stream_key ?? ''}`;
}
