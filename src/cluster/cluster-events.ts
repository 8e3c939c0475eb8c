/**
 * The event bus across the nodes of a cluster: one Redis Stream, `strom:events`, orders every
 * node's events, and each node reads it with one blocking reader (`XREAD BLOCK` on its own
 * connection) that feeds the node's bus. Ids become the stream ids (`1733450000000-3`), the same on
 * every node, so an SSE client may resume with `Last-Event-ID` on any node. The stream is trimmed to
 * about `events.historySize` entries (`XADD … MAXLEN ~`), the bus's own resume history; a node that
 * starts fills its history from the stream's tail, so it can resume clients at once.
 *
 * Publishing never waits: the event joins an outbox that is appended in pipelined batches, and
 * this node's subscribers get it from the reader like everyone else's — one path, one order, and
 * never twice (the reader recognises this process's own entries by node id, instance and sequence).
 *
 * While Redis is unreachable, events are delivered to this node's subscribers at once, with a
 * provisional id ordered right after the last id the node delivered (`<last stream id>.<n>`), and
 * stay in the outbox (at most `events.clusterBacklog`; the oldest beyond are dropped and counted)
 * until Redis is back; they then join the stream marked as already delivered here, and the other
 * nodes deliver them. A client of this node that resumes on this node gets exactly what it missed;
 * one that resumes elsewhere with a provisional id gets everything after the stream id it names,
 * which may repeat the events of the outage (at least once, never lost within the bounds).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RedisConnection } from './redis-connection.js';

/** The Redis Stream every node appends to and reads. */
export const EVENT_STREAM = 'strom:events';
/** Entries per pipelined XADD batch. */
const BATCH = 100;
/** Entries per XREAD and how long one blocks. */
const READ_COUNT = 500;
const BLOCK_MS = 5_000;
/** While Redis is unreachable, try the stream again this often (besides on reconnect). */
const RETRY_MS = 1_000;
/** An own event not read back within this long (reader cut off, entry trimmed) is delivered here anyway. */
const OWN_TIMEOUT_MS = 5_000;

/** An event as the stream carries it (the bus's event, seen structurally: this layer is below the bus). */
export interface LogEvent {
  id: string;
  type: string;
  at: string;
  data: unknown;
  local: boolean;
}

/** Where ordered events go: the node's event bus. */
export interface EventSink {
  /** Record the event and hand it to every subscriber. */
  deliver(e: LogEvent): void;
  /** Record a past event for resume only (the backfill at start). */
  remember(e: LogEvent): void;
  /** Id of the newest event recorded, or null. */
  lastId(): string | null;
}

/** Options of the cluster event log. */
export interface ClusterEventsOptions {
  redis: RedisConnection;
  nodeId: string;
  log: Logger;
  registry: Registry;
  sink: EventSink;
  /** `events.historySize`: the stream's approximate length and the backfill size. */
  historySize: number;
  /** `events.clusterBacklog`: events kept for the stream while Redis is unreachable. */
  backlog: number;
}

/** One event of this node on its way to the stream. */
interface Outgoing {
  e: LogEvent;
  seq: number;
  /** Delivered to this node's subscribers already (published while Redis was away). */
  delivered: boolean;
  /** In the stream (its id then in `id`). */
  sent: boolean;
  id: string | null;
  at: number;
}

/** `ms-seq` (optionally `.n`) → numbers, or null. */
function parseId(id: string): [number, number, number] | null {
  const m = /^(\d{1,15})-(\d{1,15})(?:\.(\d{1,9}))?$/.exec(id);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

/** True when stream id `a` is at or before `b`. */
function atOrBefore(a: string, b: string): boolean {
  const pa = parseId(a);
  const pb = parseId(b);
  if (pa === null || pb === null) return false;
  return (pa[0] - pb[0] || pa[1] - pb[1] || pa[2] - pb[2]) <= 0;
}

/** Redis field list `[k1, v1, k2, v2, …]` → object. */
function fieldMap(fields: string[]): Record<string, string> {
  const m: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) m[fields[i]!] = fields[i + 1]!;
  return m;
}

