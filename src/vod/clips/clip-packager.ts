/**
 * Package a clip into a local folder with the layout of any other asset (docs/STORAGE.md), ready
 * for one atomic `BlobStorage.publish`: for every rendition the init segment and the covered media
 * segments (renumbered from `seg_00000.m4s`, their `tfdt` moved to the clip's timeline,
 * tfdt-rebase.ts), a VOD media playlist written from the copied segments' durations, the master
 * as packaged (its variants and codecs are the source's), the MPD with each SegmentTimeline
 * rewritten, and — from the copied segments — download.mp4 (`-c copy`) and poster.jpg (the first
 * frame), each when the source had one. Nothing is decoded except the poster's one frame.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { assetPrefix, type BlobStorage } from '../../storage/blob-storage.js';
import { withoutDashSubtitles, withoutHlsSubtitles } from '../captions/caption-manifests.js';
import { isoDuration, segmentTimeline } from '../dash-manifest.js';
import { concatFiles, remuxMp4, thumbnailAt } from '../extras.js';
import { abortError } from '../ffmpeg-runner.js';
import { mediaPlaylist, type SegmentInfo } from '../hls-manifests.js';
import type { ClipPlan, ClipSource, SourceRendition } from './clip-source.js';
import { firstDecodeTimes, rebaseDelta, shiftDecodeTimes } from './tfdt-rebase.js';

/** What was packaged. */
export interface ClipSummary {
  /** Duration of the reference rendition's copied segments, seconds. */
  durationS: number;
  renditions: string[];
  bytes: number;
}

const segName = (i: number): string => `seg_${String(i).padStart(5, '0')}.m4s`;

/** Copy one rendition's span into `outDir/<dir>/`; returns the written segments. */
async function copyRendition(storage: BlobStorage, src: ClipSource, r: SourceRendition, span: { first: number; last: number }, outDir: string, signal: AbortSignal): Promise<SegmentInfo[]> {
  const from = (rel: string) => `${assetPrefix(src.assetId)}${r.dir}/${rel}`;
  const dir = path.join(outDir, r.dir);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, r.initUri), await storage.readAll(from(r.initUri)));
  // The source's first fragment fixes the origin the clip is moved onto (tfdt-rebase.ts).
  const origin = firstDecodeTimes(await storage.readAll(from(r.segments[0]!.uri)));
  let delta: Map<number, bigint> | null = null;
  const out: SegmentInfo[] = [];
  for (let k = span.first; k < span.last; k++) {
    if (signal.aborted) throw abortError(signal);
    const seg = await storage.readAll(from(r.segments[k]!.uri));
    delta ??= rebaseDelta(origin, firstDecodeTimes(seg));
    const moved = shiftDecodeTimes(seg, delta);
    const uri = segName(out.length);
    await writeFile(path.join(dir, uri), moved);
    out.push({ uri, durationS: r.segments[k]!.durationS, bytes: moved.length });
  }
  await writeFile(path.join(dir, 'index.m3u8'), mediaPlaylist(out, { segmentSeconds: Math.round(Math.max(...out.map((s) => s.durationS))), ended: true, initUri: r.initUri }));
  return out;
}

/** The source's MPD with each representation's SegmentTimeline and the duration set to the clip's. */
export function clipMpd(mpd: string, timelines: Map<string, SegmentInfo[]>, durationS: number): string {
  let out = withoutDashSubtitles(mpd).replace(/mediaPresentationDuration="[^"]*"/, `mediaPresentationDuration="${isoDuration(durationS)}"`);
  for (const [dir, segments] of timelines) {
    const esc = dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const re = new RegExp(`(<SegmentTemplate[^>]*initialization="${esc}/[^"]*"[^>]*>)<SegmentTimeline>[\\s\\S]*?</SegmentTimeline>`, 'g');
    out = out.replace(re, (_m, head: string) => `${head}<SegmentTimeline>${segmentTimeline(segments)}</SegmentTimeline>`);
  }
  return out;
}

/** Write the clip of `src` described by `plan` into `outDir` (which must exist and be empty). */
export async function packageClip(o: { storage: BlobStorage; src: ClipSource; plan: ClipPlan; outDir: string; workDir: string; posterWidth: number; signal: AbortSignal }): Promise<ClipSummary> {
  const { src, plan } = o;
  const copied: SegmentInfo[][] = [];
  for (const [i, r] of src.renditions.entries()) copied.push(await copyRendition(o.storage, src, r, plan.spans[i]!, o.outDir, o.signal));
  const durationS = copied[0]!.reduce((a, s) => a + s.durationS, 0);
  await writeFile(path.join(o.outDir, 'master.m3u8'), withoutHlsSubtitles(src.master));
  if (src.mpd !== null) {
    await writeFile(path.join(o.outDir, 'manifest.mpd'), clipMpd(src.mpd, new Map(src.renditions.map((r, i) => [r.dir, copied[i]!])), durationS));
  }
  // The top variant (highest BANDWIDTH) and the audio rendition: download.mp4 and the poster.
  const variants = src.renditions.map((r, i) => ({ r, i })).filter((x) => x.r.kind === 'variant');
  const top = variants.reduce((a, b) => (b.r.bandwidth > a.r.bandwidth ? b : a));
  const audio = src.renditions.findIndex((r) => r.kind === 'audio');
  const inputs: string[] = [];
  for (const i of audio >= 0 ? [top.i, audio] : [top.i]) {
    const r = src.renditions[i]!;
    const file = path.join(o.workDir, `concat-${i}.mp4`);
    await concatFiles([path.join(o.outDir, r.dir, r.initUri), ...copied[i]!.map((s) => path.join(o.outDir, r.dir, s.uri))], file);
    inputs.push(file);
  }
  if (src.hasDownload) await remuxMp4(inputs, path.join(o.outDir, 'download.mp4'), { signal: o.signal });
  if (src.hasPoster) await writeFile(path.join(o.outDir, 'poster.jpg'), await thumbnailAt(inputs[0]!, 0, o.posterWidth, { signal: o.signal }));
  const bytes = copied.flat().reduce((a, s) => a + s.bytes, 0);
  return { durationS, renditions: src.renditions.map((r) => r.dir), bytes };
}
