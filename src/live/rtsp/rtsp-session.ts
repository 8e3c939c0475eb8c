/**
 * One RTSP session (RFC 2326 §3 "session"): the tracks a client has set up with their transports,
 * and what it does with them — publish (ANNOUNCE/RECORD) or read (DESCRIBE/PLAY). A session lives
 * on the connection that created it and ends with it, on TEARDOWN, or after
 * `rtsp.sessionTimeoutMs` without a request, keep-alive or packet (RFC 2326 §12.37 `timeout`).
 */
import { randomBytes, randomInt } from 'node:crypto';
import type net from 'node:net';
import type { IngestTrack } from './ingest-tracks.js';
import type { PlayTrack } from './play-tracks.js';
import type { RtspPlayer } from './rtsp-play.js';
import type { RtspPublisher } from './rtsp-publish.js';
import type { RtspTransport } from './rtsp-transport.js';

/** A set-up track: its index in the SDP, transport and SSRC. */
export interface TrackSetup {
  index: number;
  transport: RtspTransport;
  ssrc: number;
}

/** What a session publishes or reads. */
export type SessionRole =
  | { kind: 'publish'; streamId: string; backup: boolean; tracks: ReadonlyArray<IngestTrack | null> }
  | { kind: 'read'; streamId: string; tracks: readonly PlayTrack[]; baseUrl: string };

/** An answer to one request. */
export interface RtspAnswer {
  status: number;
  headers?: Array<[string, string]>;
  body?: string;
  /** Runs once the answer is written (PLAY starts sending after its 200, never before it). */
  after?: () => void;
}

/** The connection a session lives on, as the methods see it (rtsp-connection.ts implements it). */
export interface RtspClient {
  session: RtspSession | null;
  /** Interleaved channel → the set-up track and whether it carries RTCP. */
  readonly channels: Map<number, { index: number; rtcp: boolean }>;
  /** Called when the socket drains after a full write. */
  onDrain: (() => void) | null;
  /** The publishing role an ANNOUNCE set up, with each SDP media's `a=control`. */
  announced: { role: Extract<SessionRole, { kind: 'publish' }>; controls: string[] } | null;
  /** The reading role of the last DESCRIBE. */
  described: Extract<SessionRole, { kind: 'read' }> | null;
  readonly remoteAddress: string;
  readonly socket: net.Socket;
  /** Write bytes; false when the socket buffer is full. */
  write(b: Buffer): boolean;
  /** Hold writes until `uncork` (a batch of interleaved packets in one writev). */
  cork(): void;
  uncork(): void;
  /** Close the connection and its session. */
  close(reason: string): void;
}

/** One RTSP session. */
export class RtspSession {
  /** The Session header value: 16 hex digits, unguessable (RFC 7826 §18.49 asks for randomness). */
  readonly id = randomBytes(8).toString('hex');
  lastSeen = Date.now();
  readonly setups = new Map<number, TrackSetup>();
  publisher: RtspPublisher | null = null;
  player: RtspPlayer | null = null;
  closed = false;
  private readonly cleanups: Array<() => void> = [];

  constructor(readonly role: SessionRole) {}

  /** A request, keep-alive or packet of this session arrived. */
  touch(): void {
    this.lastSeen = Date.now();
  }

  /** Record a track's transport (a repeated SETUP of the same track replaces it). */
  setup(index: number, transport: RtspTransport): TrackSetup {
    const s = { index, transport, ssrc: this.setups.get(index)?.ssrc ?? randomInt(1, 2 ** 32 - 1) };
    this.setups.set(index, s);
    return s;
  }

  /** Run `fn` when the session ends (UDP routes, channel maps). */
  onEnd(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /** End the session: stop reading, end publishing (the stream ends), release routes. Idempotent. */
  end(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.player?.stop(reason);
    this.publisher?.ended(reason);
    for (const fn of this.cleanups.splice(0)) fn();
  }
}