/** The bus's transport in cluster mode (see the file header). */
export class ClusterEventLog {
  private readonly outbox: Outgoing[] = [];
  /** Own events in (or on their way to) the stream, not yet delivered here, by sequence. */
  private readonly pending = new Map<number, Outgoing>();
  /** Tells this process's entries from those of an earlier process with the same node id. */
  private readonly instance = randomBytes(4).toString('hex');
  private readonly log: Logger;
  private seq = 0;
  private offline = false;
  private flushing = false;
  private stopped = false;
  private lastRead: string | null = null;
  private reader: Redis | null = null;
  private reading: Promise<void> | null = null;
  private markStarted: () => void = () => undefined;
  /** Resolves once the reader has filled the history and follows the stream (tests wait for it). */
  readonly started = new Promise<void>((resolve) => (this.markStarted = resolve));
  private retryTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly onReady = () => this.pump();
  private readonly published: Counter;
  private readonly received: Counter;
  private readonly dropped: Counter;
  private readonly localOnly: Counter;
  private readonly late: Counter;

  constructor(private readonly o: ClusterEventsOptions) {
    this.log = o.log.child({ component: 'cluster-events', nodeId: o.nodeId });
    const registers = [o.registry];
    this.published = new Counter({ name: 'strom_cluster_events_published_total', help: `Events this node added to the Redis stream ${EVENT_STREAM}`, registers });
    this.received = new Counter({ name: 'strom_cluster_events_received_total', help: 'Events of other nodes delivered on this node', registers });
    this.dropped = new Counter({ name: 'strom_cluster_events_dropped_total', help: 'Events published while Redis was unreachable and dropped from the backlog (events.clusterBacklog): other nodes never got them', registers });
    this.localOnly = new Counter({ name: 'strom_cluster_events_local_only_total', help: 'Events delivered on this node before they reached the stream (Redis unreachable)', registers });
    this.late = new Counter({ name: 'strom_cluster_events_late_total', help: 'Own events delivered here without being read back from the stream (reader cut off or entry trimmed)', registers });
    const outbox = this.outbox;
    new Gauge({ name: 'strom_cluster_events_backlog', help: 'Events of this node waiting to be added to the stream', registers, collect() {
      this.set(outbox.length);
    } });
  }

  /** Start reading the stream (after a backfill of the node's history) and accept publications. */
  start(): void {
    this.o.redis.cmd.on('ready', this.onReady);
    this.reader = this.o.redis.duplicate('events');
    this.reading = this.readLoop(this.reader);
    this.sweepTimer = setInterval(() => this.sweep(), 1_000);
    this.sweepTimer.unref();
  }

  /** Take an event of this node (the bus's `EventTransport.send`); never blocks. */
  send(e: LogEvent): void {
    const o: Outgoing = { e, seq: ++this.seq, delivered: false, sent: false, id: null, at: Date.now() };
    if (this.stopped) return this.deliverHere(o);
    if (this.offline) this.deliverHere(o);
    else this.pending.set(o.seq, o);
    this.outbox.push(o);
    // The backlog bound applies to events kept through an outage (delivered here already), oldest first.
    while (this.outbox.length > this.o.backlog && this.outbox[0]!.delivered) {
      this.outbox.shift();
      this.dropped.inc();
    }
    this.pump();
  }

  /** Stop: one last attempt to append what waits, then end the reader. */
  async close(): Promise<void> {
    this.stopped = true;
    this.o.redis.cmd.off('ready', this.onReady);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (let i = 0; i < 10 && this.outbox.length > 0 && !this.flushing && this.o.redis.ready(); i++) {
      if (!(await this.flushBatch())) break;
    }
    this.reader?.disconnect();
    await this.reading;
  }

  /** Append the outbox while Redis is there; otherwise deliver here and keep it. */
  private pump(): void {
    if (this.flushing || this.stopped) return;
    if (!this.o.redis.ready()) return this.goOffline();
    if (this.outbox.length === 0) return this.goOnline();
    this.flushing = true;
    void this.flushBatch().then((ok) => {
      this.flushing = false;
      if (ok) this.pump();
      else this.goOffline();
    });
  }

  /** XADD the first batch of the outbox in one pipeline; false on the first failure. */
  private async flushBatch(): Promise<boolean> {
    const batch = this.outbox.slice(0, BATCH);
    const pipe = this.o.redis.cmd.pipeline();
    for (const o of batch) {
      const fields = ['t', o.e.type, 'a', o.e.at, 'd', JSON.stringify(o.e.data ?? null), 'o', this.o.nodeId, 'i', this.instance, 's', String(o.seq)];
      if (o.delivered) fields.push('l', '1');
      pipe.xadd(EVENT_STREAM, 'MAXLEN', '~', String(this.o.historySize), '*', ...fields);
    }
    let ok = true;
    try {
      const results = (await pipe.exec()) ?? [];
      for (let i = 0; i < batch.length; i++) {
        const [err, id] = results[i] ?? [new Error('no reply'), null];
        if (err || typeof id !== 'string') {
          ok = false;
          break;
        }
        batch[i]!.sent = true;
        batch[i]!.id = id;
        this.published.inc();
      }
    } catch {
      ok = false;
    }
    while (this.outbox[0]?.sent) this.outbox.shift();
    return ok;
  }

