/**
 * Progressive, atomic publication of an asset while ffmpeg is still encoding it (time to playable).
 * ffmpeg writes into the job's work directory and lists a segment in its own playlist only once the
 * segment is closed; on every `sync()` we move each newly listed segment into the output directory
 * with rename(2) — a reader sees a whole segment or none (docs/STORAGE.md "Atomic publication").
 * As soon as every rendition has `playableSegments` segments, Strom's own EVENT media playlists and
 * the master are published (each written to a dot-file and renamed over), and `onPlayable` fires.
 * `finish()` turns the same playlists into VOD ones and adds the MPD: the URLs a player already
 * holds keep working and only gain segments and ENDLIST. With a protector, every segment is
 * encrypted on its way from the work directory to the output (so the output — and object storage
 * after it — only ever holds ciphertext) and init segments are rewritten as the scheme needs.
 */
import { copyFile, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fail } from '../errors.js';
import { codecString } from './cmaf-inspect.js';
import { dashManifest } from './dash-manifest.js';
import { ffmpegInitName } from './ffmpeg-args.js';
import type { PublishedTrack } from './hls-manifests.js';
import { masterPlaylist, mediaPlaylist, parseMediaPlaylist } from './hls-manifests.js';
import type { AudioRendition, Rendition, VideoRendition } from './ladder.js';
import type { SegmentKey } from './protection/aes-128.js';
import type { MediaProtector, TrackProtector } from './protection/media-protector.js';

/** Move a finished file into place atomically; across filesystems copy to a dot-file then rename. */
export async function moveInto(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    const part = path.join(path.dirname(to), `.${path.basename(to)}.part`);
    await copyFile(from, part);
    await rename(part, to);
    await unlink(from);
  }
}

/** Write a text file atomically (dot-file, which delivery never serves, then rename). */
export async function writeAtomic(file: string, text: string): Promise<void> {
  const part = path.join(path.dirname(file), `.${path.basename(file)}.part`);
  await writeFile(part, text);
  await rename(part, file);
}

/** Options of a publisher. */
export interface PublisherOptions {
  workDir: string;
  outDir: string;
  plan: Rendition[];
  segmentSeconds: number;
  /** The master lists first the highest rung with nominal kbps ≤ this (0: the highest rung). */
  startKbps?: number;
  /** Segments every rendition needs before the asset is announced playable. */
  playableSegments: number;
  /** Encrypt what is published (docs/VOD.md "Content protection"); absent: clear media. */
  protector?: MediaProtector;
}

/** Encrypt segment `seq` of a track from the work directory into place (dot-file, then rename). */
async function encryptInto(guard: TrackProtector, from: string, to: string, seq: number): Promise<SegmentKey | undefined> {
  const out = guard.segment(await readFile(from), seq);
  const part = path.join(path.dirname(to), `.${path.basename(to)}.part`);
  await writeFile(part, out.data);
  await rename(part, to);
  await unlink(from);
  return out.key;
}

/** Moves finished segments from the work directory to the output directory and keeps playlists current. */
export class AssetPublisher {
  readonly tracks: PublishedTrack[];
  playable = false;
  private readonly o: PublisherOptions;
  private busy: Promise<void> = Promise.resolve();
  /** Per-track encryption state, set when the track's init segment is published. */
  private readonly guards = new Map<PublishedTrack, TrackProtector>();

  constructor(o: PublisherOptions) {
    this.o = o;
    this.tracks = o.plan.map((rendition) => ({ rendition, codecs: '', segments: [], initBytes: 0 }));
  }

  /** Video tracks, largest first. */
  get video(): PublishedTrack<VideoRendition>[] {
    return this.tracks.filter((t): t is PublishedTrack<VideoRendition> => t.rendition.kind === 'video');
  }

  /** The audio track, if any. */
  get audio(): PublishedTrack<AudioRendition> | undefined {
    return this.tracks.find((t): t is PublishedTrack<AudioRendition> => t.rendition.kind === 'audio');
  }

  /** Publish whatever ffmpeg has finished since the last call; resolves true when the asset just became playable. Calls are serialised. */
  sync(): Promise<boolean> {
    const run = this.busy.then(() => this.syncOnce());
    this.busy = run.then(() => undefined, () => undefined);
    return run;
  }

