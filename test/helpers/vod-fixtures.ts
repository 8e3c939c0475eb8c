/**
 * Tiny media fixtures for the VOD engine tests, generated with ffmpeg lavfi at test time (a few
 * seconds, ≤ 360p) so no binary lives in the repository and every edge case is one function.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { testConfig } from '../../src/config.js';
import type { Config } from '../../src/config.js';

const run = promisify(execFile);

/** Options of a generated clip. */
export interface ClipOptions {
  width?: number;
  height?: number;
  fps?: number;
  seconds?: number;
  audio?: boolean;
  video?: boolean;
  /** Extra output options, e.g. ['-metadata:s:v', 'rotate=90'] or ['-aspect', '16:9']. */
  extra?: string[];
  /** Put moov first (faststart). */
  faststart?: boolean;
}

/** A fresh temp directory. */
export function scratch(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `strom-vod-${prefix}-`));
}

/** Generate an H.264/AAC MP4 (or M4A when video is false) into `file`. */
export async function makeClip(file: string, o: ClipOptions = {}): Promise<string> {
  const s = o.seconds ?? 3;
  const args = ['-hide_banner', '-loglevel', 'error', '-y'];
  if (o.video !== false) args.push('-f', 'lavfi', '-i', `testsrc2=size=${o.width ?? 320}x${o.height ?? 180}:rate=${o.fps ?? 30}:duration=${s}`);
  if (o.audio !== false) args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${s}`);
  if (o.video !== false) args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p');
  if (o.audio !== false) args.push('-c:a', 'aac', '-b:a', '64k');
  if (o.faststart) args.push('-movflags', '+faststart');
  args.push(...(o.extra ?? []), file);
  await run('ffmpeg', args);
  return file;
}

/** `vod.*` settings for tests: 1 s segments and a small ladder so fixtures make several segments. */
export function vodTestConfig(overrides: Record<string, unknown> = {}): Config['vod'] {
  return testConfig({ 'vod.segmentSeconds': 1, 'vod.ladder': '360:500,240:250,144:120', 'vod.preset': 'ultrafast', ...overrides }).vod;
}

/** Run ffprobe and return parsed JSON. */
export async function ffprobeJson(args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-print_format', 'json', ...args], { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as Record<string, unknown>;
}
