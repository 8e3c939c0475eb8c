/**
 * The hub-facing side of a pulled source: a Publisher the registry sees like any RTMP or SRT
 * session, and the SourceSink its connections deliver into. One SourcePublisher outlives the
 * connections it carries: when a source drops and Strom reconnects within the grace time, the new
 * connection's units continue through the same publisher, so viewers keep their connections and
 * the hub rebases the new timeline (it absorbs a clock that went backwards, as for any publisher).
 *
 * Each connection starts at a keyframe: until a connection's first video keyframe its other video
 * frames are dropped (a camera answering PLAY mid-GOP, an HLS segment without one at its start),
 * so a reader never gets a frame it cannot decode. The stream is attached to the registry at the
 * first unit that passes, so "active" means media flows.
 */
import type { MediaUnit } from '../stream/media-unit.js';
import type { LiveStream, Publisher } from '../stream/stream.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import type { SourceMeta, SourceSink } from './connector/source-connector.js';

let nextId = 0;

/** What the owner (pulled-source.ts) learns from its publisher. */
export interface SourcePublisherEvents {
  /** A connection's first unit reached the hub: the stream is active (viewers waiting may go on). */
  firstMedia(stream: LiveStream): void;
  /** The registry closed the publisher (takeover, idle watchdog, shutdown); the connection must go. */
  closed(reason: string): void;
}

/** A pulled source as a publisher. */
export class SourcePublisher implements Publisher {
  readonly id = `pull${(++nextId).toString(36)}`;
  private stream: LiveStream | null = null;
  private gate = true;
  private meta: SourceMeta = {};
  private dropped = 0;
  /** Whether the current connection delivered media yet. */
  private firstSent = false;
  private isClosed = false;
  /** Bytes received over every connection of this publisher. */
  bytesIn = 0;

  constructor(
    readonly streamId: string,
    /** The masked source URL: the API shows it as the publisher's remote. */
    readonly remote: string,
    private readonly registry: StreamRegistry,
    private readonly on: SourcePublisherEvents,
  ) {}

  /** The stream once media flowed, else null. */
  get attached(): LiveStream | null {
    return this.stream;
  }

  /** A sink for one connection (its keyframe gate starts closed). */
  sink(): SourceSink {
    this.gate = true;
    this.firstSent = false;
    return {
      unit: (u) => this.unit(u),
      meta: (m) => this.setMeta(m),
      received: (n) => {
        this.bytesIn += n;
      },
    };
  }

  /** Video frames dropped while waiting for a connection's first keyframe. */
  get droppedBeforeKeyframe(): number {
    return this.dropped;
  }

  private unit(u: MediaUnit): void {
    if (this.isClosed) return;
    if (this.gate && u.kind === 'video' && !u.config) {
      if (!u.keyframe) {
        this.dropped++;
        return;
      }
      this.gate = false;
    }
    let s = this.stream;
    if (s === null) {
      // Throws LIVE_PUBLISHER_ACTIVE when a pushed publisher holds the stream and live.takeover is reject.
      s = this.registry.startPublish(this.streamId, this);
      this.stream = s;
      if (Object.keys(this.meta).length > 0) s.setMeta({ ...this.meta }, this);
    }
    s.push(u, u.payload.length, this);
    if (!u.config) this.notifyFirst(s);
  }

  private notifyFirst(s: LiveStream): void {
    if (this.firstSent) return;
    this.firstSent = true;
    this.on.firstMedia(s);
  }

  private setMeta(m: SourceMeta): void {
    this.meta = { ...this.meta, ...m };
    this.stream?.setMeta({ ...this.meta }, this);
  }

  /** End the publish (the source is gone for good, or removed); readers end unless a slate or takeover stands in. */
  stop(reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.stream !== null) this.registry.stopPublish(this.stream, this, reason);
  }

  /** Registry side: takeover, idle watchdog or shutdown closed this publisher. */
  close(reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.stream !== null) this.registry.stopPublish(this.stream, this, reason);
    this.on.closed(reason);
  }

  /** Whether the registry or the owner ended this publisher. */
  get closed(): boolean {
    return this.isClosed;
  }
}
