/**
 * Caption tracks in a published asset's manifests. The master playlist and the MPD are written by
 * the packager without captions; these functions add the current tracks to that text and are
 * idempotent — they first remove whatever an earlier call added — so adding, replacing or
 * deleting a track is "rewrite both manifests from the track list". Pure: text in, text out.
 *
 * HLS (RFC 8216 §4.3.4.1): one `EXT-X-MEDIA:TYPE=SUBTITLES` per track in group `subs`, and
 * `SUBTITLES="subs"` on every EXT-X-STREAM-INF (§4.3.4.2), which then must name an existing group.
 * DASH (ISO/IEC 23009-1 §5.3.3, DASH-IF IOP "sidecar" WebVTT): one text AdaptationSet per track,
 * `mimeType="text/vtt"`, whose Representation's BaseURL is the whole .vtt file.
 */

/** A caption track as the manifests name it. */
export interface CaptionTrackRef {
  /** BCP 47 tag (RFC 5646). */
  language: string;
  label: string;
  isDefault: boolean;
  /** HLS subtitle playlist, relative to the asset (`captions/en_ab12/index.m3u8`). */
  playlistUri: string;
  /** The whole WebVTT file, relative to the asset (`captions/en_ab12.vtt`). */
  vttUri: string;
}

/** The subtitle group's id. */
export const SUBTITLE_GROUP = 'subs';

/** A quoted-string attribute value (§4.2: no double quote, CR or LF inside). */
export function quoted(value: string): string {
  return `"${value.replace(/["\r\n]/g, "'")}"`;
}

/** Strip what `withHlsSubtitles` added. */
export function withoutHlsSubtitles(master: string): string {
  return master
    .split('\n')
    .filter((l) => !l.startsWith('#EXT-X-MEDIA:TYPE=SUBTITLES,'))
    .map((l) => (l.startsWith('#EXT-X-STREAM-INF:') ? l.replace(`,SUBTITLES="${SUBTITLE_GROUP}"`, '') : l))
    .join('\n');
}

/** The master playlist with exactly `tracks` as its subtitle renditions (none: as packaged). */
export function withHlsSubtitles(master: string, tracks: CaptionTrackRef[]): string {
  const lines = withoutHlsSubtitles(master).split('\n');
  if (tracks.length === 0) return lines.join('\n');
  const media = tracks.map((t) => `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="${SUBTITLE_GROUP}",LANGUAGE=${quoted(t.language)},NAME=${quoted(t.label)},` +
    // §4.3.4.1: AUTOSELECT must be YES when DEFAULT is.
    `DEFAULT=${t.isDefault ? 'YES' : 'NO'},AUTOSELECT=YES,URI=${quoted(t.playlistUri)}`);
  const firstVariant = lines.findIndex((l) => l.startsWith('#EXT-X-STREAM-INF:'));
  const out = lines.map((l) => (l.startsWith('#EXT-X-STREAM-INF:') ? `${l},SUBTITLES="${SUBTITLE_GROUP}"` : l));
  out.splice(firstVariant < 0 ? out.length : firstVariant, 0, ...media);
  return out.join('\n');
}

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const TEXT_SET = /\n? *<AdaptationSet [^>]*contentType="text"[^>]*>[\s\S]*?<\/AdaptationSet>/g;

/** Strip what `withDashSubtitles` added. */
export function withoutDashSubtitles(mpd: string): string {
  return mpd.replace(TEXT_SET, '');
}

/** The MPD with exactly `tracks` as text AdaptationSets (ids from 100, clear of the packager's). */
export function withDashSubtitles(mpd: string, tracks: CaptionTrackRef[]): string {
  const base = withoutDashSubtitles(mpd);
  if (tracks.length === 0) return base;
  const sets = tracks.map((t, i) =>
    `  <AdaptationSet id="${100 + i}" contentType="text" mimeType="text/vtt" lang="${xml(t.language)}">` +
    // Role "subtitle" (urn:mpeg:dash:role:2011); the default track is also "main" (§5.8.5.5).
    `<Role schemeIdUri="urn:mpeg:dash:role:2011" value="${t.isDefault ? 'main' : 'subtitle'}"/><Label>${xml(t.label)}</Label>` +
    `<Representation id="text-${xml(t.language)}" bandwidth="256"><BaseURL>${xml(t.vttUri)}</BaseURL></Representation></AdaptationSet>`);
  const at = base.lastIndexOf('</Period>');
  if (at < 0) return base;
  return `${base.slice(0, at)}${sets.join('\n')}\n${base.slice(at)}`;
}
