/**
 * The packaged asset a clip is cut from, read back from media storage (fs or S3): its master
 * playlist, MPD, and every rendition's media playlist — which is all a clip needs to know, since
 * the playlists Strom wrote list each CMAF segment with its measured duration (hls-manifests.ts).
 * Subtitle renditions are not media renditions of the clip: captions are carried over separately,
 * as cue text (clip-captions.ts).
 */
import { fail, isStromError } from '../../errors.js';
import { assetPrefix, type BlobStorage } from '../../storage/blob-storage.js';
import { parseMediaPlaylist } from '../hls-manifests.js';
import { snapRange, spanNear, type SegmentSpan, type SnappedRange } from './clip-range.js';

/** One media rendition of the source asset. */
export interface SourceRendition {
  /** The folder of the rendition inside the asset (`v720`, `a128`). */
  dir: string;
  /** EXT-X-MAP URI, relative to the folder. */
  initUri: string;
  segments: { uri: string; durationS: number }[];
  /** EXT-X-STREAM-INF BANDWIDTH (0 for an audio rendition). */
  bandwidth: number;
  kind: 'variant' | 'audio';
}

/** The source asset as a clip sees it. */
export interface ClipSource {
  assetId: string;
  master: string;
  mpd: string | null;
  /** The first is the reference rendition: the first variant of the master. */
  renditions: SourceRendition[];
  hasDownload: boolean;
  /** The source has a poster (audio-only assets have none). */
  hasPoster: boolean;
  /** Total duration of the reference rendition, seconds. */
  durationS: number;
}

/** What to copy: the snapped range and, per rendition (same order), the segments. */
export interface ClipPlan {
  range: SnappedRange;
  spans: SegmentSpan[];
}

/** `<dir>/index.m3u8` URIs of the master's variants and audio renditions, variants first, each with its BANDWIDTH. */
function renditionUris(master: string): { uri: string; bandwidth: number; kind: 'variant' | 'audio' }[] {
  const out: { uri: string; bandwidth: number; kind: 'variant' | 'audio' }[] = [];
  const lines = master.split('\n').map((l) => l.trim());
  lines.forEach((l, i) => {
    if (!l.startsWith('#EXT-X-STREAM-INF:')) return;
    const uri = lines[i + 1];
    if (uri && !uri.startsWith('#')) out.push({ uri, bandwidth: Number(/BANDWIDTH=(\d+)/.exec(l)?.[1] ?? 0), kind: 'variant' });
  });
  for (const l of lines) {
    const uri = /^#EXT-X-MEDIA:TYPE=AUDIO,.*URI="([^"]+)"/.exec(l)?.[1];
    if (uri) out.push({ uri, bandwidth: 0, kind: 'audio' });
  }
  return out.filter((r, i) => out.findIndex((o) => o.uri === r.uri) === i);
}

const SAFE_URI = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)?$/;

/** Read the source asset's manifests from storage; a missing or foreign-looking asset is VIDEO_NOT_READY. */
export async function readClipSource(storage: BlobStorage, assetId: string): Promise<ClipSource> {
  const prefix = assetPrefix(assetId);
  const text = async (rel: string) => (await storage.readAll(`${prefix}${rel}`)).toString('utf8');
  let master: string;
  try {
    master = await text('master.m3u8');
  } catch (err) {
    if (isStromError(err, 'OBJECT_NOT_FOUND')) throw fail('VIDEO_NOT_READY', assetId, 'without a packaged asset');
    throw err;
  }
  const renditions: SourceRendition[] = [];
  for (const r of renditionUris(master)) {
    if (!SAFE_URI.test(r.uri) || !r.uri.endsWith('/index.m3u8')) throw fail('VIDEO_NOT_READY', assetId, `packaged with an unexpected rendition ${r.uri}`);
    const media = await text(r.uri);
    const initUri = /#EXT-X-MAP:URI="([^"]+)"/.exec(media)?.[1] ?? 'init.mp4';
    const segments = parseMediaPlaylist(media).segments;
    if (segments.length === 0 || !SAFE_URI.test(initUri) || segments.some((s) => !SAFE_URI.test(s.uri))) throw fail('VIDEO_NOT_READY', assetId, `packaged without usable segments in ${r.uri}`);
    renditions.push({ dir: r.uri.slice(0, -'/index.m3u8'.length), initUri, segments, bandwidth: r.bandwidth, kind: r.kind });
  }
  if (renditions.length === 0) throw fail('VIDEO_NOT_READY', assetId, 'packaged without renditions');
  const mpd = await text('manifest.mpd').catch((err: unknown) => {
    if (isStromError(err, 'OBJECT_NOT_FOUND')) return null;
    throw err;
  });
  const hasDownload = (await storage.stat(`${prefix}download.mp4`)) !== null;
  const hasPoster = (await storage.stat(`${prefix}poster.jpg`)) !== null;
  const durationS = renditions[0]!.segments.reduce((a, s) => a + s.durationS, 0);
  return { assetId, master, mpd, renditions, hasDownload, hasPoster, durationS };
}

/** Snap `[start, end)` on the reference rendition and find every rendition's segments (clip-range.ts). */
export function planClip(src: ClipSource, start: number, end: number): ClipPlan {
  const ref = snapRange(src.renditions[0]!.segments.map((s) => s.durationS), start, end);
  const spans = src.renditions.map((r, i) => (i === 0 ? ref.span : spanNear(r.segments.map((s) => s.durationS), ref.range)));
  return { range: ref.range, spans };
}
