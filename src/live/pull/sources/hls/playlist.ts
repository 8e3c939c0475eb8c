/**
 * HLS playlists as a pulled source reads them (RFC 8216): a master playlist's variants
 * (EXT-X-STREAM-INF, §4.3.4.2) and renditions (EXT-X-MEDIA, §4.3.4.1), or a media playlist's
 * segments (EXTINF §4.3.2.1, EXT-X-BYTERANGE §4.3.2.2, EXT-X-DISCONTINUITY §4.3.2.3, EXT-X-MAP
 * §4.3.2.5) with its EXT-X-TARGETDURATION, EXT-X-MEDIA-SEQUENCE and EXT-X-ENDLIST (§4.3.3).
 * Attribute lists follow §4.2. Tags a plain-segment client does not need are skipped: keys
 * (encrypted segments are refused by the caller), dates, and the low-latency tags (EXT-X-PART,
 * EXT-X-PRELOAD-HINT, EXT-X-SERVER-CONTROL…), whose complete segments are listed anyway.
 * URIs stay as written: the caller resolves them against the playlist's URL.
 */

/** Thrown for text that is not a usable playlist. */
export class PlaylistError extends Error {}

/** A byte range of a resource (EXT-X-BYTERANGE, EXT-X-MAP BYTERANGE). */
export interface ByteRange {
  offset: number;
  length: number;
}

/** An initialisation section (EXT-X-MAP). */
export interface MediaInit {
  uri: string;
  range?: ByteRange;
}

/** One media segment. */
export interface Segment {
  uri: string;
  /** EXTINF duration, seconds. */
  duration: number;
  /** Media sequence number (§4.3.3.2). */
  sequence: number;
  /** An EXT-X-DISCONTINUITY precedes it. */
  discontinuity: boolean;
  range?: ByteRange;
  init?: MediaInit;
  /** Encrypted (EXT-X-KEY METHOD other than NONE). */
  encrypted: boolean;
}

/** A media playlist. */
export interface MediaPlaylist {
  kind: 'media';
  targetDuration: number;
  mediaSequence: number;
  endList: boolean;
  segments: Segment[];
}

/** A variant stream (EXT-X-STREAM-INF). */
export interface Variant {
  uri: string;
  bandwidth: number;
  codecs?: string;
  resolution?: string;
  /** GROUP-ID of its audio renditions. */
  audio?: string;
}

/** An alternative rendition (EXT-X-MEDIA). */
export interface Rendition {
  type: string;
  groupId: string;
  name: string;
  isDefault: boolean;
  /** Absent when the rendition is carried in the variant's own segments. */
  uri?: string;
}

/** A master playlist. */
export interface MasterPlaylist {
  kind: 'master';
  variants: Variant[];
  renditions: Rendition[];
}

/** Attribute list (§4.2): names to raw values, quoted strings unquoted. */
export function parseAttributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /\s*([A-Z0-9-]+)=("[^"\r\n]*"|[^,]*)\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < text.length && (m = re.exec(text)) !== null) {
    const v = m[2]!;
    out.set(m[1]!, v.startsWith('"') ? v.slice(1, -1) : v.trim());
  }
  return out;
}

/** `n[@o]` (§4.3.2.2); without `@o` the range follows `previousEnd`. */
function parseRange(text: string, previousEnd: number | undefined): ByteRange {
  const m = /^(\d+)(?:@(\d+))?$/.exec(text.trim());
  if (m === null) throw new PlaylistError(`bad byte range ${JSON.stringify(text.slice(0, 40))}`);
  const offset = m[2] !== undefined ? Number(m[2]) : previousEnd;
  if (offset === undefined) throw new PlaylistError('a byte range without an offset follows no range of the same resource');
  return { offset, length: Number(m[1]) };
}

/** Parse a playlist: master or media, by its tags (§4.1: a playlist is one or the other). */
export function parsePlaylist(text: string): MasterPlaylist | MediaPlaylist {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (lines[0] !== '#EXTM3U') throw new PlaylistError('no #EXTM3U first line');
  if (lines.some((l) => l.startsWith('#EXT-X-STREAM-INF:'))) return parseMaster(lines);
  return parseMedia(lines);
}

