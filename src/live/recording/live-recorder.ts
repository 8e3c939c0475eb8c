/**
 * Live recording → VOD (docs/LIVE.md "LL-DASH, DVR and recording"). While a stream
 * that records (`live_streams.record` or `live.recordAll`) is published, its LL-HLS muxer is kept
 * running without viewers (pinned) and every completed CMAF segment is written to
 * `<dataDir>/tmp/rec-<streamId>-<session>/seg_<msn>.m4s` next to its init segment(s). When the
 * publisher stops (not on a takeover, which continues the same muxer and recording), the directory
 * gets static manifests (vod-manifests.ts: RFC 8216bis VOD playlist, ISO/IEC 23009-1 static MPD)
 * and is handed to `publish`, which renames it into `assets/<videoId>/` (atomic publication,
 * docs/STORAGE.md). Disk use per recording is bounded by `live.recordMaxBytes`: past it, further
 * segments are dropped and the recording ends there. A write that fails (the disk full) ends the
 * recording the same way, at its last complete segment, logged with STORAGE_FULL.
 * With `alwaysOn` (DVR) every published stream gets a pinned muxer the same way, recorded or not.
 * The muxer is started when the stream's first media unit arrives (a short-lived probe reader), not
 * at publish.start: the muxer's track set comes from the sequence headers, sent after `publish`.
 */
import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { fail, isNoSpace } from '../../errors.js';
import { codecParameter } from '../formats/cmaf/sample-entry.js';
import type { LiveSegment, LlHlsMuxer } from '../formats/hls/ll-hls-muxer.js';
import type { LiveEvents } from '../stream/live-events.js';
import type { LlHlsService } from '../ll-hls/ll-hls-service.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import { initName, renderVodMaster, renderVodMpd, renderVodPlaylist, type RecordingInfo } from './vod-manifests.js';

/** Journal files of a recording in progress (removed when it is published; recording-sweep.ts reads them after a crash). */
export const JOURNAL = 'segments.jsonl';
export const JOURNAL_HEAD = 'recording.json';

/** Turn a recording directory into a VOD asset directory: drop the journal, write its manifests. */
export async function finalizeRecordingDir(dir: string, info: RecordingInfo): Promise<void> {
  await rm(path.join(dir, JOURNAL), { force: true });
  await rm(path.join(dir, JOURNAL_HEAD), { force: true });
  await writeFile(path.join(dir, 'index.m3u8'), renderVodPlaylist(info));
  await writeFile(path.join(dir, 'master.m3u8'), renderVodMaster(info));
  await writeFile(path.join(dir, 'manifest.mpd'), renderVodMpd(info));
}

/** Codec strings and picture size of a live stream's current tracks, as a recording's manifests name them. */
export function streamTracksInfo(registry: StreamRegistry, streamId: string): Omit<RecordingInfo, 'segments'> {
  const t = registry.get(streamId)?.tracks ?? {};
  const meta = registry.get(streamId)?.meta ?? {};
  const codecs = [t.video && codecParameter({ codec: t.video.codec, config: t.video.config.payload }, t.video.codecString),
    t.audio && codecParameter({ codec: t.audio.codec, config: t.audio.config.payload }, t.audio.codecString)].filter((c): c is string => typeof c === 'string');
  return typeof meta.width === 'number' && typeof meta.height === 'number' ? { codecs, width: meta.width, height: meta.height } : { codecs };
}

/** A finished recording directory, ready to be published. */
export interface FinishedRecording {
  streamId: string;
  sessionId: string;
  dir: string;
  info: RecordingInfo;
  startedAt: number;
}

/** Recorder settings and hooks. */
export interface RecorderOptions {
  tmpDir: string;
  maxBytes: number;
  /** Keep every published stream's muxer on even when it does not record (DVR, `llhls.dvrWindowS`). */
  alwaysOn: boolean;
  /** Whether `streamId` records (store flag or `live.recordAll`). */
  shouldRecord(streamId: string): Promise<boolean>;
  /** Turn a finished directory into a VOD asset (moves it away). */
  publish(rec: FinishedRecording): Promise<void>;
}