  /** Resolves when no sync is running. */
  idle(): Promise<void> {
    return this.busy;
  }

  private async syncOnce(): Promise<boolean> {
    let grew = false;
    for (const [i, t] of this.tracks.entries()) {
      const name = t.rendition.name;
      let listed: { uri: string; durationS: number }[];
      try {
        listed = parseMediaPlaylist(await readFile(path.join(this.o.workDir, name, 'index.m3u8'), 'utf8')).segments;
      } catch {
        continue; // ffmpeg has not written this rendition's playlist yet
      }
      if (listed.length > t.segments.length && t.codecs === '') await this.publishInit(t, i);
      for (const seg of listed.slice(t.segments.length)) {
        const to = path.join(this.o.outDir, name, seg.uri);
        const from = path.join(this.o.workDir, name, seg.uri);
        const guard = this.guards.get(t);
        let key: SegmentKey | undefined;
        if (guard) key = await encryptInto(guard, from, to, t.segments.length);
        else await moveInto(from, to);
        t.segments.push({ uri: seg.uri, durationS: seg.durationS, bytes: (await stat(to)).size, ...(key ? { key } : {}) });
        grew = true;
      }
    }
    if (!this.playable && this.tracks.every((t) => t.segments.length >= this.o.playableSegments)) {
      await this.writePlaylists(false);
      this.playable = true;
      return true;
    }
    if (this.playable && grew) await this.writeMediaPlaylists(false);
    return false;
  }

  private async publishInit(t: PublishedTrack, index: number): Promise<void> {
    const dir = path.join(this.o.outDir, t.rendition.name);
    await mkdir(dir, { recursive: true });
    // ffmpeg suffixes the init name with the variant index only when there are several variants.
    const dirIn = path.join(this.o.workDir, t.rendition.name);
    const init = await readFile(path.join(dirIn, ffmpegInitName(index))).catch(() => readFile(path.join(dirIn, 'init.mp4')));
    const codecs = codecString(init);
    if (!codecs) throw fail('TRANSCODE_FAILED', `no codec configuration in the init segment of ${t.rendition.name}`);
    const guard = this.o.protector?.track(init, t.rendition.kind);
    if (guard) this.guards.set(t, guard);
    const part = path.join(dir, '.init.mp4.part');
    await writeFile(part, guard ? guard.init : init);
    await rename(part, path.join(dir, 'init.mp4'));
    t.codecs = codecs;
    t.initBytes = init.length;
  }

  private async writeMediaPlaylists(ended: boolean): Promise<void> {
    for (const t of this.tracks) {
      const text = mediaPlaylist(t.segments, { segmentSeconds: this.o.segmentSeconds, ended, sessionKeys: this.guards.get(t)?.playlistKeys });
      await writeAtomic(path.join(this.o.outDir, t.rendition.name, 'index.m3u8'), text);
    }
  }

  /** Media playlists first, master last: a master is never published before the playlists it names. */
  private async writePlaylists(complete: boolean): Promise<void> {
    await this.writeMediaPlaylists(complete);
    const master = masterPlaylist(this.video, this.audio, { segmentSeconds: this.o.segmentSeconds, complete, startKbps: this.o.startKbps ?? 0 });
    await writeAtomic(path.join(this.o.outDir, 'master.m3u8'), master);
  }

  /** Longest published rendition in seconds. */
  durationS(): number {
    return Math.max(0, ...this.tracks.map((t) => t.segments.reduce((a, s) => a + s.durationS, 0)));
  }

  /** Final sync, then VOD playlists with measured bandwidths and the static MPD. */
  async finish(): Promise<void> {
    await this.sync();
    for (const t of this.tracks) {
      if (t.segments.length === 0) throw fail('TRANSCODE_FAILED', `rendition ${t.rendition.name} produced no segments`);
    }
    await this.writePlaylists(true);
    // DASH has no whole-segment AES-128: such an asset is HLS only.
    if (this.o.protector?.mode === 'aes-128') return void (this.playable = true);
    const mpd = dashManifest(this.video, this.audio, { durationS: this.durationS(), segmentSeconds: this.o.segmentSeconds, protection: this.o.protector?.dash });
    await writeAtomic(path.join(this.o.outDir, 'manifest.mpd'), mpd);
    this.playable = true;
  }
}
