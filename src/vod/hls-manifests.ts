/**
 * HLS playlists of a VOD asset, written by Strom from the published segment list rather than taken
 * from ffmpeg, so every attribute players and CDNs rely on is under our control (HLS = IETF
 * draft-pantos-hls-rfc8216bis, section numbers below). Pure functions: segments in, text out.
 *
 * While the ladder is still encoding, media playlists are `EXT-X-PLAYLIST-TYPE:EVENT` (§4.4.3.5:
 * segments are only appended) with `EXT-X-START:TIME-OFFSET=0` (§4.4.2.2) so a player starts at the
 * beginning instead of the "live edge"; the finished playlist is the same list plus
 * `EXT-X-ENDLIST` (§4.4.3.4) and type VOD. URLs never change between the two.
 */
import type { AudioRendition, VideoRendition } from './ladder.js';
import { aesKeyLine, type SegmentKey } from './protection/aes-128.js';

/** A published media segment. */
export interface SegmentInfo {
  uri: string;
  durationS: number;
  bytes: number;
  /** AES-128: the key period and IV the segment is encrypted with. */
  key?: SegmentKey;
}

/** A rendition with its published segments and real codec string. */
export interface PublishedTrack<R = VideoRendition | AudioRendition> {
  rendition: R;
  /** RFC 6381 codec string, e.g. `avc1.64001f` or `mp4a.40.2`. */
  codecs: string;
  segments: SegmentInfo[];
  /** Bytes of init.mp4 (counted into nothing; kept for reports). */
  initBytes: number;
}

/** §4.4.3.1: EXT-X-TARGETDURATION ≥ every EXTINF rounded to the nearest integer. */
export function targetDuration(segments: SegmentInfo[], segmentSeconds: number): number {
  return Math.max(segmentSeconds, ...segments.map((s) => Math.round(s.durationS)));
}

/**
 * A media playlist (§4.4.3): fMP4 segments after one EXT-X-MAP (§4.4.4.5, version 6+ for fMP4).
 * `sessionKeys` (cbcs) apply to every segment and the init, so they come before EXT-X-MAP; an
 * AES-128 segment's EXT-X-KEY comes after it (§4.3.2.5: the init stays clear and needs no IV) and
 * is repeated only when key or IV change.
 */
