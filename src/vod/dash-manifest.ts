/**
 * The static DASH MPD of a VOD asset (ISO/IEC 23009-1), pointing at the very same CMAF init and
 * media segments as the HLS playlists — one set of files, two manifests. Written from the
 * published segment list: a SegmentTemplate with `$Number%05d$` (§5.3.9.4.4) and an explicit
 * SegmentTimeline (§5.3.9.6) built from the measured segment durations, so the last short segment
 * and the audio track's AAC-frame-rounded segments are described exactly rather than assumed.
 * Pure: tracks in, XML out. Only written once the asset is complete (type="static", §5.4).
 */
import type { AudioRendition, VideoRendition } from './ladder.js';
import type { PublishedTrack, SegmentInfo } from './hls-manifests.js';
import { averageBitrate } from './hls-manifests.js';

const TIMESCALE = 1000;

/** ISO 8601 duration as used by MPD attributes (`PT12.345S`). */
export function isoDuration(seconds: number): string {
  return `PT${seconds.toFixed(3)}S`;
}

/**
 * SegmentTimeline `<S>` elements (§5.3.9.6): start times are rounded from the cumulative duration,
 * so rounding never drifts; runs of equal durations collapse into `r` repeats.
 */
export function segmentTimeline(segments: SegmentInfo[]): string {
  const out: { t: number; d: number; r: number }[] = [];
  let cum = 0;
  for (const s of segments) {
    const t = Math.round(cum * TIMESCALE);
    cum += s.durationS;
    const d = Math.round(cum * TIMESCALE) - t;
    const last = out.at(-1);
    if (last && last.d === d) last.r++;
    else out.push({ t, d, r: 0 });
  }
  return out.map((s, i) => `<S ${i === 0 ? `t="${s.t}" ` : ''}d="${s.d}"${s.r > 0 ? ` r="${s.r}"` : ''}/>`).join('');
}

function template(name: string, segments: SegmentInfo[]): string {
  return `<SegmentTemplate timescale="${TIMESCALE}" initialization="${name}/init.mp4" media="${name}/seg_$Number%05d$.m4s" startNumber="0">` +
    `<SegmentTimeline>${segmentTimeline(segments)}</SegmentTimeline></SegmentTemplate>`;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Frame rate as an MPD FrameRateType (`30`, `30000/1001`). */
export function frameRateAttr(fps: number): string {
  if (Number.isInteger(fps)) return String(fps);
  const ntsc = Math.round(fps * 1.001);
  if (Math.abs(fps - ntsc / 1.001) < 0.01) return `${ntsc * 1000}/1001`;
  return `${Math.round(fps * 1000)}/1000`;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The static MPD (§5.3.1): one video AdaptationSet (a switching set, aligned segments) and one audio. */
export function dashManifest(video: PublishedTrack<VideoRendition>[], audio: PublishedTrack<AudioRendition> | undefined, o: { durationS: number; segmentSeconds: number }): string {
  const sets: string[] = [];
  if (video.length > 0) {
    const maxW = Math.max(...video.map((v) => v.rendition.width));
    const maxH = Math.max(...video.map((v) => v.rendition.height));
    const g = gcd(maxW, maxH);
    const reps = video.map((v) => {
      const r = v.rendition;
      return `<Representation id="${esc(r.name)}" bandwidth="${averageBitrate(v.segments) || r.kbps * 1000}" codecs="${esc(v.codecs)}" width="${r.width}" height="${r.height}" frameRate="${frameRateAttr(r.fps)}" sar="1:1">` +
        `${template(r.name, v.segments)}</Representation>`;
    });
    sets.push(`<AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1" maxWidth="${maxW}" maxHeight="${maxH}" par="${maxW / g}:${maxH / g}" maxFrameRate="${frameRateAttr(video[0]!.rendition.fps)}">\n    ${reps.join('\n    ')}\n  </AdaptationSet>`);
  }
  if (audio) {
    const r = audio.rendition;
    sets.push(`<AdaptationSet id="1" contentType="audio" mimeType="audio/mp4" lang="und" segmentAlignment="true" startWithSAP="1">` +
      `<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="${r.channels}"/>\n    ` +
      `<Representation id="${esc(r.name)}" bandwidth="${averageBitrate(audio.segments) || r.kbps * 1000}" codecs="${esc(audio.codecs)}" audioSamplingRate="${r.sampleRate}">${template(r.name, audio.segments)}</Representation>\n  </AdaptationSet>`);
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019" type="static" mediaPresentationDuration="${isoDuration(o.durationS)}" minBufferTime="${isoDuration(o.segmentSeconds)}">`,
    `<Period id="0" start="PT0S">`,
    `  ${sets.join('\n  ')}`,
    '</Period>',
    '</MPD>',
    '',
  ].join('\n');
}
