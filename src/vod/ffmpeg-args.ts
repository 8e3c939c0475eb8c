/**
 * Build the argument list of the one ffmpeg process that encodes a whole ladder: one decode, a
 * `split` into N scalers, N x264 encodes and one AAC encode, written as CMAF fMP4 by the HLS
 * muxer into `<work>/<rung>/{init_N.mp4, seg_NNNNN.m4s, index.m3u8}`. Pure, so the rules that make
 * the rungs switchable are testable without running ffmpeg:
 *  - every rung gets the same forced keyframe times with scene-cut keyframes off and the same GOP,
 *    so segment N starts at the same instant in every rung (an ABR switch point; HLS RFC 8216bis
 *    §4.4.3.1 EXT-X-INDEPENDENT-SEGMENTS, CMAF switching sets);
 *  - a short first segment for a fast start (Apple's HLS authoring guide allows a shorter start):
 *    keyframes at 0, FIRST, FIRST+SEG, FIRST+2·SEG… and the video muxer cutting at
 *    `hls_time = FIRST` — its k-th cut is the first keyframe at or after k·FIRST, so it cuts at
 *    FIRST and then at every keyframe. Audio has no keyframes and would be cut every FIRST seconds,
 *    so it gets its own HLS muxer with `hls_time = SEG` (the same number of requests as before);
 *  - output pixels are square (`setsar=1`) and 4:2:0 8-bit (`format=yuv420p`, what MSE plays);
 *  - poster and storyboard come out of the same decode as extra outputs, so they cost no re-read.
 * Media playlists written here are only a progress log; Strom writes its own (hls-manifests.ts).
 */
import path from 'node:path';
import type { AudioRendition, Rendition, VideoRendition } from './ladder.js';
import { audioRung, videoRungs } from './ladder.js';

/** Poster and storyboard outputs taken from the same decode. */
export interface ImageOutputs {
  posterAtS: number;
  posterFile: string;
  storyboardFile: string;
  /** Thumbnails in the sprite, columns per row, size of one thumbnail, seconds between thumbnails. */
  tiles: number;
  columns: number;
  tileWidth: number;
  tileHeight: number;
  intervalS: number;
}

/** Inputs of the ladder command. */
export interface LadderArgsInput {
  source: string;
  plan: Rendition[];
  segmentSeconds: number;
  /** Duration of the first video segment (0 or ≥ segmentSeconds: all segments alike). */
  firstSegmentSeconds?: number;
  preset: string;
  /** Directory that receives one sub-directory per rendition. */
  workDir: string;
  /** Source frame rate above the plan's (fps cap applies) → an `fps` filter. */
  sourceFps?: number;
  images?: ImageOutputs;
}

/** Rows of the storyboard grid. */
export function storyboardRows(tiles: number, columns: number): number {
  return Math.ceil(tiles / columns);
}

/** The first segment's duration when it differs from the others, else null. */
function shortStart(seg: number, first: number | undefined): number | null {
  return first !== undefined && first > 0 && first < seg ? first : null;
}

/** The `-force_key_frames` expression: every SEG seconds, or 0, FIRST, FIRST+SEG, … */
export function keyframeExpr(seg: number, first: number | null): string {
  return first === null ? `expr:gte(t,n_forced*${seg})` : `expr:gte(t,if(eq(n_forced,0),0,${first}+(n_forced-1)*${seg}))`;
}

function videoEncodeArgs(rungs: VideoRendition[], seg: number, first: number | null, preset: string): string[] {
  const fps = rungs[0]!.fps;
  const gop = Math.max(1, Math.round(fps * seg));
  const args = ['-c:v', 'libx264', '-preset', preset, '-profile:v', 'high', '-pix_fmt', 'yuv420p'];
  rungs.forEach((r, i) => {
    // Capped VBR: maxrate 1.5× keeps the peak (BANDWIDTH) predictable for ABR; a 2 s buffer.
    args.push(`-b:v:${i}`, `${r.kbps}k`, `-maxrate:v:${i}`, `${Math.round(r.kbps * 1.5)}k`, `-bufsize:v:${i}`, `${r.kbps * 2}k`);
  });
  args.push(
    '-g', String(gop * 2), '-keyint_min', String(gop), '-sc_threshold', '0',
    '-force_key_frames', keyframeExpr(seg, first),
  );
  return args;
}

