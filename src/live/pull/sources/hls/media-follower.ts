/**
 * Follows one HLS media playlist (RFC 8216 §6.3): starts near the live edge, no later than the
 * last segment starting at least three target durations from the end (§6.3.3; an ENDLIST playlist
 * from its first segment), loads each new segment in order (its EXT-X-MAP first when that
 * changed), and reloads the playlist per §6.3.4: one target duration after a reload that brought
 * new segments, half of one after a reload that did not. Media goes to the connection's Pacer;
 * fetching waits while the pacer is full. After the start, a segment that fails is tried
 * SEGMENT_TRIES times and then skipped (MAX_SKIPPED in a row end the source); a playlist that does
 * not advance for STALL_TARGETS target durations (reloads failing included) ends it. A segment
 * above the byte limit, or media that cannot be read, is a protocol error.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fail, isStromError, type StromError } from '../../../../errors.js';
import type { TrackKind } from '../../../stream/media-unit.js';
import type { SourceConnectOptions } from '../../connector/source-connector.js';
import { maskSourceUrl } from '../../connector/source-url.js';
import type { SourceHttp } from '../shared/http-source.js';
import type { Pacer } from './pacer.js';
import { parsePlaylist, type MasterPlaylist, type MediaPlaylist, type Segment } from './playlist.js';
import { SegmentReader } from './segment-reader.js';

/** Target durations without a new segment before the source is taken as gone. */
export const STALL_TARGETS = 3;
const SEGMENT_TRIES = 3;
const MAX_SKIPPED = 3;
/** Playlists are small: more than this is not a playlist. */
const MAX_PLAYLIST_BYTES = 1 << 20;

/** What a follower shares with its connection. */
export interface FollowContext {
  http: SourceHttp;
  source: URL;
  signal: AbortSignal;
  o: SourceConnectOptions;
  pacer: Pacer;
  received(bytes: number): void;
}

/** Fetch and parse a playlist; resolves with the URL that answered (the base of its URIs). */
export async function loadPlaylist(c: FollowContext, url: URL): Promise<{ url: URL; playlist: MasterPlaylist | MediaPlaylist }> {
  const got = await c.http.bytes(url, requestOptions(c), Math.min(MAX_PLAYLIST_BYTES, c.o.maxBufferBytes), c.received);
  return { url: got.url, playlist: asProtocol(c, got.url, () => parsePlaylist(got.body.toString('utf8'))) };
}

function requestOptions(c: FollowContext) {
  return { signal: c.signal, headersTimeoutMs: c.o.timeoutMs, bodyTimeoutMs: c.o.timeoutMs };
}

/** `fn()`, its parse errors as LIVE_SOURCE_PROTOCOL. */
function asProtocol<T>(c: FollowContext, at: URL, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isStromError(err)) throw err;
    throw c.http.error('LIVE_SOURCE_PROTOCOL', at, err instanceof Error ? err.message : String(err));
  }
}

/** The sequence number to start at (§6.3.3). */
export function startSequence(pl: MediaPlaylist): number {
  if (pl.endList || pl.segments.length === 0) return pl.mediaSequence;
  let fromEnd = 0;
  for (let i = pl.segments.length - 1; i >= 0; i--) {
    fromEnd += pl.segments[i]!.duration;
    if (fromEnd >= 3 * pl.targetDuration) return pl.segments[i]!.sequence;
  }
  return pl.mediaSequence;
}

function lastSequence(pl: MediaPlaylist): number {
  return pl.mediaSequence + pl.segments.length - 1;
}

/** One media playlist followed. */
export class MediaFollower {
  private next: number;
  private readonly reader: SegmentReader;
  private lastAdvance = Date.now();
  private skipped = 0;
  private restart = false;

  constructor(private readonly c: FollowContext, private url: URL, private pl: MediaPlaylist, drop: TrackKind | null) {
    this.next = startSequence(pl);
    this.reader = new SegmentReader((u) => c.pacer.push(u), drop, c.o.maxBufferBytes);
  }

  /** Load the first segment (any failure is the connection's failure). */
  async prime(): Promise<void> {
    const seg = this.pl.segments.find((s) => s.sequence === this.next);
    if (seg === undefined) throw this.c.http.error('LIVE_SOURCE_PROTOCOL', this.url, 'a media playlist without segments');
    await this.load(seg, true);
    this.next = seg.sequence + 1;
  }

