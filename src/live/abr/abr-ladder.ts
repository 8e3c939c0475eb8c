/**
 * Live ABR ladder (docs/LIVE.md "Live ABR"): which renditions a stream gets and the ONE
 * ffmpeg command that makes them. The source is the top rendition (passthrough, never transcoded);
 * each lower rung is scaled and encoded once and written as FLV to its own pipe (`pipe:3`,
 * `pipe:4`, …), so one decode feeds every rung.
 *
 * Alignment across renditions (SPECS.md "LL-HLS"; draft-pantos-hls-rfc8216bis §6.2.4: a client
 * switching renditions asks for the same media sequence number and part): `-copyts` keeps the
 * source's timestamps (ms, the FLV timebase) on every output; `-force_key_frames source` with
 * `-forced-idr 1`, `-sc_threshold 0` and an effectively infinite GOP puts IDR frames exactly where
 * the source has keyframes and nowhere else; `-fps_mode passthrough` keeps one output frame per
 * source frame (same decode times); `-bf 0` and `-tune zerolatency` add no reordering or
 * lookahead delay. The rendition segmenters then cut where the source did (live-segmenter.ts,
 * follower mode). Audio is copied (AAC), so every rendition is muxed A+V like the source.
 */
import { fail } from '../../errors.js';

/** One lower rendition. */
export interface AbrRung {
  /** URL segment and label: `360p`. */
  name: string;
  height: number;
  /** Even width keeping the source aspect ratio (what ffmpeg's `scale=-2:h` computes). */
  width?: number;
  videoKbps: number;
}

const RUNG = /^(\d{2,4})p$/;

/** Nominal H.264 bitrate (kbit/s) of a rung at ≤ 30 fps, 16:9 (the VOD ladder's figures). */
export function rungKbps(height: number): number {
  if (height >= 1080) return 5000;
  if (height >= 720) return 2800;
  if (height >= 480) return 1400;
  if (height >= 360) return 800;
  if (height >= 240) return 400;
  return 250;
}

/** Parse `live.abrLadder` (`NNNp` entries); CONFIG_INVALID names a bad entry. */
export function parseLadder(entries: readonly string[]): number[] {
  const heights = entries.map((e) => {
    const m = RUNG.exec(e);
    const h = m ? Number(m[1]) : NaN;
    if (!(h >= 16 && h <= 4320) || h % 2 !== 0) throw fail('CONFIG_INVALID', 'live.abrLadder', e, 'expected an even height like 360p');
    return h;
  });
  return [...new Set(heights)].sort((a, b) => b - a);
}

/** The rungs below a source of `srcHeight` (unknown height: all of them). */
export function rungsFor(heights: readonly number[], src: { width?: number; height?: number }): AbrRung[] {
  return heights.filter((h) => src.height === undefined || h < src.height).map((h) => ({
    name: `${h}p`, height: h, videoKbps: rungKbps(h),
    width: src.width && src.height ? Math.round((h * src.width) / (src.height * 2)) * 2 : undefined,
  }));
}

/** ffmpeg arguments: FLV on stdin → one FLV per rung on fds 3, 4, … (see the header for why). */
export function abrFfmpegArgs(rungs: readonly AbrRung[], o: { preset: string; audio: 'copy' | 'aac' | 'none' }): string[] {
  const args = ['-hide_banner', '-loglevel', 'warning', '-nostdin', '-fflags', '+nobuffer', '-probesize', '32768', '-analyzeduration', '0', '-f', 'flv', '-i', 'pipe:0', '-copyts'];
  rungs.forEach((r, i) => {
    const k = r.videoKbps;
    args.push('-map', '0:v:0');
    if (o.audio !== 'none') args.push('-map', '0:a:0?');
    args.push('-vf', `scale=-2:${r.height}`, '-c:v', 'libx264', '-preset', o.preset, '-tune', 'zerolatency', '-profile:v', 'high', '-pix_fmt', 'yuv420p',
      '-bf', '0', '-g', '100000', '-keyint_min', '1', '-sc_threshold', '0', '-forced-idr', '1', '-force_key_frames', 'source', '-fps_mode', 'passthrough', '-enc_time_base:v', '1:1000',
      '-b:v', `${k}k`, '-maxrate', `${Math.round(k * 1.2)}k`, '-bufsize', `${k}k`);
    if (o.audio === 'copy') args.push('-c:a', 'copy');
    else if (o.audio === 'aac') args.push('-c:a', 'aac', '-b:a', '128k');
    args.push('-flvflags', 'no_duration_filesize', '-f', 'flv', `pipe:${3 + i}`);
  });
  return args;
}
