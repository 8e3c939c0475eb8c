/**
 * MediaUnits → CMAF chunks ("parts") and segments for LL-HLS (draft-pantos-hls-rfc8216bis §4.4.4.9
 * EXT-X-PART, §4.4.3.7 EXT-X-PART-INF) and LL-DASH. One muxed rendition: every part is ONE
 * moof+mdat carrying a video traf and an audio traf (CMAF chunk, ISO/IEC 23000-19 §7.3.2.3), so a
 * player can append any part alone; a segment is its parts concatenated.
 *
 * Cutting rules (why they look like this):
 * - A part is closed when the next video frame arrives and adding it would exceed `partTargetMs`
 *   by more than PART_SLACK_MS. That frame's dts gives the last frame's duration exactly, so no
 *   duration is estimated and every part stays ≤ the advertised PART-TARGET (target + slack; and
 *   ≥ 85 % of it while one frame is ≤ 15 % of the target). The slack is the millisecond rounding of
 *   FLV/RTMP timestamps: 15 frames at 30 fps span 500 or 501 ms, and without it the first part of
 *   every 2 s segment lost a frame and a lone-frame part trailed each segment (467/500/500/500/33),
 *   one more request per segment for every player.
 * - A segment is closed at the first keyframe at/after `segmentTargetMs`, so each segment (and its
 *   first part, INDEPENDENT=YES) starts on a keyframe; the GOP sets the real segment length.
 * - Audio-only streams are cut on audio frames the same way (every audio frame is a sync sample).
 * Video uses a 90 kHz timescale (ms × 90, exact); audio uses its sample rate with a running sample
 * clock (AAC frames are 1024 samples) re-anchored to the FLV ms dts only when it drifts a frame.
 * - A repeated identical sequence header (publisher takeover) ends the segment; a changed one
 *   (takeover with other encoder settings) also ends the
 *   segment, bumps `initVersion` and marks the next part `discontinuity` (EXT-X-DISCONTINUITY with
 *   a new EXT-X-MAP, §4.4.4.3): an init segment, once published, never changes.
 * - Follower mode (live ABR): a transcoded rendition cuts its parts and segments exactly
 *   where the source rendition cut them, at the same decode times (ffmpeg `-copyts`, keyframes
 *   forced where the source has them), and takes the source's segment and part numbers, so every
 *   rendition lists the same media sequence numbers, part counts and durations (§6.2.4: a client
 *   switching renditions addresses the same MSN/part).
 */
import type { MediaUnit } from '../../stream/media-unit.js';
import { fragment, type CmafSample, type TrackRun } from './fragment.js';
import { initSegment } from './init-segment.js';
import { opusPacketSamples } from '../audio/opus-toc.js'; // Opus packets are 2.5–120 ms, not always 20
import type { CmafTrack } from './sample-entry.js';

/** How far a part may run past `partTargetMs` (ms timestamp rounding); PART-TARGET includes it. */
export const PART_SLACK_MS = 1;

/** One finished CMAF chunk. */
export interface CmafPart {
  /** Global part number (mfhd sequence − 1), also the part's URI key. */
  seq: number;
  /** Media sequence number of the segment the part belongs to. */
  msn: number;
  /** Index of the part inside its segment. */
  index: number;
  /** Decode time of the part's first video (or audio) sample, ms. */
  startMs: number;
  durationMs: number;
  /** Starts with a keyframe (EXT-X-PART INDEPENDENT=YES). */
  independent: boolean;
  /** The part closes its segment (the next part starts a new segment). */
  lastOfSegment: boolean;
  /** Version of the init segment the part needs. */
  initVersion: number;
  /** First part after a configuration change. */
  discontinuity: boolean;
  bytes: Buffer;
}

/** A part boundary of the source rendition (follower mode): its numbers at a decode time. */
export interface PartBoundary {
  msn: number;
  index: number;
  seq: number;
}

/** Part and segment targets. */
export interface SegmenterOptions {
  partTargetMs: number;
  segmentTargetMs: number;
}

const VIDEO_TIMESCALE = 90_000;