interface Session {
  /** False: only keeping the muxer on (DVR), nothing written. */
  record: boolean;
  rec: FinishedRecording;
  mux: LlHlsMuxer | null;
  written: Set<number>;
  bytes: number;
  full: boolean;
  /** A write failed (disk full): nothing more is written, the recording ends at its last complete segment. */
  failed: boolean;
  queue: Promise<void>;
  off: () => void;
}

/** Records live streams to disk and publishes them as VOD when they end. */
export class LiveRecorder {
  private readonly sessions = new Map<string, Session>();
  private readonly offs: Array<() => void> = [];
  /** Settles when every recording started so far is published (tests, shutdown). */
  idle: Promise<void> = Promise.resolve();

  constructor(private readonly registry: StreamRegistry, events: LiveEvents, private readonly llhls: LlHlsService, private readonly o: RecorderOptions, private readonly log: Logger) {
    this.offs.push(events.on('publish.start', (e) => {
      if (!e.takeover && !e.relay) void this.start(e.streamId, e.sessionId).catch((err: unknown) => this.log.warn({ err, streamId: e.streamId }, 'recording failed to start'));
    }));
    // A takeover emits publish.stop and attaches the new publisher in the same tick: decide after it.
    // A relayed stream (cluster) is recorded by the node its publisher is connected to.
    this.offs.push(events.on('publish.stop', (e) => queueMicrotask(() => {
      if (this.registry.get(e.streamId)?.active !== true) this.finish(e.streamId);
    })));
  }

  /** Recordings in progress (tests, metrics). */
  get size(): number {
    return this.sessions.size;
  }

  /** Stop listening; recordings in progress are finished and published. */
  async close(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    for (const id of [...this.sessions.keys()]) this.finish(id);
    await this.idle;
  }

  private async start(streamId: string, sessionId: string): Promise<void> {
    if (this.sessions.has(streamId)) return;
    const record = await this.o.shouldRecord(streamId);
    if (!record && !this.o.alwaysOn) return;
    const stream = this.registry.get(streamId);
    if (stream?.active !== true) return;
    const dir = path.join(this.o.tmpDir, `rec-${streamId}-${sessionId}`);
    // Registered before any further await, so a publish.stop from now on finishes this session.
    const s: Session = { record, rec: { streamId, sessionId, dir, info: { segments: [], codecs: [] }, startedAt: Date.now() }, mux: null, written: new Set(), bytes: 0, full: false, failed: false, queue: Promise.resolve(), off: () => undefined };
    this.sessions.set(streamId, s);
    if (record) this.write(s, -1, () => mkdir(dir, { recursive: true }).then(() => undefined));
    this.llhls.pin(streamId, true);
    // Probe: the first media unit means the sequence headers are in; start the muxer from there.
    let probe: { close(reason: string): void } | null = null;
    probe = stream.addReader('ll-hls', {
      write: (units) => {
        if (s.mux === null && units.some((u) => !u.config)) queueMicrotask(() => {
          probe?.close('recording started');
          this.attach(streamId, s);
        });
        return true;
      },
      close: () => undefined,
    }, () => undefined);
    if (record) this.log.info({ streamId, dir }, 'recording started');
  }

  private attach(streamId: string, s: Session): void {
    if (s.mux !== null || this.sessions.get(streamId) !== s || this.registry.get(streamId)?.active !== true) return;
    Object.assign(s.rec.info, streamTracksInfo(this.registry, streamId));
    const mux = this.llhls.muxer(streamId);
    s.mux = mux;
    // Crash safety: the journal head holds what a restart needs to finish this directory.
    const head = { streamId, sessionId: s.rec.sessionId, startedAt: s.rec.startedAt, codecs: s.rec.info.codecs, width: s.rec.info.width, height: s.rec.info.height };
    if (s.record) this.write(s, -1, () => writeFile(path.join(s.rec.dir, JOURNAL_HEAD), JSON.stringify(head)));
    const l = (seg: LiveSegment, init: Buffer | null) => this.onSegment(s, seg, init);
    mux.segmentListeners.add(l);
    s.off = () => mux.segmentListeners.delete(l);
  }