  private goOffline(): void {
    if (!this.offline) {
      this.offline = true;
      this.log.warn({ backlog: this.outbox.length }, 'Redis unreachable: events are delivered on this node only and kept for the stream');
      // Own events already in the stream come first, with their stream ids, then the rest in order.
      for (const o of [...this.pending.values()]) if (o.sent) this.deliverHere(o, o.id);
    }
    for (const o of this.outbox) if (!o.delivered) this.deliverHere(o);
    const excess = this.outbox.length - this.o.backlog;
    if (excess > 0) {
      this.outbox.splice(0, excess);
      this.dropped.inc(excess);
    }
    if (this.retryTimer === null && !this.stopped) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.pump();
      }, RETRY_MS);
      this.retryTimer.unref();
    }
  }

  private goOnline(): void {
    if (!this.offline) return;
    this.offline = false;
    this.log.info('events flow through Redis again');
  }

  /** Deliver an own event here now: with its stream id when known, else a provisional one. */
  private deliverHere(o: Outgoing, id: string | null = null): void {
    this.pending.delete(o.seq);
    o.delivered = true;
    o.e.id = id ?? this.provisionalId();
    if (id === null) this.localOnly.inc();
    this.o.sink.deliver(o.e);
  }

  /** `<last id>.<n+1>`: after everything delivered here, before any later stream id. */
  private provisionalId(): string {
    const last = this.o.sink.lastId() ?? '0-0';
    const m = /^(\d+-\d+)(?:\.(\d+))?$/.exec(last);
    return m ? `${m[1]}.${Number(m[2] ?? 0) + 1}` : '0-0.1';
  }

  private async readLoop(r: Redis): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.lastRead === null) {
          this.lastRead = await this.backfill(r);
          this.markStarted();
        }
        const res = (await r.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', EVENT_STREAM, this.lastRead)) as Array<[string, Array<[string, string[]]>]> | null;
        for (const [, entries] of res ?? []) {
          for (const [id, fields] of entries) {
            this.lastRead = id;
            this.onEntry(id, fieldMap(fields));
          }
        }
        this.sweep();
      } catch (err) {
        if (this.stopped) return;
        this.log.debug({ err: (err as Error).message }, 'event stream read failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS).unref());
      }
    }
  }

  /** Fill an empty history from the stream's tail; returns the id to read after. */
  private async backfill(r: Redis): Promise<string> {
    const tail = await r.xrevrange(EVENT_STREAM, '+', '-', 'COUNT', this.o.historySize);
    if (this.o.sink.lastId() === null) {
      for (const [id, fields] of [...tail].reverse()) {
        const e = this.parse(id, fieldMap(fields));
        if (e) this.o.sink.remember(e);
      }
    }
    return tail[0]?.[0] ?? '0-0';
  }

  private onEntry(id: string, f: Record<string, string>): void {
    if (f.o === this.o.nodeId && f.i === this.instance) {
      const own = this.pending.get(Number(f.s));
      if (own) this.deliverHere(own, id); // else: delivered here already (during an outage)
      return;
    }
    const e = this.parse(id, f);
    if (e === null) return;
    this.received.inc();
    this.o.sink.deliver(e);
  }

  private parse(id: string, f: Record<string, string>): LogEvent | null {
    if (typeof f.t !== 'string' || typeof f.a !== 'string') return null;
    try {
      return { id, type: f.t, at: f.a, data: JSON.parse(f.d ?? 'null') as unknown, local: false };
    } catch {
      this.log.warn({ id }, 'event stream entry with invalid data skipped');
      return null;
    }
  }

  /** Deliver own events the reader will not bring back: read past (trimmed) or waited too long. */
  private sweep(): void {
    if (this.pending.size === 0) return;
    const now = Date.now();
    for (const o of [...this.pending.values()]) {
      const passed = o.id !== null && this.lastRead !== null && atOrBefore(o.id, this.lastRead);
      if (passed || now - o.at > OWN_TIMEOUT_MS) {
        this.late.inc();
        this.deliverHere(o, o.id);
      }
    }
  }
}
