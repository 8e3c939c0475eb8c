/**
 * The non-streaming outputs of an asset: a faststart MP4 for download and progressive playback, the
 * storyboard's WebVTT map, and thumbnails on demand. The download is a remux (`-c copy`) of the top
 * rung and the audio rendition from the CMAF segments already encoded — no second encode, seconds
 * of I/O instead of minutes of CPU. Poster and storyboard sprite come from the ladder's own decode
 * (ffmpeg-args.ts); this file only writes the VTT cues that map seek times to sprite tiles.
 */
import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fail } from '../errors.js';
import { lastLine, runFfmpeg, runTool } from './ffmpeg-runner.js';
import type { PublishedTrack } from './hls-manifests.js';

/** Geometry of a storyboard sprite. */
export interface StoryboardLayout {
  tiles: number;
  columns: number;
  tileWidth: number;
  tileHeight: number;
  intervalS: number;
}

/** Plan the sprite: `tiles` thumbnails (fewer for short videos, at most one a second), 160 px wide. */
export function storyboardLayout(durationS: number, displayW: number, displayH: number, maxTiles: number): StoryboardLayout {
  const tiles = Math.max(1, Math.min(maxTiles, Math.floor(durationS)));
  const tileWidth = 160;
  const tileHeight = Math.max(2, Math.round((tileWidth * displayH) / displayW / 2) * 2);
  return { tiles, columns: Math.min(10, tiles), tileWidth, tileHeight, intervalS: durationS / tiles };
}

function vttTime(s: number): string {
  const ms = Math.round(s * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const sec = Math.floor((ms % 60_000) / 1000);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}`;
}

/** WebVTT map of the sprite: one cue per tile with a `#xywh=` media fragment (W3C Media Fragments §4.2.1). */
export function storyboardVtt(l: StoryboardLayout, durationS: number, sprite = 'storyboard.jpg'): string {
  const cues = ['WEBVTT', ''];
  for (let i = 0; i < l.tiles; i++) {
    const x = (i % l.columns) * l.tileWidth;
    const y = Math.floor(i / l.columns) * l.tileHeight;
    const end = Math.min(durationS, (i + 1) * l.intervalS);
    cues.push(`${vttTime(i * l.intervalS)} --> ${vttTime(end)}`, `${sprite}#xywh=${x},${y},${l.tileWidth},${l.tileHeight}`, '');
  }
  return cues.join('\n');
}

/** Concatenate files (an init segment then its media segments) into one fragmented MP4 file. */
export async function concatFiles(files: string[], to: string): Promise<void> {
  const out = await open(to, 'w');
  try {
    for (const p of files) await out.write(await readFile(p));
  } finally {
    await out.close();
  }
}

/** The init and media segment paths of a published track, in order. */
function trackFiles(dir: string, t: PublishedTrack): string[] {
  return [path.join(dir, t.rendition.name, 'init.mp4'), ...t.segments.map((s) => path.join(dir, t.rendition.name, s.uri))];
}

/**
 * Remux fragmented MP4 inputs (a video track, then optionally an audio one) into a faststart MP4
 * (`moov` first, ISO/IEC 14496-12 §8.2) with `-c copy`; returns its size.
 */
export async function remuxMp4(inputs: string[], to: string, o: { signal?: AbortSignal } = {}): Promise<number> {
  if (inputs.length === 0) throw fail('TRANSCODE_FAILED', 'nothing to put in download.mp4');
  const maps = inputs.length === 2 ? ['-map', '0:v:0', '-map', '1:a:0'] : ['-map', '0'];
  await runFfmpeg(['-hide_banner', '-loglevel', 'error', '-y', ...inputs.flatMap((i) => ['-i', i]), ...maps, '-c', 'copy', '-movflags', '+faststart', '-f', 'mp4', to], { signal: o.signal });
  return (await stat(to)).size;
}

/** Remux the top video rung and the audio into a faststart MP4. */
export async function writeDownloadMp4(o: { outDir: string; workDir: string; video?: PublishedTrack; audio?: PublishedTrack; to: string; signal?: AbortSignal }): Promise<number> {
  const inputs: string[] = [];
  for (const t of [o.video, o.audio]) {
    if (!t) continue;
    const file = path.join(o.workDir, `concat-${t.rendition.name}.mp4`);
    await concatFiles(trackFiles(o.outDir, t), file);
    inputs.push(file);
  }
  return remuxMp4(inputs, o.to, { signal: o.signal });
}

/**
 * A JPEG thumbnail at `timeS` of `input` (an asset's download.mp4 or a source file), `width` wide,
 * height keeping the aspect ratio. Seeks on the input side: decodes from the previous keyframe only.
 */
export async function thumbnailAt(input: string, timeS: number, width: number, o: { signal?: AbortSignal } = {}): Promise<Buffer> {
  if (!(timeS >= 0) || !(width >= 16 && width <= 3840)) throw fail('VALIDATION_FAILED', 'thumbnail', `time ${timeS} s / width ${width} px out of range`);
  const src = (await stat(input)).isDirectory() ? path.join(input, 'download.mp4') : input;
  const args = ['-hide_banner', '-loglevel', 'error', '-ss', timeS.toFixed(3), '-i', src, '-frames:v', '1', '-vf', `scale=${Math.round(width / 2) * 2}:-2`, '-q:v', '4', '-f', 'image2pipe', '-c:v', 'mjpeg', 'pipe:1'];
  const res = await runTool('ffmpeg', args, { signal: o.signal, binaryStdout: true });
  if (res.code !== 0 || !res.stdoutBytes || res.stdoutBytes.length === 0) {
    throw fail('VALIDATION_FAILED', 'thumbnail', `no frame at ${timeS} s (${lastLine(res.stderr)})`);
  }
  return res.stdoutBytes;
}
