/**
 * Pulled HLS sources (`http(s)://…/<name>.m3u8`, RFC 8216). A master playlist (§4.3.4) is reduced
 * to one variant: the highest BANDWIDTH (ties: the first listed), since Strom's own live ABR builds
 * the ladder downstream; when that variant's AUDIO group (§4.3.4.1.1) has a rendition with its own
 * URI — the DEFAULT=YES one, else the first — that playlist is followed too and its audio replaces
 * any in the variant's segments. Each media playlist is followed by a MediaFollower (live edge,
 * reloads, discontinuities, fMP4 and MPEG-TS segments) into one Pacer that releases units on the
 * wall clock. Plain segments only: the low-latency tags (EXT-X-PART, preload hints, blocking
 * reloads) are ignored, so a low-latency source plays with plain HLS latency.
 *
 * `connect` resolves once the playlists are read and the first segment of each has been demuxed
 * (so an unreachable, refused or unusable source fails the connect itself, within `timeoutMs`);
 * `closed` resolves with `source ended` after an ENDLIST playlist has played out.
 */
import { fail, isStromError } from '../../../errors.js';
import { avcConfigSize } from '../../relay/flv-tag-unit.js';
import type { SourceConnectOptions, SourceConnection, SourceConnector, SourceSink } from '../connector/source-connector.js';
import type { MediaUnit } from '../../stream/media-unit.js';
import { maskSourceUrl, redactSource } from '../connector/source-url.js';
import { httpConnector, SourceHttp } from './shared/http-source.js';
import { PulledConnection } from './pulled-connection.js';
import { loadPlaylist, MediaFollower, type FollowContext } from './hls/media-follower.js';
import { Pacer } from './hls/pacer.js';
import type { MasterPlaylist, MediaPlaylist, Variant } from './hls/playlist.js';

/** The variant a master playlist is pulled from: the highest BANDWIDTH, the first of equals. */
export function pickVariant(master: MasterPlaylist): Variant {
  return master.variants.reduce((best, v) => (v.bandwidth > best.bandwidth ? v : best));
}

/** The URI of the audio rendition to follow beside `v`, or null when its audio is in its own segments. */
export function audioRenditionUri(master: MasterPlaylist, v: Variant): string | null {
  if (v.audio === undefined) return null;
  const group = master.renditions.filter((r) => r.type === 'AUDIO' && r.groupId === v.audio);
  const chosen = group.find((r) => r.isDefault) ?? group[0];
  return chosen?.uri ?? null;
}

/** HLS pull. */
export const hlsConnector: SourceConnector = httpConnector('hls', '.m3u8', (url, sink, o) => connectHls(url, sink, o));

async function connectHls(url: URL, sink: SourceSink, o: SourceConnectOptions): Promise<SourceConnection> {
  const ac = new AbortController();
  const http = new SourceHttp(url);
  const shut = (why: string) => {
    ac.abort(new Error(why));
    pacer.close();
    http.close();
  };
  const conn = new HlsConnection(sink, shut);
  const pacer = new Pacer((u) => conn.unit(u), o.maxBufferBytes);
  const c: FollowContext = { http, source: url, signal: ac.signal, o, pacer, received: (n) => sink.received(n) };
  const timer = setTimeout(() => ac.abort(fail('LIVE_SOURCE_TIMEOUT', maskSourceUrl(url.href), 'reading the playlist and its first segment', o.timeoutMs)), o.timeoutMs);
  let followers: MediaFollower[];
  try {
    followers = await openFollowers(c, url);
    await Promise.all(followers.map((f) => f.prime()));
  } catch (err) {
    clearTimeout(timer);
    const reason: unknown = ac.signal.reason;
    shut('connect failed');
    if (isStromError(reason)) throw reason;
    if (isStromError(err)) throw err;
    throw fail('LIVE_SOURCE_PROTOCOL', maskSourceUrl(url.href), err instanceof Error ? err.message : String(err));
  }
  clearTimeout(timer);
  o.log.info({ playlists: followers.length }, 'HLS source connected');
  pacer.start();
  Promise.all(followers.map((f) => f.run()))
    .then(() => pacer.drained())
    .then(() => conn.stop('source ended', false), (err: unknown) => {
      const why = redactSource(err instanceof Error ? err.message : String(err), url.href);
      // Retrying cannot help a refused URL or a codec or encryption Strom does not read.
      conn.stop(why, isStromError(err, 'LIVE_SOURCE_REFUSED') || /not supported/.test(why));
    });
  return conn;
}

/** An open HLS source: its units leave the pacer through here; ending it stops the followers. */
class HlsConnection extends PulledConnection {
  constructor(sink: SourceSink, private readonly shut: (why: string) => void) {
    super(sink);
  }

  /** End it (idempotent). */
  stop(reason: string, permanent: boolean): void {
    this.end(reason, permanent);
  }

  /** A paced unit to the sink (an AVC configuration also tells the picture size). */
  unit(u: MediaUnit): void {
    const size = u.config && u.codec === 'avc' ? avcConfigSize(u.payload) : null;
    if (size !== null && !this.ended) this.sink.meta(size);
    this.deliver(u);
  }

  protected release(): void {
    this.shut('closed');
  }
}

/** The media playlists to follow for `url`: itself, or the chosen variant (and its audio rendition). */
async function openFollowers(c: FollowContext, url: URL): Promise<MediaFollower[]> {
  const first = await loadPlaylist(c, url);
  if (first.playlist.kind === 'media') return [new MediaFollower(c, first.url, first.playlist, null)];
  const master = first.playlist;
  const variant = pickVariant(master);
  const audioUri = audioRenditionUri(master, variant);
  const [main, audio] = await Promise.all([media(c, new URL(variant.uri, first.url)), audioUri === null ? null : media(c, new URL(audioUri, first.url))]);
  c.o.log.info({ bandwidth: variant.bandwidth, variants: master.variants.length, separateAudio: audio !== null }, 'HLS variant chosen');
  const out = [new MediaFollower(c, main.url, main.playlist, audio === null ? null : 'audio')];
  if (audio !== null) out.push(new MediaFollower(c, audio.url, audio.playlist, 'video'));
  return out;
}

async function media(c: FollowContext, url: URL): Promise<{ url: URL; playlist: MediaPlaylist }> {
  const got = await loadPlaylist(c, url);
  if (got.playlist.kind !== 'media') throw c.http.error('LIVE_SOURCE_PROTOCOL', got.url, 'a variant names a master playlist');
  return { url: got.url, playlist: got.playlist };
}