export function mediaPlaylist(segments: SegmentInfo[], o: { segmentSeconds: number; ended: boolean; initUri?: string; sessionKeys?: readonly string[] }): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${targetDuration(segments, o.segmentSeconds)}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    `#EXT-X-PLAYLIST-TYPE:${o.ended ? 'VOD' : 'EVENT'}`,
    '#EXT-X-INDEPENDENT-SEGMENTS',
  ];
  if (!o.ended) lines.push('#EXT-X-START:TIME-OFFSET=0,PRECISE=YES');
  lines.push(...(o.sessionKeys ?? []), `#EXT-X-MAP:URI="${o.initUri ?? 'init.mp4'}"`);
  let keyLine = '';
  for (const s of segments) {
    const k = s.key ? aesKeyLine(s.key) : '';
    if (k !== keyLine) lines.push(k === '' ? '#EXT-X-KEY:METHOD=NONE' : k);
    keyLine = k;
    lines.push(`#EXTINF:${s.durationS.toFixed(6)},`, s.uri);
  }
  if (o.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/**
 * Peak segment bit rate (§4.4.6.2 BANDWIDTH): the highest rate over any run of consecutive
 * segments lasting 0.5–1.5× the target duration (or the whole list when it is shorter).
 */
export function peakBitrate(segments: SegmentInfo[], target: number): number {
  let peak = 0;
  for (let i = 0; i < segments.length; i++) {
    let bytes = 0;
    let dur = 0;
    for (let j = i; j < segments.length && dur < 0.5 * target; j++) {
      bytes += segments[j]!.bytes;
      dur += segments[j]!.durationS;
    }
    if (dur > 0 && (dur >= 0.5 * target || i === 0)) peak = Math.max(peak, (bytes * 8) / dur);
  }
  return Math.round(peak);
}

/** Average bit rate over the whole rendition (§4.4.6.2 AVERAGE-BANDWIDTH). */
export function averageBitrate(segments: SegmentInfo[]): number {
  const dur = segments.reduce((a, s) => a + s.durationS, 0);
  const bytes = segments.reduce((a, s) => a + s.bytes, 0);
  return dur > 0 ? Math.round((bytes * 8) / dur) : 0;
}

/** Bandwidth of a track: measured when complete, else the encoder's nominal maxrate / target. */
export function trackBandwidth(t: PublishedTrack, o: { segmentSeconds: number; complete: boolean }): { peak: number; average: number } {
  const nominal = t.rendition.kbps * 1000;
  if (!o.complete || t.segments.length === 0) return { peak: t.rendition.kind === 'video' ? nominal * 1.5 : nominal * 1.1, average: nominal };
  return { peak: peakBitrate(t.segments, targetDuration(t.segments, o.segmentSeconds)), average: averageBitrate(t.segments) };
}

const AUDIO_GROUP = 'aud';

/**
 * The order of the variants in the master: the start variant first, then the others highest
 * first. Most players start on the first variant listed (RFC 8216bis §4.4.6.2 does not rank them;
 * hls.js seeds its bandwidth estimate from it, AVPlayer starts there): the top rung would make the
 * first segment the largest of the ladder, so the start variant is the highest rung whose nominal
 * kbps is at most `startKbps` (the lowest when none is; 0: the top rung). ABR moves up from there
 * as soon as the player has measured the link.
 */
export function startOrder<T extends { rendition: VideoRendition }>(video: T[], startKbps: number): T[] {
  const byKbps = [...video].sort((a, b) => b.rendition.kbps - a.rendition.kbps);
  if (startKbps <= 0 || byKbps.length < 2) return byKbps;
  const start = byKbps.find((v) => v.rendition.kbps <= startKbps) ?? byKbps[byKbps.length - 1]!;
  return [start, ...byKbps.filter((v) => v !== start)];
}

/**
 * The multivariant playlist (§4.4.6): one EXT-X-STREAM-INF per video rung with BANDWIDTH and
 * AVERAGE-BANDWIDTH (video + audio, §4.4.6.2), CODECS of both tracks, RESOLUTION, FRAME-RATE and
 * AUDIO naming the EXT-X-MEDIA audio group (§4.4.6.1), the start variant first (startOrder). An
 * audio-only asset has one audio variant.
 */
export function masterPlaylist(video: PublishedTrack<VideoRendition>[], audio: PublishedTrack<AudioRendition> | undefined, o: { segmentSeconds: number; complete: boolean; startKbps?: number }): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
  const a = audio ? trackBandwidth(audio, o) : { peak: 0, average: 0 };
  if (audio && video.length > 0) {
    lines.push(`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="${AUDIO_GROUP}",NAME="audio",LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="${audio.rendition.channels}",URI="${audio.rendition.name}/index.m3u8"`);
  }
  for (const v of startOrder(video, o.startKbps ?? 0)) {
    const bw = trackBandwidth(v, o);
    const r = v.rendition;
    const attrs = [
      `BANDWIDTH=${Math.round(bw.peak + a.peak)}`,
      `AVERAGE-BANDWIDTH=${Math.round(bw.average + a.average)}`,
      `CODECS="${[v.codecs, ...(audio ? [audio.codecs] : [])].join(',')}"`,
      `RESOLUTION=${r.width}x${r.height}`,
      `FRAME-RATE=${r.fps.toFixed(3)}`,
    ];
    if (audio) attrs.push(`AUDIO="${AUDIO_GROUP}"`);
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, `${r.name}/index.m3u8`);
  }
  if (audio && video.length === 0) {
    lines.push(`#EXT-X-STREAM-INF:BANDWIDTH=${Math.round(a.peak)},AVERAGE-BANDWIDTH=${Math.round(a.average)},CODECS="${audio.codecs}"`, `${audio.rendition.name}/index.m3u8`);
  }
  return `${lines.join('\n')}\n`;
}

/** Parse the segment list out of an ffmpeg-written media playlist (EXTINF + URI pairs). */
export function parseMediaPlaylist(text: string): { segments: { uri: string; durationS: number }[]; ended: boolean } {
  const segments: { uri: string; durationS: number }[] = [];
  let pending: number | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXTINF:')) pending = Number.parseFloat(line.slice(8));
    else if (line && !line.startsWith('#') && pending !== null) {
      segments.push({ uri: line, durationS: pending });
      pending = null;
    }
  }
  return { segments, ended: text.includes('#EXT-X-ENDLIST') };
}