/** Turns one stream's units into parts; `onPart` is called synchronously as each part completes. */
export class LiveSegmenter {
  /** The init segment, once every expected track has its configuration. */
  init: Buffer | null = null;
  /** Bumped on every configuration change after the first init segment. */
  initVersion = 0;
  private discontinuity = false;
  private video: CmafTrack | null = null;
  private audio: CmafTrack | null = null;
  private vq: MediaUnit[] = [];
  private aq: Array<{ u: MediaUnit; time: number; dur: number }> = [];
  private audioClock = -1;
  private audioFrame = 1024;
  private started = false;
  private partStart = 0;
  private segStart = 0;
  private seq = 0;
  private msn = 0;
  private partIndex = 0;
  /** Where the recent parts START (decode time → numbers), known the moment a part begins (for followers). */
  readonly boundaries = new Map<number, PartBoundary>();

  constructor(
    private readonly expect: { video: boolean; audio: boolean },
    private readonly opts: SegmenterOptions,
    private readonly onPart: (p: CmafPart) => void,
    private readonly dims: { width?: number; height?: number } = {},
    /** Follower mode: the source's part starting at a decode time (ms), if any. */
    private readonly follow?: (dts: number) => PartBoundary | undefined,
  ) {}

  /** Feed one unit (configs, video and audio in arrival order). */
  push(u: MediaUnit): void {
    if (u.config) return this.configure(u);
    if (this.init === null) return;
    if (u.kind === 'video' && this.video) this.pushVideo(u);
    else if (u.kind === 'audio' && this.audio) this.pushAudio(u);
  }

  /** Emit what is pending as a final part (end of stream). */
  flush(): void {
    if (this.vq.length > 0 || this.aq.length > 0) {
      const last = this.vq.at(-1);
      const prev = this.vq.at(-2);
      const end = last ? last.dts + (prev ? last.dts - prev.dts : 33) : this.partStart + this.opts.partTargetMs;
      this.emit(end, true);
    } else if (this.partIndex > 0) {
      this.msn++; // the segment in progress ends without another part
      this.partIndex = 0;
    }
  }

  private configure(u: MediaUnit): void {
    let track: CmafTrack;
    if (u.kind === 'video' && this.expect.video && (u.codec === 'avc' || u.codec === 'hevc' || u.codec === 'av1')) {
      track = { id: 1, kind: 'video', codec: u.codec, timescale: VIDEO_TIMESCALE, config: u.payload, ...this.dims };
    } else if (u.kind === 'audio' && this.expect.audio && (u.codec === 'aac' || u.codec === 'opus')) {
      const info = u.codec === 'aac' ? ascInfo(u.payload) : { sampleRate: 48_000, channels: u.payload[9] ?? 2 };
      track = { id: 2, kind: 'audio', codec: u.codec, timescale: info.sampleRate, config: u.payload, ...info };
    } else return;
    const prev = track.kind === 'video' ? this.video : this.audio;
    if (prev !== null && prev.codec === track.codec && prev.config.equals(track.config)) {
      // A repeated sequence header marks a splice (publisher takeover: the timeline jumps to the new
      // publisher's first keyframe): end the segment there so no part spans the jump.
      if (this.started) {
        this.flush();
        this.started = false;
      }
      return;
    }
    if (this.init !== null) {
      this.flush(); // the old configuration's samples end their segment
      this.started = false; // restart at the next keyframe
      this.initVersion++;
      this.discontinuity = true;
      this.audioClock = -1;
    }
    if (track.kind === 'video') this.video = track;
    else {
      this.audio = track;
      this.audioFrame = track.codec === 'aac' ? 1024 : 960;
    }
    const ready = (!this.expect.video || this.video !== null) && (!this.expect.audio || this.audio !== null);
    if (ready) this.init = initSegment([this.video, this.audio].filter((t): t is CmafTrack => t !== null));
  }

  private pushVideo(u: MediaUnit): void {
    if (this.follow) return this.followVideo(u, this.follow(u.dts));
    if (!this.started) {
      if (!u.keyframe) return;
      this.started = true;
      this.partStart = this.segStart = u.dts;
      this.mark(u.dts);
    }
    const last = this.vq.at(-1);
    if (last !== undefined) {
      const frame = Math.max(1, u.dts - last.dts);
      const cutSegment = u.keyframe && u.dts - this.segStart >= this.opts.segmentTargetMs;
      if (cutSegment || u.dts + frame - this.partStart > this.opts.partTargetMs + PART_SLACK_MS) this.emit(u.dts, cutSegment);
    }
    this.vq.push(u);
  }