function audioEncodeArgs(a: AudioRendition): string[] {
  return ['-c:a', 'aac', '-b:a', `${a.kbps}k`, '-ac', String(a.channels), '-ar', String(a.sampleRate)];
}

/** The complete ffmpeg argument list (without `-progress`, which the runner adds). */
export function buildLadderArgs(o: LadderArgsInput): string[] {
  const rungs = videoRungs(o.plan);
  const audio = audioRung(o.plan);
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-i', o.source, '-map_metadata', '-1', '-max_muxing_queue_size', '4096'];
  const images = rungs.length > 0 ? o.images : undefined;
  const branches = rungs.length + (images ? 2 : 0);
  if (rungs.length > 0) {
    const fps = rungs[0]!.fps;
    const pre = o.sourceFps !== undefined && o.sourceFps > fps ? `fps=${fps},` : '';
    const labels = Array.from({ length: branches }, (_, i) => `[s${i}]`).join('');
    const graph = [`[0:v:0]${pre}split=${branches}${labels}`];
    rungs.forEach((r, i) => graph.push(`[s${i}]scale=${r.width}:${r.height}:flags=bicubic,setsar=1,format=yuv420p[o${i}]`));
    if (images) {
      const top = rungs[0]!;
      const k = rungs.length;
      // The second trim ends the branch after one frame, so no later frame is scaled for nothing.
      graph.push(`[s${k}]trim=start=${images.posterAtS.toFixed(3)},trim=end_frame=1,setpts=PTS-STARTPTS,scale=${top.width}:${top.height},setsar=1[poster]`);
      const rows = storyboardRows(images.tiles, images.columns);
      graph.push(`[s${k + 1}]fps=1/${images.intervalS.toFixed(6)}:start_time=0,scale=${images.tileWidth}:${images.tileHeight},setsar=1,tile=${images.columns}x${rows}[story]`);
    }
    args.push('-filter_complex', graph.join(';'));
    rungs.forEach((_, i) => args.push('-map', `[o${i}]`));
  }
  const first = rungs.length > 0 ? shortStart(o.segmentSeconds, o.firstSegmentSeconds) : null;
  // One muxer for everything, or (short first segment) one for the video rungs and one for audio.
  const together = first === null;
  if (audio && together) args.push('-map', '0:a:0');
  if (rungs.length > 0) args.push(...videoEncodeArgs(rungs, o.segmentSeconds, first, o.preset));
  if (audio && together) args.push(...audioEncodeArgs(audio));
  const grouped = audio !== undefined && together;
  const streamMap = [
    ...rungs.map((r, i) => `v:${i},${grouped ? 'agroup:aud,' : ''}name:${r.name}`),
    ...(audio && together ? [`a:0,${rungs.length > 0 ? 'agroup:aud,' : ''}name:${audio.name}`] : []),
  ];
  args.push(...hlsMuxer(first ?? o.segmentSeconds), '-var_stream_map', streamMap.join(' '),
    '-hls_segment_filename', path.join(o.workDir, '%v', 'seg_%05d.m4s'),
    path.join(o.workDir, '%v', 'index.m3u8'));
  if (audio && !together) {
    args.push('-map', '0:a:0', ...audioEncodeArgs(audio), ...hlsMuxer(o.segmentSeconds),
      '-hls_segment_filename', path.join(o.workDir, audio.name, 'seg_%05d.m4s'),
      path.join(o.workDir, audio.name, 'index.m3u8'));
  }
  if (images) {
    args.push('-map', '[poster]', '-frames:v', '1', '-q:v', '3', images.posterFile);
    args.push('-map', '[story]', '-frames:v', '1', '-q:v', '5', images.storyboardFile);
  }
  return args;
}

/** Options of one CMAF HLS muxer cutting every `hlsTime` seconds (at keyframes for video). */
function hlsMuxer(hlsTime: number): string[] {
  return ['-f', 'hls', '-hls_time', String(hlsTime), '-hls_list_size', '0', '-hls_playlist_type', 'event',
    '-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'init.mp4', '-hls_flags', 'independent_segments+temp_file'];
}

/** Name ffmpeg gives the init segment of the i-th variant (`-hls_fmp4_init_filename init.mp4` + index). */
export function ffmpegInitName(variantIndex: number): string {
  return `init_${variantIndex}.mp4`;
}
