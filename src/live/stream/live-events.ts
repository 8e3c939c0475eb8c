/**
 * Typed lifecycle events of the live server (hls.js-style typed event map). live-wiring connects
 * these to SSE and webhooks; tests use them to wait for state changes instead of sleeping.
 * Listeners must not throw: an exception in one is caught and logged by `emit`'s caller contract
 * (EventEmitter semantics), so keep listeners small.
 */
import { EventEmitter } from 'node:events';
import type { ViewerProtocol } from './reader.js';

/**
 * Every live event and its payload. `relay` marks a publisher that relays another node's stream
 * (cluster mode): not a new publisher of the service, so status, webhooks and recording skip it.
 */
export interface LiveEventMap {
  'publish.start': { streamId: string; sessionId: string; remote: string; takeover: boolean; relay: boolean };
  'publish.stop': { streamId: string; sessionId: string; reason: string; durationMs: number; bytesIn: number; relay: boolean };
  /** Backup ingest: the active publisher changed while the stream stayed live (readers kept). */
  'publish.switch': { streamId: string; from: string; to: string; reason: string; configChanged: boolean };
  /** The publisher left and a slate plays for up to `reconnectWindowS` (the stream stays live). */
  'publish.interrupted': { streamId: string; sessionId: string; reason: string; reconnectWindowS: number };
  /** A publisher took over from the slate within the reconnect window. */
  'publish.resumed': { streamId: string; sessionId: string; previousSessionId: string; afterMs: number };
  'viewer.join': { streamId: string; viewerId: string; protocol: ViewerProtocol };
  'viewer.leave': { streamId: string; viewerId: string; protocol: ViewerProtocol; reason: string; drops: number; durationMs: number };
  /** A publish attempt refused (bad key, key in use): for audit logs and alerts. */
  'publish.rejected': { key: string; remote: string; reason: string };
}

/** Name of a live event. */
export type LiveEventName = keyof LiveEventMap;

/** A typed emitter over `LiveEventMap`. */
export class LiveEvents {
  private readonly ee = new EventEmitter();

  constructor() {
    this.ee.setMaxListeners(0);
  }

  /** Subscribe; returns a function that unsubscribes. */
  on<K extends LiveEventName>(name: K, fn: (e: LiveEventMap[K]) => void): () => void {
    this.ee.on(name, fn);
    return () => this.ee.off(name, fn);
  }

  /** Resolve with the next event of `name` that satisfies `pred`. */
  next<K extends LiveEventName>(name: K, pred: (e: LiveEventMap[K]) => boolean = () => true): Promise<LiveEventMap[K]> {
    return new Promise((resolve) => {
      const off = this.on(name, (e) => {
        if (!pred(e)) return;
        off();
        resolve(e);
      });
    });
  }

  /** Emit to every subscriber. */
  emit<K extends LiveEventName>(name: K, e: LiveEventMap[K]): void {
    this.ee.emit(name, e);
  }

  /** Number of subscribers of `name` (leak checks). */
  listenerCount(name: LiveEventName): number {
    return this.ee.listenerCount(name);
  }
}