  /** Follower mode: cut where (and only where) the source cut, and take its numbers. */
  private followVideo(u: MediaUnit, b: PartBoundary | undefined): void {
    if (!this.started) {
      if (!u.keyframe || b === undefined || b.index !== 0) return; // start on a source segment start
      this.started = true;
      this.partStart = this.segStart = u.dts;
      this.aq = this.aq.filter((a) => a.u.dts >= u.dts);
    } else if (b !== undefined && this.vq.length > 0) this.emit(u.dts, b.index === 0);
    if (b !== undefined) {
      this.msn = b.msn;
      this.seq = b.seq;
      this.partIndex = b.index;
    }
    this.vq.push(u);
  }

  private pushAudio(u: MediaUnit): void {
    if (!this.started) {
      if (this.video !== null) return; // wait for the first video keyframe
      this.started = true;
      this.partStart = this.segStart = u.dts;
    }
    const sr = this.audio!.timescale;
    const dur = this.audio!.codec === 'opus' ? opusPacketSamples(u.payload) || this.audioFrame : this.audioFrame; // Opus: duration from the packet's TOC
    const exact = Math.round((u.dts * sr) / 1000);
    if (this.audioClock < 0 || Math.abs(exact - this.audioClock) > this.audioFrame) this.audioClock = exact;
    if (this.video === null && this.aq.length > 0) {
      const frameMs = (dur * 1000) / sr;
      const cutSegment = u.dts - this.segStart >= this.opts.segmentTargetMs;
      if (cutSegment || u.dts + frameMs - this.partStart > this.opts.partTargetMs + PART_SLACK_MS) this.emit(u.dts, cutSegment);
    }
    this.aq.push({ u, time: this.audioClock, dur });
    this.audioClock += dur;
  }

  /** Record that the next part starts at `dts` (bounded: the last 256 boundaries, minutes of parts). */
  private mark(dts: number): void {
    this.boundaries.set(dts, { msn: this.msn, index: this.partIndex, seq: this.seq });
    if (this.boundaries.size > 256) this.boundaries.delete(this.boundaries.keys().next().value!);
  }

  /** Close the current part at `endMs` (the next unit's dts); `segmentEnds` when a segment follows. */
  private emit(endMs: number, segmentEnds: boolean): void {
    const runs: TrackRun[] = [];
    let independent = true; // audio-only: every frame is a sync sample
    if (this.video && this.vq.length > 0) {
      const v = this.vq;
      independent = v[0]!.keyframe;
      const samples: CmafSample[] = v.map((u, i) => ({
        duration: ((v[i + 1]?.dts ?? endMs) - u.dts) * 90,
        size: u.payload.length,
        sync: u.keyframe,
        cto: (u.pts - u.dts) * 90,
      }));
      runs.push({ trackId: 1, baseDecodeTime: v[0]!.dts * 90, samples, data: v.map((u) => u.payload) });
    }
    if (this.audio && this.aq.length > 0) {
      const a = this.aq;
      const samples: CmafSample[] = a.map(({ u, dur }) => ({ duration: dur, size: u.payload.length, sync: true, cto: 0 }));
      runs.push({ trackId: 2, baseDecodeTime: a[0]!.time, samples, data: a.map(({ u }) => u.payload) });
    }
    this.vq = [];
    this.aq = [];
    const part: CmafPart = {
      seq: this.seq, msn: this.msn, index: this.partIndex, startMs: this.partStart, durationMs: endMs - this.partStart,
      independent, lastOfSegment: segmentEnds, bytes: fragment(this.seq + 1, runs), initVersion: this.initVersion, discontinuity: this.discontinuity,
    };
    this.discontinuity = false;
    this.seq++;
    this.partStart = endMs;
    if (segmentEnds) {
      this.msn++;
      this.partIndex = 0;
      this.segStart = endMs;
    } else this.partIndex++;
    this.mark(endMs);
    this.onPart(part);
  }
}

/** Sample rate and channels of an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1). */
export function ascInfo(asc: Buffer): { sampleRate: number; channels: number } {
  const rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
  if (asc.length < 2) return { sampleRate: 44100, channels: 2 };
  const idx = ((asc[0]! & 7) << 1) | (asc[1]! >> 7);
  return { sampleRate: rates[idx] ?? 44100, channels: (asc[1]! >> 3) & 0x0f || 2 };
}
