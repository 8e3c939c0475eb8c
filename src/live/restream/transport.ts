/**
 * What a restreaming output needs from a push protocol, and the registry that picks one by URL
 * scheme. A transport validates a destination (before it is stored) and opens a connection that
 * takes batches of live units the way reader sinks do: `write` returns false while the socket is
 * backed up and `onDrain` says when to resume. transports.ts lists the transports that exist.
 */
import { fail } from '../../errors.js';
import type { MediaUnit } from '../stream/media-unit.js';
import { parseOutputUrl, type OutputTarget } from './output-url.js';

/** An open push connection to one destination. */
export interface PushConnection {
  /** Send a batch of units in order; false when the transport is backed up (wait for `onDrain`). */
  write(units: readonly MediaUnit[]): boolean;
  /** Call `fn` each time a backed-up connection can take more. */
  onDrain(fn: () => void): void;
  /** Bytes written to the destination so far (protocol overhead included). */
  readonly bytesSent: number;
  /** Resolves with the reason once the connection is gone (closed by either side, or failed). */
  readonly closed: Promise<string>;
  /** Close the connection (idempotent). */
  close(): void;
}

/** Tuning every transport receives. */
export interface ConnectOptions {
  /** Give up connecting after this long. */
  timeoutMs: number;
  /** The RTMP chunk size the live server uses (RTMP pushes reuse its shared chunks). */
  rtmpChunkSize: number;
}

/** A push protocol, chosen by URL scheme. */
export interface RestreamTransport {
  /** URL schemes it serves, lower case without the colon. */
  readonly schemes: readonly string[];
  /** Audio codec the destination needs (the audio bridge converts the source when it differs); undefined = as published. */
  readonly audioCodec?: 'aac' | 'opus';
  /** Throw LIVE_OUTPUT_BAD_URL when `target` cannot be used with this transport. */
  validate(target: OutputTarget): void;
  /** Connect and start publishing; rejects with LIVE_OUTPUT_REFUSED when the destination answered but refused the stream (bad key…), else with the network or protocol error. */
  connect(target: OutputTarget, o: ConnectOptions): Promise<PushConnection>;
}

/** Transports by scheme. */
export class TransportRegistry {
  private readonly byScheme = new Map<string, RestreamTransport>();

  /** Add a transport for its schemes (a later one for the same scheme replaces the earlier). */
  register(t: RestreamTransport): this {
    for (const s of t.schemes) this.byScheme.set(s, t);
    return this;
  }

  /** The transport for `scheme`, or undefined. */
  get(scheme: string): RestreamTransport | undefined {
    return this.byScheme.get(scheme);
  }

  /** Parse and check a destination; throws LIVE_OUTPUT_BAD_URL or LIVE_OUTPUT_SCHEME_UNSUPPORTED. */
  check(url: string, streamKey: string | null): { target: OutputTarget; transport: RestreamTransport } {
    const target = parseOutputUrl(url, streamKey);
    const transport = this.byScheme.get(target.scheme);
    if (transport === undefined) throw fail('LIVE_OUTPUT_SCHEME_UNSUPPORTED', target.scheme, this.schemes().map((s) => `${s}://`).join(', '));
    transport.validate(target);
    return { target, transport };
  }

  /** Every registered scheme, sorted (for messages). */
  schemes(): string[] {
    return [...this.byScheme.keys()].sort();
  }
}
