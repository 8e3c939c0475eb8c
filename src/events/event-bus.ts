/**
 * The one typed internal event bus. Producers (upload, jobs, live sessions) publish; consumers
 * (Server-Sent Events, webhooks, metrics) subscribe. Every event gets an id that orders it, so SSE
 * clients can resume with `Last-Event-ID`; the last `historySize` events are kept for that
 * (bounded memory: one small object per event).
 *
 * On a single node ids are a process counter ("1", "2", …) and publishing delivers at once. In
 * cluster mode an `EventTransport` (src/cluster/cluster-events.ts, over a Redis Stream) orders every
 * node's events: `publish` hands the event over and returns, and the transport delivers it — with
 * its cluster-wide id — through `deliver`, in the same order on every node. `local` tells whether
 * this node published the event (webhooks and metrics act on their own node's events only).
 */

/** Every event Strom emits, by type. */
export interface EventMap {
  'video.created': { videoId: string; title: string };
  'video.queued': { videoId: string };
  'video.progress': { videoId: string; phase: string; percent: number; speed?: number; etaS?: number };
  'video.playable': { videoId: string };
  'video.ready': { videoId: string; durationS?: number };
  'video.errored': { videoId: string; code: string; message: string };
  'video.deleted': { videoId: string };
  'live.publish.start': { streamId: string; sessionId: string; remote?: string };
  'live.publish.stop': { streamId: string; sessionId: string; reason: string };
  /** Backup ingest: the active publisher changed (primary ↔ backup) while the stream stayed live. */
  'live.publish.switch': { streamId: string; from: string; to: string; reason: string };
  /** The publisher left; a slate plays for up to `reconnectWindowS` while the stream stays live. */
  'live.publish.interrupted': { streamId: string; sessionId: string; reason: string; reconnectWindowS: number };
  /** A publisher came back within the reconnect window and replaced the slate. */
  'live.publish.resumed': { streamId: string; sessionId: string; previousSessionId: string; afterMs: number };
  'live.viewer.join': { streamId: string; protocol: string; viewerId: string };
  'live.viewer.leave': { streamId: string; protocol: string; viewerId: string };
  /** A restreaming output changed state (src/live/restream); `reason` explains failures. */
  'live.output.state': { streamId: string; outputId: string; state: string; reason: string | null; bytesSent: number; reconnects: number; connectedAt: string | null };
  /** A pulled source changed state (src/live/pull): connecting, live, failed (with the reason), idle; `url` is masked. */
  'live.source.state': { streamId: string; state: string; reason: string | null; url: string; since: string };
  /** A stream's source URL or mode was changed through the API (every node re-reads it). */
  'live.source.changed': { streamId: string };
}

/** Event type names. */
export type EventType = keyof EventMap;

/** One published event as stored and delivered. */
export interface BusEvent<T extends EventType = EventType> {
  /** Orders the event (see `compareEventIds`); '' until a cluster transport has ordered it. */
  id: string;
  type: T;
  at: string;
  data: EventMap[T];
  /** True on the node that published it. */
  local: boolean;
}

type Listener = (e: BusEvent) => void;

/** Orders events across nodes (cluster mode): takes this node's events, delivers everyone's back through `EventBus.deliver`. */
export interface EventTransport {
  send(e: BusEvent): void;
}

/**
 * Event ids: a counter ("7", single node), a Redis Stream id ("1733450000000-3") or a stream id
 * with a suffix ("1733450000000-3.2": an event a node delivered while Redis was unreachable,
 * ordered right after the last stream id it had seen). Returns [ms, seq, suffix], or null.
 */
export function parseEventId(id: string): [number, number, number] | null {
  const m = /^(\d{1,15})(?:-(\d{1,15})(?:\.(\d{1,9}))?)?$/.exec(id);
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : null;
}

/** Compare two parsed event ids: negative, 0 or positive. */
function compareParsed(a: [number, number, number], b: [number, number, number]): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** Compare two event ids (both valid per `parseEventId`); an invalid id sorts first. */
export function compareEventIds(a: string, b: string): number {
  const pa = parseEventId(a);
  const pb = parseEventId(b);
  if (pa === null || pb === null) return (pa === null ? 0 : 1) - (pb === null ? 0 : 1);
  return compareParsed(pa, pb);
}

/** Typed publish/subscribe with a bounded replay history. */
export class EventBus {
  private nextId = 1;
  /** Oldest first; trimmed to `historySize` in slices, so a publish never shifts a long array. */
  private readonly history: BusEvent[] = [];
  private readonly listeners = new Set<Listener>();
  private transport: EventTransport | null = null;

  /** @param historySize events kept for Last-Event-ID resume. */
  constructor(readonly historySize = 1000) {}

  /**
   * Publish an event. On a single node every subscriber gets it before this returns; with a
   * transport it is delivered once the cluster has ordered it (never twice on this node).
   * A throwing subscriber never affects the others or the producer.
   */
  publish<T extends EventType>(type: T, data: EventMap[T]): BusEvent<T> {
    const e: BusEvent<T> = { id: '', type, at: new Date().toISOString(), data, local: true };
    if (this.transport !== null) {
      this.transport.send(e as BusEvent);
      return e;
    }
    e.id = String(this.nextId++);
    this.deliver(e as BusEvent);
    return e;
  }

  /** Order publications through `t` from now on (cluster mode). */
  useTransport(t: EventTransport): void {
    this.transport = t;
  }

  /** Record an ordered event and hand it to every subscriber (the transport calls it). */
  deliver(e: BusEvent): void {
    this.remember(e);
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        /* a consumer's bug must not break producers */
      }
    }
  }

  /** Record a past event for Last-Event-ID resume without delivering it (a transport's backfill). */
  remember(e: BusEvent): void {
    this.history.push(e);
    const excess = this.history.length - this.historySize;
    if (excess > 0 && (excess >= 64 || excess * 8 >= this.historySize)) this.history.splice(0, excess);
  }

  /** Id of the newest event recorded, or null. */
  lastId(): string | null {
    return this.history.at(-1)?.id ?? null;
  }

  /** Subscribe to every event; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Events after `afterId` still in history (oldest first), for a client resuming with
   * `Last-Event-ID`: null (no id) → the whole history; an id this node delivered → everything
   * delivered after it; another well-formed id (older than the history, or from another node's
   * outage) → every event ordered after it; anything else → nothing.
   */
  since(afterId: string | null): BusEvent[] {
    const start = Math.max(0, this.history.length - this.historySize);
    if (afterId === null) return this.history.slice(start);
    for (let i = this.history.length - 1; i >= start; i--) if (this.history[i]!.id === afterId) return this.history.slice(i + 1);
    const after = parseEventId(afterId);
    if (after === null) return [];
    return this.history.slice(start).filter((e) => {
      const p = parseEventId(e.id);
      return p !== null && compareParsed(p, after) > 0;
    });
  }

  /** Number of current subscribers. */
  get subscribers(): number {
    return this.listeners.size;
  }
}

/** The asset/stream id an event concerns, for filtering. */
export function subjectOf(e: BusEvent): string | undefined {
  const d = e.data as { videoId?: string; streamId?: string };
  return d.videoId ?? d.streamId;
}
