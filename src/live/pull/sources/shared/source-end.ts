/**
 * How a pulled source's connection ends, once: the first end (the source finished, failed, or
 * `close` was called) runs the connection's cleanup and resolves `closed` with its reason; later
 * ends are ignored. Shared by the HTTP connectors (FLV, HLS).
 */
import type { SourceEnd } from '../../source-connector.js';

/** A connection's `closed` promise and the function that ends it. */
export interface Ending {
  readonly closed: Promise<SourceEnd>;
  /** End the connection (idempotent): `cleanup` runs, then `closed` resolves. */
  end(reason: string, permanent?: boolean): void;
  /** Whether it has ended. */
  ended(): boolean;
}

/** An Ending that runs `cleanup` at the first end. */
export function ending(cleanup: (reason: string) => void): Ending {
  let settle!: (end: SourceEnd) => void;
  const closed = new Promise<SourceEnd>((resolve) => (settle = resolve));
  let done = false;
  return {
    closed,
    end(reason, permanent = false) {
      if (done) return;
      done = true;
      cleanup(reason);
      settle({ reason, permanent });
    },
    ended: () => done,
  };
}
