/**
 * Clips of a live stream's DVR window: the complete segments the LL-HLS muxer still holds
 * (`llhls.dvrWindowS`, else the LL window) become a VOD asset at once, through the recordings'
 * own path — the same directory layout, static manifests (vod-manifests.ts) and atomic
 * publication (publish-recording.ts) — so a clip plays like any recording. The range is given in
 * seconds relative to the live edge (the end of the newest complete segment): `{start: -30,
 * end: 0}` is "the last 30 seconds", and is widened outward to segment boundaries, for the same
 * reason as VOD clips (segments start on keyframes; no re-encode, docs/VOD.md "Clips"). The bytes
 * are taken from the muxer synchronously, before the window can slide past them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fail } from '../../errors.js';
import type { LiveSegment, LlHlsMuxer } from '../formats/hls/ll-hls-muxer.js';
import { finalizeRecordingDir } from './live-recorder.js';
import { initName, type RecordingInfo } from './vod-manifests.js';

/** The segments of the window covering `[start, end]` (seconds ≤ 0 from the live edge), and the snapped range. */
export function dvrSelection(segments: readonly LiveSegment[], streamId: string, start: number, end: number): { segments: LiveSegment[]; start: number; end: number } {
  const done = segments.filter((s) => s.complete && s.durationMs > 0);
  const windowS = done.reduce((n, s) => n + s.durationMs, 0) / 1000;
  if (done.length === 0) throw fail('LIVE_CLIP_UNAVAILABLE', streamId, 'no complete segment is held yet');
  if (-start > windowS + 0.0005) throw fail('LIVE_CLIP_OUT_OF_WINDOW', streamId, start, windowS);
  // Offsets from the window's oldest boundary; the live edge is windowS.
  const from = windowS + start;
  const to = windowS + end;
  const picked: LiveSegment[] = [];
  let at = 0;
  let first = -1;
  for (const s of done) {
    const next = at + s.durationMs / 1000;
    if (next > from + 0.0005 && at < to - 0.0005) {
      if (first < 0) first = at;
      picked.push(s);
    }
    at = next;
  }
  const snappedEnd = first + picked.reduce((n, s) => n + s.durationMs, 0) / 1000;
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { segments: picked, start: r(first - windowS), end: r(snappedEnd - windowS) };
}

/** Write the picked segments and their init segments into `dir` as a finished recording; returns what the manifests describe. */
export async function writeDvrClip(mux: LlHlsMuxer, picked: LiveSegment[], dir: string, info: Omit<RecordingInfo, 'segments'>): Promise<RecordingInfo> {
  // Copy everything out of the muxer first (no await in between): the window keeps sliding.
  const inits = new Map<number, Buffer>();
  for (const s of picked) {
    const init = mux.init(s.initVersion);
    if (init === null) throw fail('LIVE_CLIP_UNAVAILABLE', dir, `the init segment ${s.initVersion} is gone`);
    inits.set(s.initVersion, init);
  }
  const bodies = picked.map((s) => mux.segmentBytes(s.msn));
  if (bodies.some((b) => b === null)) throw fail('LIVE_CLIP_UNAVAILABLE', dir, 'a segment left the window while it was copied');
  await mkdir(dir, { recursive: true });
  for (const [v, init] of inits) await writeFile(path.join(dir, initName(v)), init);
  for (const [i, s] of picked.entries()) await writeFile(path.join(dir, `seg_${s.msn}.m4s`), bodies[i]!);
  const rec: RecordingInfo = { ...info, segments: picked.map((s, i) => ({ msn: s.msn, startMs: s.startMs, durationMs: s.durationMs, initVersion: s.initVersion, bytes: bodies[i]!.length })) };
  await finalizeRecordingDir(dir, rec);
  return rec;
}
