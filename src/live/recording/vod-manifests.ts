/**
 * Static manifests of a finished live recording, so it plays like any uploaded VOD asset
 * (docs/STORAGE.md layout, docs/LIVE.md "LL-DASH, DVR and recording"):
 * - `index.m3u8`: VOD media playlist (RFC 8216bis §4.4.3.5 PLAYLIST-TYPE VOD, §4.4.3.4 ENDLIST,
 *   §4.4.4.5 EXT-X-MAP, §4.4.2.1 INDEPENDENT-SEGMENTS, §4.4.4.3 EXT-X-DISCONTINUITY where the init
 *   segment changed). TARGETDURATION is the longest EXTINF rounded (§4.4.3.1).
 * - `master.m3u8`: one muxed variant with CODECS and BANDWIDTH (§4.4.6.2).
 * - `manifest.mpd`: static MPD (ISO/IEC 23009-1 §5.3.1.2 type="static", §5.3.9.4 SegmentTemplate
 *   with a SegmentTimeline and `$Number$`), one Period per init segment (a new init = a new Period,
 *   §5.3.2) so a codec change is a period boundary, the DASH counterpart of a discontinuity.
 * Pure functions: the recorder passes what it wrote; nothing here touches the disk.
 */
import { isoDuration } from '../formats/dash/ll-dash-mpd.js';

/** One recorded segment. */
export interface RecordedSegment {
  msn: number;
  /** Media time of its first sample, ms (the tfdt of the video track / 90). */
  startMs: number;
  durationMs: number;
  /** Init segment version (0 = init.mp4, v = init_v.mp4). */
  initVersion: number;
  bytes: number;
}

/** What a recording's manifests describe. */
export interface RecordingInfo {
  segments: RecordedSegment[];
  /** RFC 6381 codec strings of the muxed rendition. */
  codecs: string[];
  width?: number;
  height?: number;
}

/** File name of init segment `v`. */
export function initName(v: number): string {
  return v === 0 ? 'init.mp4' : `init_${v}.mp4`;
}

/** Total duration in seconds. */
export function recordingDurationS(info: RecordingInfo): number {
  return info.segments.reduce((n, s) => n + s.durationMs, 0) / 1000;
}

function peakBandwidth(info: RecordingInfo): number {
  const rates = info.segments.filter((s) => s.durationMs > 0).map((s) => (s.bytes * 8000) / s.durationMs);
  return Math.max(1, Math.ceil(Math.max(0, ...rates)));
}

/** The VOD media playlist. */
export function renderVodPlaylist(info: RecordingInfo): string {
  const target = Math.max(1, ...info.segments.map((s) => Math.round(s.durationMs / 1000)));
  const out = ['#EXTM3U', '#EXT-X-VERSION:7', `#EXT-X-TARGETDURATION:${target}`, '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-INDEPENDENT-SEGMENTS', '#EXT-X-MEDIA-SEQUENCE:0'];
  let init = -1;
  for (const s of info.segments) {
    if (s.initVersion !== init) {
      if (init !== -1) out.push('#EXT-X-DISCONTINUITY');
      out.push(`#EXT-X-MAP:URI="${initName(s.initVersion)}"`);
      init = s.initVersion;
    }
    out.push(`#EXTINF:${(s.durationMs / 1000).toFixed(3)},`, `seg_${s.msn}.m4s`);
  }
  out.push('#EXT-X-ENDLIST');
  return `${out.join('\n')}\n`;
}

/** The multivariant playlist (one muxed rendition → index.m3u8). */
export function renderVodMaster(info: RecordingInfo): string {
  const attrs = [`BANDWIDTH=${peakBandwidth(info)}`];
  if (info.codecs.length > 0) attrs.push(`CODECS="${info.codecs.join(',')}"`);
  if (info.width && info.height) attrs.push(`RESOLUTION=${info.width}x${info.height}`);
  return `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:${attrs.join(',')}\nindex.m3u8\n`;
}

/** The static MPD: one Period per init version, SegmentTimeline in ms. */
export function renderVodMpd(info: RecordingInfo): string {
  const periods: RecordedSegment[][] = [];
  for (const s of info.segments) {
    const cur = periods.at(-1);
    if (cur !== undefined && cur[0]!.initVersion === s.initVersion) cur.push(s);
    else periods.push([s]);
  }
  const total = info.segments.reduce((n, s) => n + s.durationMs, 0);
  const hasVideo = info.codecs.some((c) => !c.startsWith('mp4a') && c !== 'opus');
  const mime = hasVideo ? 'video/mp4' : 'audio/mp4';
  const size = info.width && info.height ? ` width="${info.width}" height="${info.height}"` : '';
  let at = 0;
  const body = periods.map((segs, i) => {
    const first = segs[0]!;
    const timeline = segs.map((s, j) => (j === 0 ? `<S t="${s.startMs}" d="${s.durationMs}"/>` : `<S d="${s.durationMs}"/>`)).join('');
    const dur = segs.reduce((n, s) => n + s.durationMs, 0);
    const p = `  <Period id="p${i}" start="${isoDuration(at)}">
    <AdaptationSet contentType="${hasVideo ? 'video' : 'audio'}" mimeType="${mime}" segmentAlignment="true" startWithSAP="1">
      <Representation id="r${i}" codecs="${info.codecs.join(',')}" bandwidth="${peakBandwidth(info)}"${size}>
        <SegmentTemplate timescale="1000" presentationTimeOffset="${first.startMs}" startNumber="${first.msn}" initialization="${initName(first.initVersion)}" media="seg_$Number$.m4s">
          <SegmentTimeline>${timeline}</SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
  </Period>`;
    at += dur;
    return p;
  }).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" profiles="urn:mpeg:dash:profile:isoff-live:2011" minBufferTime="PT2S" mediaPresentationDuration="${isoDuration(total)}">
${body}
</MPD>
`;
}
