/**
 * One live ABR transcode (docs/LIVE.md "Live ABR"): ONE ffmpeg child per stream reads the
 * source as FLV on stdin (a bounded stream reader: `flvHeader`, then each unit's cached FLV tag)
 * and writes every lower rung as FLV on its own pipe (fd 3, 4, …; abr-ladder.ts). Each pipe is
 * demuxed back into MediaUnits and fed to that rendition's LL-HLS muxer, which follows the
 * source muxer's part/segment boundaries (live-segmenter.ts follower mode).
 * Failure policy: the reader is bounded like any viewer (a stalled ffmpeg is disconnected as too
 * slow); a child that exits while wanted is restarted with exponential backoff (1 s … 30 s) and its
 * renditions are absent from the master playlist until they produce a segment again; `stop`
 * kills it (SIGKILL after 2 s) and ends the rendition muxers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { FlvDemuxer } from '../formats/flv/flv-demuxer.js';
import { audioToUnit, flvHeader, flvTagOf, TAG, videoToUnit } from '../formats/flv/flv-tags.js';
import { avcCodecString } from '../stream/codec-config.js';
import { LlHlsMuxer } from '../formats/hls/ll-hls-muxer.js';
import type { Reader } from '../stream/reader.js';
import type { LiveStream } from '../stream/stream.js';
import { abrFfmpegArgs, type AbrRung } from './abr-ladder.js';

/** A rendition and its muxer (null while the child is down). */
export interface AbrRendition {
  rung: AbrRung;
  mux: LlHlsMuxer | null;
  /** RFC 6381 codecs of the rendition (video from its sequence header, then audio). */
  codecs: string[];
}

const MAX_BACKOFF_MS = 30_000;

/** The transcode of one stream. */
export class AbrTranscoder {
  readonly renditions: AbrRendition[];
  private child: ChildProcess | null = null;
  private reader: Reader | null = null;
  private stopped = false;
  /** The source ended: stdin was closed, ffmpeg drains and exits, the renditions end with ENDLIST. */
  private ending = false;
  private backoffMs = 1000;
  private retry: NodeJS.Timeout | null = null;
  private startedAt = 0;

  constructor(
    private readonly stream: LiveStream,
    private readonly leader: LlHlsMuxer,
    rungs: readonly AbrRung[],
    private readonly o: { preset: string; ffmpeg?: string; onRestart: () => void },
    private readonly log: Logger,
  ) {
    this.renditions = rungs.map((rung) => ({ rung, mux: null, codecs: [] }));
  }

  /** Process id of the running child (tests), or null. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** True while the ffmpeg child runs. */
  get running(): boolean {
    return this.child !== null;
  }

  /** Spawn ffmpeg and attach the source reader. */
  start(): void {
    if (this.stopped || this.child !== null) return;
    const t = this.stream.tracks;
    const audio = t.audio === undefined ? 'none' : t.audio.codec === 'aac' ? 'copy' : 'aac';
    const args = abrFfmpegArgs(this.renditions.map((r) => r.rung), { preset: this.o.preset, audio });
    const child = spawn(this.o.ffmpeg ?? 'ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe', ...this.renditions.map(() => 'pipe' as const)] });
    this.child = child;
    this.startedAt = Date.now();
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000))); // last lines only (bounded)
    child.stdin!.on('error', () => undefined); // EPIPE when the child dies: handled by 'exit'
    this.renditions.forEach((r, i) => {
      r.mux = new LlHlsMuxer({ video: true, audio: audio !== 'none' }, this.leader.opts, { width: r.rung.width, height: r.rung.height }, this.leader);
      const mux = r.mux;
      const demux = new FlvDemuxer();
      (child.stdio[3 + i] as Readable).on('data', (d: Buffer) => {
        try {
          for (const tag of demux.push(d)) {
            const u = tag.type === TAG.VIDEO ? videoToUnit(tag.body, tag.timestamp) : tag.type === TAG.AUDIO ? audioToUnit(tag.body, tag.timestamp) : null;
            if (u === null) continue;
            if (u.config && u.kind === 'video') r.codecs = [avcCodecString(u.payload), ...(t.audio ? [audio === 'copy' ? t.audio.codecString : 'mp4a.40.2'] : [])];
            mux.push(u);
          }
        } catch (err) {
          this.log.warn({ err, rendition: r.rung.name }, 'live ABR output is not FLV; restarting');
          child.kill('SIGKILL');
        }
      });
    });
    child.on('error', (err) => { // spawn failure (no ffmpeg): no 'exit' follows
      this.log.error({ err }, 'live ABR ffmpeg could not be started');
      child.emit('exit', null, 'spawn-error');
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = null;
      if (this.ending) {
        for (const x of this.renditions) x.mux?.end(); // flushed by ffmpeg's EOF: last parts, ENDLIST
        return;
      }
      this.detach(`ffmpeg exited (${signal ?? code})`);
      if (this.stopped) return;
      this.log.warn({ code, signal, stderr: stderr.trim().split('\n').slice(-3).join(' | ') }, 'live ABR ffmpeg exited; restarting');
      if (Date.now() - this.startedAt > 60_000) this.backoffMs = 1000; // it ran fine for a while
      this.retry = setTimeout(() => {
        this.retry = null;
        this.o.onRestart();
        this.start();
      }, this.backoffMs);
      this.retry.unref();
      this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
    });
    let headerSent = false;
    const stdin = child.stdin!;
    this.reader = this.stream.addReader('ll-hls', {
      write: (units) => {
        const bufs = headerSent ? [] : [flvHeader(t.audio !== undefined, true)];
        headerSent = true;
        for (const u of units) if (u.kind !== 'data') bufs.push(flvTagOf(u));
        return stdin.write(Buffer.concat(bufs));
      },
      close: (reason) => {
        if (this.child !== child || this.stopped) return;
        if (!this.stream.active) {
          this.ending = true; // end of stream: let ffmpeg flush what it has
          stdin.end();
        } else {
          this.log.warn({ reason }, 'live ABR source reader closed; restarting ffmpeg');
          child.kill('SIGKILL');
        }
      },
    }, () => undefined);
    const reader = this.reader;
    stdin.on('drain', () => reader.resume());
    this.log.info({ pid: child.pid, renditions: this.renditions.map((r) => r.rung.name) }, 'live ABR transcode started');
  }

  /** Kill the child for good and end the renditions. */
  stop(reason: string): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const child = this.child;
    this.child = null;
    this.detach(reason);
    if (child) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      t.unref();
      child.once('exit', () => clearTimeout(t));
      this.log.info({ pid: child.pid, reason }, 'live ABR transcode stopped');
    }
  }

  private detach(reason: string): void {
    const r = this.reader;
    this.reader = null;
    r?.close(`live ABR: ${reason}`);
    for (const x of this.renditions) {
      x.mux?.end();
      x.mux = null;
    }
  }
}