  /** Follow until ENDLIST (resolves) or a failure (rejects with a catalog error). */
  async run(): Promise<void> {
    let advanced = true;
    for (;;) {
      for (const seg of this.pl.segments) {
        if (seg.sequence < this.next) continue;
        await this.c.pacer.room();
        if (this.c.signal.aborted) return;
        await this.load(this.restart ? { ...seg, discontinuity: true } : seg, false);
        this.restart = false;
        this.next = seg.sequence + 1;
      }
      if (this.pl.endList) return this.reader.end();
      const td = this.pl.targetDuration * 1000;
      await sleep(advanced ? td : td / 2, undefined, { signal: this.c.signal });
      advanced = await this.reload();
      if (!advanced && Date.now() - this.lastAdvance > STALL_TARGETS * td) {
        throw fail('LIVE_SOURCE_UNREACHABLE', maskSourceUrl(this.c.source.href), `the playlist has not advanced for ${STALL_TARGETS} target durations (${Math.round((Date.now() - this.lastAdvance) / 1000)} s)`);
      }
    }
  }

  /** Reload the playlist; true when it brought new segments (or ENDLIST). */
  private async reload(): Promise<boolean> {
    let fresh: MediaPlaylist;
    try {
      const got = await loadPlaylist(this.c, this.url);
      if (got.playlist.kind !== 'media') throw this.c.http.error('LIVE_SOURCE_PROTOCOL', got.url, 'a media playlist became a master playlist');
      fresh = got.playlist;
      this.url = got.url;
    } catch (err) {
      if (this.c.signal.aborted) throw err;
      this.c.o.log.warn({ err: (err as Error).message }, 'HLS playlist reload failed');
      return false;
    }
    const old = this.pl;
    this.pl = fresh;
    if (lastSequence(fresh) < this.next - 1 - old.segments.length) {
      // The numbering went back: the source restarted its playlist.
      this.next = startSequence(fresh);
      this.restart = true;
    } else if (fresh.mediaSequence > this.next) {
      this.c.o.log.warn({ from: this.next, to: fresh.mediaSequence }, 'HLS segments left the playlist before they were loaded: skipped');
      this.next = fresh.mediaSequence;
    }
    const advanced = lastSequence(fresh) > lastSequence(old) || this.restart || (fresh.endList && !old.endList);
    if (advanced) this.lastAdvance = Date.now();
    return advanced;
  }

  /** Fetch and read one segment (its init section first when new). */
  private async load(seg: Segment, strict: boolean): Promise<void> {
    if (seg.encrypted) throw this.c.http.error('LIVE_SOURCE_PROTOCOL', this.url, 'encrypted segments (EXT-X-KEY) are not supported');
    if (seg.init !== undefined && this.reader.needsInit(seg)) {
      const at = new URL(seg.init.uri, this.url);
      const init = await this.fetch(at, seg.init.range, strict);
      if (init === null) return this.skip(seg);
      asProtocol(this.c, at, () => this.reader.setInit(seg, init));
    }
    const at = new URL(seg.uri, this.url);
    const bytes = await this.fetch(at, seg.range, strict);
    if (bytes === null) return this.skip(seg);
    this.skipped = 0;
    asProtocol(this.c, at, () => this.reader.push(seg, bytes));
  }

  private skip(seg: Segment): void {
    this.c.o.log.warn({ sequence: seg.sequence }, 'HLS segment could not be loaded: skipped');
    if (++this.skipped >= MAX_SKIPPED) throw this.c.http.error('LIVE_SOURCE_UNREACHABLE', this.url, `${MAX_SKIPPED} segments in a row could not be loaded`);
  }

  /** A segment's bytes; null when it stays unavailable (after the start only). */
  private async fetch(at: URL, range: Segment['range'], strict: boolean): Promise<Buffer | null> {
    for (let attempt = 1; ; attempt++) {
      try {
        const o = range ? { ...requestOptions(this.c), range } : requestOptions(this.c);
        return (await this.c.http.bytes(at, o, this.c.o.maxBufferBytes, this.c.received)).body;
      } catch (err) {
        const e = err as StromError;
        // A missing segment is not a missing source (the playlist was there): worth a retry later.
        if (strict && e.code === 'LIVE_SOURCE_REFUSED') throw this.c.http.error('LIVE_SOURCE_UNREACHABLE', at, `segment answered ${/HTTP \d+/.exec(e.message)?.[0] ?? 'a refusal'}`);
        if (strict || this.c.signal.aborted || e.code === 'LIVE_SOURCE_PROTOCOL') throw err;
        if (attempt >= SEGMENT_TRIES) return null;
        await sleep((this.pl.targetDuration * 1000) / 4, undefined, { signal: this.c.signal });
      }
    }
  }
}
