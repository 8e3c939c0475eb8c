/**
 * What kinds of object the origin serves, keyed by file extension: MIME type (SPECS.md "Types")
 * and Cache-Control policy (SPECS.md "Cache-Control"). Extensions not listed are never served,
 * so internal files in an asset directory can't leak.
 */

/** Per-kind response policy. */
export interface ObjectKind {
  type: string;
  /** Cache-Control value. */
  cacheControl: string;
  /** Small enough and hot enough to be held in the in-memory cache. */
  hot: boolean;
  /** A playlist that may carry Early Hints. */
  playlist: boolean;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';
const DAY = 'public, max-age=86400';

/** Build the extension table; playlist max-age is configurable. */
export function objectKinds(playlistMaxAgeS: number): ReadonlyMap<string, ObjectKind> {
  const playlist = `public, max-age=${playlistMaxAgeS}`;
  return new Map<string, ObjectKind>([
    ['m3u8', { type: 'application/vnd.apple.mpegurl', cacheControl: playlist, hot: true, playlist: true }],
    ['mpd', { type: 'application/dash+xml', cacheControl: playlist, hot: true, playlist: false }],
    // finished CMAF segments and init segments never change once published (RFC 8246)
    ['m4s', { type: 'video/iso.segment', cacheControl: IMMUTABLE, hot: true, playlist: false }],
    ['mp4', { type: 'video/mp4', cacheControl: IMMUTABLE, hot: true, playlist: false }],
    ['m4a', { type: 'audio/mp4', cacheControl: IMMUTABLE, hot: true, playlist: false }],
    ['m4v', { type: 'video/mp4', cacheControl: IMMUTABLE, hot: true, playlist: false }],
    ['ts', { type: 'video/mp2t', cacheControl: IMMUTABLE, hot: true, playlist: false }],
    ['aac', { type: 'audio/aac', cacheControl: IMMUTABLE, hot: true, playlist: false }],
    ['flv', { type: 'video/x-flv', cacheControl: DAY, hot: false, playlist: false }],
    ['vtt', { type: 'text/vtt; charset=utf-8', cacheControl: DAY, hot: true, playlist: false }],
    ['jpg', { type: 'image/jpeg', cacheControl: DAY, hot: true, playlist: false }],
    ['jpeg', { type: 'image/jpeg', cacheControl: DAY, hot: true, playlist: false }],
    ['png', { type: 'image/png', cacheControl: DAY, hot: true, playlist: false }],
    ['webp', { type: 'image/webp', cacheControl: DAY, hot: true, playlist: false }],
  ]);
}

/** Lower-cased extension of a path's last segment, '' when none. */
export function extensionOf(path: string): string {
  const dot = path.lastIndexOf('.');
  const slash = path.lastIndexOf('/');
  return dot > slash ? path.slice(dot + 1).toLowerCase() : '';
}
