/**
 * A clip's caption tracks: each of the source's tracks, cut to the clip's range and moved to its
 * timeline — cues overlapping the range are kept, clamped to it and shifted by `-start` (WebVTT
 * cue timings, W3C WebVTT §4.1). A track with no cue left in the range is not carried over. The
 * rows are written into the clip's own caption table entries; the caption publisher then writes
 * them into the clip's manifests like any uploaded track.
 */
import type { Store } from '../../store/db/database.js';
import { parseWebVtt, serializeWebVtt, type Cue } from '../captions/webvtt.js';
import type { SnappedRange } from './clip-range.js';

/** The cues of `cues` inside `range`, clamped and moved so `range.start` becomes 0. */
export function cutCues(cues: Cue[], range: SnappedRange): Cue[] {
  return cues.filter((c) => c.endS > range.start && c.startS < range.end).map((c) => ({
    ...c, startS: Math.max(c.startS, range.start) - range.start, endS: Math.min(c.endS, range.end) - range.start,
  }));
}

/** Copy the source's caption tracks, cut to `range`, onto the clip; returns how many tracks were written. */
export async function copyClipCaptions(store: Store, sourceId: string, clipId: string, range: SnappedRange): Promise<number> {
  let n = 0;
  for (const t of await store.captions.list(sourceId)) {
    const doc = parseWebVtt(t.vtt);
    const cues = cutCues(doc.cues, range);
    if (cues.length === 0) continue;
    await store.captions.put(clipId, { language: t.language, label: t.label, isDefault: t.is_default === 1, format: 'vtt', vtt: serializeWebVtt({ blocks: doc.blocks, cues }), cues: cues.length });
    n++;
  }
  return n;
}
