/**
 * Publishes a video's caption tracks into its asset, on either media storage: for each track the
 * segmented WebVTT (aligned with the first video rendition's segments) and its HLS playlist under
 * `captions/<language>_<rev>/`, the whole file as `captions/<language>_<rev>.vtt` for DASH, then
 * the master playlist and MPD rewritten with exactly the current tracks, then files of tracks that
 * are gone removed, then the delivery caches told (`invalidate`: file catalog, delivery workers,
 * edges and cluster peers all follow it). `<rev>` is a hash of the track's text, so a replaced
 * track gets new URLs and no cache (WebVTT is served with max-age of a day) can mix old and new.
 *
 * The track list is read inside a per-video queue, so concurrent changes of one video's tracks
 * always end with manifests that match the database. Called by the captions API and again after
 * every (re)packaging of the video, which writes manifests without captions.
 */
import { createHash } from 'node:crypto';
import { fail } from '../../errors.js';
import { firstDecodeTimeS } from '../cmaf-inspect.js';
import { parseMediaPlaylist } from '../hls-manifests.js';
import type { BlobStorage } from '../../storage/blob-storage.js';
import type { CaptionRow } from '../../store/db/schema.js';
import { withDashSubtitles, withHlsSubtitles, type CaptionTrackRef } from './caption-manifests.js';
import { rangesOf, segmentCues, subtitlePlaylist } from './vtt-segments.js';
import { parseWebVtt, serializeWebVtt } from './webvtt.js';

/** Dependencies of the publisher. */
export interface CaptionPublisherOptions {
  storage: BlobStorage;
  /** The video's caption tracks as stored now. */
  list: (videoId: string) => Promise<CaptionRow[]>;
  /** Drop cached delivery metadata of an asset. */
  invalidate: (videoId: string) => void;
}

/** Folder (below the asset) of a track's files: language and a hash of its text. */
export function captionDir(row: Pick<CaptionRow, 'language' | 'vtt'>): string {
  return `captions/${row.language}_${createHash('sha256').update(row.vtt).digest('hex').slice(0, 8)}`;
}

/** The manifests' view of a stored track. */
export function trackRef(row: CaptionRow): CaptionTrackRef {
  const dir = captionDir(row);
  return { language: row.language, label: row.label, isDefault: row.is_default === 1, playlistUri: `${dir}/index.m3u8`, vttUri: `${dir}.vtt` };
}

/** Writes caption files and manifests of assets (see the module header). */
export class CaptionPublisher {
  private readonly queues = new Map<string, Promise<void>>();

  constructor(private readonly o: CaptionPublisherOptions) {}

  /** Bring the asset's caption files and manifests in line with the stored tracks. */
  apply(videoId: string): Promise<void> {
    const run = (this.queues.get(videoId) ?? Promise.resolve()).then(() => this.applyNow(videoId));
    const settled = run.then(() => undefined, () => undefined);
    this.queues.set(videoId, settled);
    void settled.then(() => {
      if (this.queues.get(videoId) === settled) this.queues.delete(videoId);
    });
    return run;
  }

  private async applyNow(videoId: string): Promise<void> {
    const { storage } = this.o;
    const asset = `assets/${videoId}/`;
    const masterKey = `${asset}master.m3u8`;
    const master = (await storage.readAll(masterKey)).toString('utf8');
    const rows = await this.o.list(videoId);
    const timeline = rows.length > 0 ? await this.timeline(asset, master) : null;
    for (const row of rows) {
      const dir = captionDir(row);
      const doc = parseWebVtt(row.vtt);
      const segments = segmentCues(doc, timeline!.ranges, timeline!.baseS);
      for (const s of segments) await storage.write(`${asset}${dir}/${s.uri}`, s.text, { contentType: 'text/vtt; charset=utf-8' });
      await storage.write(`${asset}${dir}/index.m3u8`, subtitlePlaylist(segments), { contentType: 'application/vnd.apple.mpegurl' });
      await storage.write(`${asset}${dir}.vtt`, serializeWebVtt(doc), { contentType: 'text/vtt; charset=utf-8' });
    }
    // Manifests only after every file they name exists (docs/STORAGE.md "Atomic publication").
    const refs = rows.map(trackRef);
    const nextMaster = withHlsSubtitles(master, refs);
    if (nextMaster !== master) await storage.write(masterKey, nextMaster, { contentType: 'application/vnd.apple.mpegurl' });
    const mpdKey = `${asset}manifest.mpd`;
    const mpd = (await storage.fetchSmall(mpdKey, 4 * 1024 * 1024))?.body?.toString('utf8');
    if (mpd !== undefined) {
      const nextMpd = withDashSubtitles(mpd, refs);
      if (nextMpd !== mpd) await storage.write(mpdKey, nextMpd, { contentType: 'application/dash+xml' });
    }
    const keep = rows.map((r) => `${asset}${captionDir(r)}`);
    for (const e of await storage.list(`${asset}captions/`)) {
      if (!keep.some((k) => e.key === `${k}.vtt` || e.key.startsWith(`${k}/`))) await storage.delete(e.key);
    }
    this.o.invalidate(videoId);
  }

  /** Segment ranges of the first variant of the master, and the decode time its first segment starts at. */
  private async timeline(asset: string, master: string): Promise<{ ranges: ReturnType<typeof rangesOf>; baseS: number }> {
    const lines = master.split('\n');
    const inf = lines.findIndex((l) => l.startsWith('#EXT-X-STREAM-INF:'));
    const uri = inf >= 0 ? lines.slice(inf + 1).find((l) => l.trim() !== '' && !l.startsWith('#'))?.trim() : undefined;
    if (!uri) throw fail('INTERNAL', `${asset}master.m3u8 names no variant to align caption segments with`);
    const dir = uri.includes('/') ? `${uri.slice(0, uri.lastIndexOf('/'))}/` : '';
    const text = (await this.o.storage.readAll(`${asset}${uri}`)).toString('utf8');
    const playlist = parseMediaPlaylist(text);
    const ranges = rangesOf(playlist.segments.map((s) => s.durationS));
    let baseS = 0;
    const first = playlist.segments[0];
    const initUri = /#EXT-X-MAP:URI="([^"]+)"/.exec(text)?.[1];
    if (first && initUri) {
      const init = await this.o.storage.readAll(`${asset}${dir}${initUri}`);
      const seg = await this.o.storage.readAll(`${asset}${dir}${first.uri}`);
      baseS = firstDecodeTimeS(init, seg) ?? 0;
    }
    return { ranges, baseS };
  }
}