  private onSegment(s: Session, seg: LiveSegment, init: Buffer | null): void {
    if (!s.record || s.full || init === null) return;
    const bytes = seg.parts.reduce((n, p) => n + p.bytes.length, 0);
    const newInit = !s.written.has(seg.initVersion);
    if (s.bytes + bytes + (newInit ? init.length : 0) > this.o.maxBytes) {
      s.full = true;
      this.log.warn({ streamId: s.rec.streamId, maxBytes: this.o.maxBytes }, 'recording reached live.recordMaxBytes; later segments are not recorded');
      return;
    }
    s.bytes += bytes + (newInit ? init.length : 0);
    s.written.add(seg.initVersion);
    s.rec.info.segments.push({ msn: seg.msn, startMs: seg.startMs, durationMs: seg.durationMs, initVersion: seg.initVersion, bytes });
    const parts = seg.parts.map((p) => p.bytes);
    this.write(s, seg.msn, async () => {
      if (newInit) await writeFile(path.join(s.rec.dir, initName(seg.initVersion)), init);
      await writeFile(path.join(s.rec.dir, `seg_${seg.msn}.m4s`), Buffer.concat(parts));
      await appendFile(path.join(s.rec.dir, JOURNAL), `${JSON.stringify({ msn: seg.msn, startMs: seg.startMs, durationMs: seg.durationMs, initVersion: seg.initVersion, bytes })}\n`); // after the segment: a listed one is complete
    });
  }

  /**
   * Queue a write of segment `msn` (or of the journal head, msn -1). When a write fails — the disk
   * full, above all — recording stops there: the segment being written and every later one are
   * dropped (its partial file removed), so the recording ends consistent at the last complete
   * segment and is published as usual when the stream ends. The live stream is not affected.
   */
  private write(s: Session, msn: number, what: () => Promise<void>): void {
    s.queue = s.queue.then(async () => {
      if (s.failed) return;
      try {
        await what();
      } catch (err) {
        s.failed = true;
        s.full = true;
        const kept = s.rec.info.segments.filter((x) => x.msn < msn);
        s.rec.info.segments = msn < 0 ? [] : kept;
        if (msn >= 0) await rm(path.join(s.rec.dir, `seg_${msn}.m4s`), { force: true }).catch(() => undefined);
        const reason = isNoSpace(err) ? fail('STORAGE_FULL', `the recording of live stream ${s.rec.streamId} (${s.rec.dir})`) : err;
        this.log.error({ err: reason, streamId: s.rec.streamId, failedSegment: msn, keptSegments: s.rec.info.segments.length },
          'recording stopped: a write failed; the recording ends at its last complete segment, the live stream goes on');
      }
    });
  }

  private finish(streamId: string): void {
    const s = this.sessions.get(streamId);
    if (!s) return;
    this.sessions.delete(streamId);
    if (s.record) s.mux?.end(); // flushes the last segment to our listener (idempotent)
    s.off();
    this.llhls.pin(streamId, false);
    if (!s.record) return;
    const done = s.queue.then(async () => {
      const { dir, info } = s.rec;
      if (info.segments.length === 0) {
        await rm(dir, { recursive: true, force: true });
        return;
      }
      await finalizeRecordingDir(dir, info);
      await this.o.publish(s.rec);
    }).catch(async (err: unknown) => {
      this.log.error({ err, streamId }, 'recording could not be published');
      await rm(s.rec.dir, { recursive: true, force: true });
    });
    this.idle = Promise.all([this.idle, done]).then(() => undefined);
  }
}
