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
import { LICENSE_PATH } from './protection/content-keys.js';
import { widevinePssh } from './protection/cbcs-init.js';
import type { CencInfo } from './protection/cbcs-track.js';

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

/** `8-4-4-4-12` form of a 16-byte KID (cenc:default_KID, ISO/IEC 23001-7 §11.1). */
export function uuidOf(kid: Buffer): string {
  const h = kid.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * ContentProtection descriptors of a cbcs AdaptationSet (§5.8.4.1, ISO/IEC 23001-7 §11): the
 * mp4protection scheme with value `cbcs` and the default KID; W3C ClearKey (DASH-IF IOP ClearKey
 * system id) with the license URL relative to the MPD (`dashif:Laurl`, and the older
 * `clearkey:Laurl` dash.js also reads); Widevine with its `cenc:pssh` (the same box as in the init).
 */
export function contentProtection(kid: Buffer): string {
  return `<ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cbcs" cenc:default_KID="${uuidOf(kid)}"/>` +
    `<ContentProtection schemeIdUri="urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e" value="ClearKey1.0"><dashif:Laurl>${LICENSE_PATH}</dashif:Laurl><clearkey:Laurl Lic_type="EME-1.0">${LICENSE_PATH}</clearkey:Laurl></ContentProtection>` +
    `<ContentProtection schemeIdUri="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed" value="Widevine"><cenc:pssh>${widevinePssh(kid).toString('base64')}</cenc:pssh></ContentProtection>`;
}

/** The static MPD (§5.3.1): one video AdaptationSet (a switching set, aligned segments) and one audio; cbcs descriptors in each when protected. */
export function dashManifest(video: PublishedTrack<VideoRendition>[], audio: PublishedTrack<AudioRendition> | undefined, o: { durationS: number; segmentSeconds: number; protection?: CencInfo }): string {
  const cp = o.protection ? contentProtection(o.protection.kid) : '';
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
    sets.push(`<AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1" maxWidth="${maxW}" maxHeight="${maxH}" par="${maxW / g}:${maxH / g}" maxFrameRate="${frameRateAttr(video[0]!.rendition.fps)}">${cp}\n    ${reps.join('\n    ')}\n  </AdaptationSet>`);
  }
  if (audio) {
    const r = audio.rendition;
    sets.push(`<AdaptationSet id="1" contentType="audio" mimeType="audio/mp4" lang="und" segmentAlignment="true" startWithSAP="1">${cp}` +
      `<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="${r.channels}"/>\n    ` +
      `<Representation id="${esc(r.name)}" bandwidth="${averageBitrate(audio.segments) || r.kbps * 1000}" codecs="${esc(audio.codecs)}" audioSamplingRate="${r.sampleRate}">${template(r.name, audio.segments)}</Representation>\n  </AdaptationSet>`);
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"${o.protection ? ' xmlns:cenc="urn:mpeg:cenc:2013" xmlns:dashif="https://dashif.org/CPS" xmlns:clearkey="http://dashif.org/guidelines/clearKey"' : ''} profiles="urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019" type="static" mediaPresentationDuration="${isoDuration(o.durationS)}" minBufferTime="${isoDuration(o.segmentSeconds)}">`,
    `<Period id="0" start="PT0S">`,
    `  ${sets.join('\n  ')}`,
    '</Period>',
    '</MPD>',
    '',
  ].join('\n');
}
