/**
 * The one typed internal event bus. Producers (upload, jobs, live sessions) publish; consumers
 * (Server-Sent Events, webhooks, metrics) subscribe. Every event gets a process-monotonic id so SSE
 * clients can resume with `Last-Event-ID`; the last `historySize` events are kept in a ring buffer
 * for that (bounded memory: one small object per event).
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
  'live.viewer.join': { streamId: string; protocol: string; viewerId: string };
  'live.viewer.leave': { streamId: string; protocol: string; viewerId: string };
}

/** Event type names. */
export type EventType = keyof EventMap;

/** One published event as stored and delivered. */
export interface BusEvent<T extends EventType = EventType> {
  id: number;
  type: T;
  at: string;
  data: EventMap[T];
}

type Listener = (e: BusEvent) => void;

/** Typed publish/subscribe with a bounded replay history. */
export class EventBus {
  private nextId = 1;
  private readonly history: BusEvent[] = [];
  private readonly listeners = new Set<Listener>();

  /** @param historySize events kept for Last-Event-ID resume. */
  constructor(private readonly historySize = 1000) {}

  /** Publish an event to every subscriber; a throwing subscriber never affects the others. */
  publish<T extends EventType>(type: T, data: EventMap[T]): BusEvent<T> {
    const e: BusEvent<T> = { id: this.nextId++, type, at: new Date().toISOString(), data };
    this.history.push(e);
    if (this.history.length > this.historySize) this.history.shift();
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        /* a consumer's bug must not break producers */
      }
    }
    return e;
  }

  /** Subscribe to every event; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events with id > `afterId` still in history (oldest first). */
  since(afterId: number): BusEvent[] {
    return this.history.filter((e) => e.id > afterId);
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
