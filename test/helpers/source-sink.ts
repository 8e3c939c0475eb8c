/** A SourceSink that records what a pulled source's connector delivers, and when, for the pull tests. */
import pino from 'pino';
import type { SourceConnectOptions, SourceMeta, SourceSink } from '../../src/live/pull/connector/source-connector.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';

/** A unit as delivered, with the wall-clock time it came. */
export interface Delivered {
  u: MediaUnit;
  at: number;
}

/** The recording sink. */
export class RecordingSink implements SourceSink {
  readonly units: Delivered[] = [];
  readonly metas: SourceMeta[] = [];
  bytes = 0;

  unit(u: MediaUnit): void {
    this.units.push({ u, at: Date.now() });
  }

  meta(m: SourceMeta): void {
    this.metas.push(m);
  }

  received(bytes: number): void {
    this.bytes += bytes;
  }

  /** The delivered units of one kind. */
  of(kind: MediaUnit['kind']): MediaUnit[] {
    return this.units.filter((d) => d.u.kind === kind).map((d) => d.u);
  }
}

/** Connect options for tests (silent log). */
export function connectOptions(over: Partial<SourceConnectOptions> = {}): SourceConnectOptions {
  return { timeoutMs: 5_000, maxBufferBytes: 8 << 20, log: pino({ level: 'silent' }), ...over };
}