function parseMaster(lines: string[]): MasterPlaylist {
  const variants: Variant[] = [];
  const renditions: Rendition[] = [];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.startsWith('#EXT-X-MEDIA:')) {
      const a = parseAttributes(l.slice(13));
      const type = a.get('TYPE');
      const groupId = a.get('GROUP-ID');
      if (type === undefined || groupId === undefined) throw new PlaylistError('EXT-X-MEDIA without TYPE or GROUP-ID');
      const uri = a.get('URI');
      renditions.push({ type, groupId, name: a.get('NAME') ?? '', isDefault: a.get('DEFAULT') === 'YES', ...(uri !== undefined ? { uri } : {}) });
    } else if (l.startsWith('#EXT-X-STREAM-INF:')) {
      const a = parseAttributes(l.slice(18));
      const bandwidth = Number(a.get('BANDWIDTH'));
      if (!Number.isFinite(bandwidth) || bandwidth < 0) throw new PlaylistError('EXT-X-STREAM-INF without a BANDWIDTH');
      const uri = lines[i + 1];
      if (uri === undefined || uri.startsWith('#')) throw new PlaylistError('EXT-X-STREAM-INF not followed by a URI');
      i++;
      const v: Variant = { uri, bandwidth };
      for (const [key, name] of [['CODECS', 'codecs'], ['RESOLUTION', 'resolution'], ['AUDIO', 'audio']] as const) {
        const value = a.get(key);
        if (value !== undefined) v[name] = value;
      }
      variants.push(v);
    }
  }
  if (variants.length === 0) throw new PlaylistError('a master playlist without variants');
  return { kind: 'master', variants, renditions };
}

function parseMedia(lines: string[]): MediaPlaylist {
  let targetDuration = -1;
  let mediaSequence = 0;
  let endList = false;
  const segments: Segment[] = [];
  let duration = -1;
  let discontinuity = false;
  let encrypted = false;
  let range: ByteRange | undefined;
  let init: MediaInit | undefined;
  const ends = new Map<string, number>();
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (!l.startsWith('#')) {
      if (duration < 0) throw new PlaylistError(`URI ${JSON.stringify(l.slice(0, 60))} without EXTINF`);
      if (range !== undefined && range.offset < 0) range = parseRange(`${range.length}`, ends.get(l));
      if (range !== undefined) ends.set(l, range.offset + range.length);
      segments.push({ uri: l, duration, sequence: mediaSequence + segments.length, discontinuity, encrypted, ...(range ? { range } : {}), ...(init ? { init } : {}) });
      duration = -1;
      discontinuity = false;
      range = undefined;
    } else if (l.startsWith('#EXTINF:')) {
      duration = Number.parseFloat(l.slice(8));
      if (!Number.isFinite(duration) || duration < 0) throw new PlaylistError(`bad EXTINF ${JSON.stringify(l.slice(0, 40))}`);
    } else if (l.startsWith('#EXT-X-TARGETDURATION:')) {
      targetDuration = Number(l.slice(22));
    } else if (l.startsWith('#EXT-X-MEDIA-SEQUENCE:')) {
      if (segments.length > 0) throw new PlaylistError('EXT-X-MEDIA-SEQUENCE after the first segment (§4.3.3.2)');
      mediaSequence = Number(l.slice(22));
      if (!Number.isSafeInteger(mediaSequence) || mediaSequence < 0) throw new PlaylistError('bad EXT-X-MEDIA-SEQUENCE');
    } else if (l === '#EXT-X-ENDLIST') endList = true;
    else if (l === '#EXT-X-DISCONTINUITY') discontinuity = true;
    else if (l.startsWith('#EXT-X-BYTERANGE:')) {
      // The offset may depend on the URI that follows: resolved there.
      const m = /^(\d+)(@\d+)?$/.exec(l.slice(17).trim());
      range = m !== null && m[2] === undefined ? { offset: -1, length: Number(m[1]) } : parseRange(l.slice(17), undefined);
    } else if (l.startsWith('#EXT-X-MAP:')) {
      const a = parseAttributes(l.slice(11));
      const uri = a.get('URI');
      if (uri === undefined) throw new PlaylistError('EXT-X-MAP without URI');
      const r = a.get('BYTERANGE');
      init = { uri, ...(r !== undefined ? { range: parseRange(r, 0) } : {}) };
    } else if (l.startsWith('#EXT-X-KEY:')) {
      encrypted = (parseAttributes(l.slice(11)).get('METHOD') ?? 'NONE') !== 'NONE';
    }
  }
  if (!Number.isFinite(targetDuration) || targetDuration <= 0) throw new PlaylistError('no EXT-X-TARGETDURATION');
  return { kind: 'media', targetDuration, mediaSequence, endList, segments };
}
