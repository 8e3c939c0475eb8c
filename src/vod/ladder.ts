/**
 * Plan the ABR ladder from a probe: which renditions to encode, at what size, frame rate and
 * bitrate. Pure, so every rule is unit-tested without ffmpeg. The rules (docs/VOD.md "Ladder"):
 *  - rungs are named by their SHORT side (`v720` is 1280x720 landscape and 720x1280 portrait), so a
 *    phone video gets the same quality steps as a landscape one;
 *  - never upscale: only rungs whose short side ≤ the source's display short side; a source smaller
 *    than every rung gets one rung at its own (even) size;
 *  - dimensions are even (4:2:0 chroma needs it) and keep the display aspect ratio after sample
 *    aspect ratio and rotation, output pixels square;
 *  - frame rate is kept, capped at `fpsCap`; bitrates scale with pixel area (relative to 16:9) and
 *    by 1.5× above 30 fps;
 *  - audio is one AAC-LC stereo rendition `a<kbps>`; a source without video plans audio only.
 */
import { fail } from '../errors.js';
import type { ProbeResult } from './probe.js';

/** One configured rung: short side in pixels and nominal kbps for 16:9 at ≤ 30 fps. */
export interface LadderRung {
  shortSide: number;
  kbps: number;
}

/** The ladder settings (from `vod.*`). */
export interface LadderConfig {
  rungs: LadderRung[];
  fpsCap: number;
  audioKbps: number;
}

/** A video rendition to encode. */
export interface VideoRendition {
  kind: 'video';
  /** Directory and id: `v720`. */
  name: string;
  width: number;
  height: number;
  fps: number;
  kbps: number;
}

/** The audio rendition to encode. */
export interface AudioRendition {
  kind: 'audio';
  name: string;
  kbps: number;
  channels: 2;
  sampleRate: number;
}

/** A planned rendition. */
export type Rendition = VideoRendition | AudioRendition;

/** Parse `vod.ladder` entries (`"720:2800"`) into rungs, largest first. */
export function parseLadder(entries: string[]): LadderRung[] {
  const rungs = entries.map((e) => {
    const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(e);
    if (!m || Number(m[1]) < 16 || Number(m[2]) < 16) throw fail('CONFIG_INVALID', 'vod.ladder', e, 'expected shortSide:kbps, e.g. 720:2800');
    return { shortSide: Number(m[1]), kbps: Number(m[2]) };
  });
  if (rungs.length === 0) throw fail('CONFIG_INVALID', 'vod.ladder', entries, 'at least one rung is required');
  return rungs.sort((a, b) => b.shortSide - a.shortSide);
}

/** Round down to even: 4:2:0 needs even sizes, and rounding down never upscales. */
const even = (n: number): number => Math.max(2, Math.floor((n + 1e-9) / 2) * 2);

/** Scale a display size so its short side becomes `short` (even), keeping the aspect ratio. */
export function fitShortSide(displayW: number, displayH: number, short: number): { width: number; height: number } {
  if (displayW >= displayH) return { width: even((displayW * short) / displayH), height: even(short) };
  return { width: even(short), height: even((displayH * short) / displayW) };
}

/** Output frame rate: the source's, capped; common NTSC rates survive exactly (29.97 stays 30000/1001). */
export function outputFps(sourceFps: number, cap: number): number {
  return sourceFps > cap ? cap : sourceFps;
}

/** Bitrate of a rung scaled by its real pixel area versus the nominal 16:9 area, and by frame rate. */
function scaledKbps(nominal: LadderRung, width: number, height: number, fps: number): number {
  const nominalArea = nominal.shortSide * Math.round((nominal.shortSide * 16) / 9);
  const areaFactor = Math.min(1.5, Math.max(0.25, (width * height) / nominalArea));
  const fpsFactor = fps > 31 ? 1.5 : 1;
  return Math.max(64, Math.round((nominal.kbps * areaFactor * fpsFactor) / 10) * 10);
}

/** Plan the renditions for a probed source. Video rungs come largest first, the audio rendition last. */
export function planLadder(probe: ProbeResult, cfg: LadderConfig): Rendition[] {
  const out: Rendition[] = [];
  const v = probe.video;
  if (v) {
    const fps = outputFps(v.fps, cfg.fpsCap);
    const sourceShort = Math.min(v.displayWidth, v.displayHeight);
    const fitting = cfg.rungs.filter((r) => r.shortSide <= sourceShort);
    if (fitting.length === 0) {
      // Smaller than every rung: one rendition at the source's own size, priced like the lowest rung.
      const lowest = cfg.rungs.at(-1)!;
      const size = fitShortSide(v.displayWidth, v.displayHeight, sourceShort);
      const short = Math.min(size.width, size.height);
      out.push({ kind: 'video', name: `v${short}`, ...size, fps, kbps: scaledKbps(lowest, size.width, size.height, fps) });
    }
    for (const r of fitting) {
      const size = fitShortSide(v.displayWidth, v.displayHeight, r.shortSide);
      out.push({ kind: 'video', name: `v${r.shortSide}`, ...size, fps, kbps: scaledKbps(r, size.width, size.height, fps) });
    }
  }
  if (probe.audio) {
    out.push({ kind: 'audio', name: `a${cfg.audioKbps}`, kbps: cfg.audioKbps, channels: 2, sampleRate: probe.audio.sampleRate === 44100 ? 44100 : 48000 });
  }
  return out;
}

/** The video renditions of a plan. */
export function videoRungs(plan: Rendition[]): VideoRendition[] {
  return plan.filter((r): r is VideoRendition => r.kind === 'video');
}

/** The audio rendition of a plan, if any. */
export function audioRung(plan: Rendition[]): AudioRendition | undefined {
  return plan.find((r): r is AudioRendition => r.kind === 'audio');
}
