/**
 * One elementary stream PID of the demuxed program: continuity check (ISO/IEC 13818-1 §2.4.3.3),
 * PES reassembly (§2.4.3.6), PTS/DTS onto the shared Timeline, and the codec reader that turns the
 * PES payload into MediaUnits. A continuity error drops the PES in progress (its bytes are gone);
 * times never run backwards on a track: a PES that would go back is raised to the last dts.
 */
import type { MediaUnit } from '../../stream/media-unit.js';
import { AacEs } from './aac-es.js';
import { OpusEs } from './opus-es.js';
import { continuity, type TsPacket } from './packet.js';
import { PesAssembler, parsePes, type PesPush } from './pes.js';
import type { PmtStream } from './psi-tables.js';
import type { Timeline } from './timeline.js';
import { VideoEs } from './video-es.js';

/** What a track reports to its demuxer. */
export interface EsTrackEvents {
  unit(u: MediaUnit): void;
  /** A PES was lost: cut by a continuity error, above the size limit, cut short or malformed. */
  droppedPes(why: 'pes-truncated' | 'pes-too-large' | 'pes-malformed', pid: number): void;
  ccError(pid: number): void;
  duplicate(): void;
  timestampFix(): void;
  timestampJump(pid: number): void;
}

export class EsTrack {
  private cc = -1;
  private dup = false;
  private readonly pes: PesAssembler;
  private readonly reader: VideoEs | AacEs | OpusEs;
  private lastDts = -Infinity;
  /** PES packets completed. */
  completedPes = 0;

  constructor(readonly stream: PmtStream, maxPesBytes: number, private readonly timeline: Timeline, private readonly ev: EsTrackEvents) {
    this.pes = new PesAssembler(maxPesBytes);
    const codec = stream.codec;
    this.reader = codec === 'aac' ? new AacEs() : codec === 'opus' ? new OpusEs(stream.opusChannelConfig ?? 2) : new VideoEs(codec === 'hevc' ? 'hevc' : 'avc');
  }

  /** Units the codec reader did not emit (frames before the first keyframe, undecodable audio). */
  get droppedUnits(): number {
    const r = this.reader;
    return r instanceof VideoEs ? r.droppedBeforeKeyframe + r.badParameterSets : r instanceof AacEs ? r.droppedFrames : r.malformed;
  }

  /** Bytes held: the PES in progress and a partial ADTS frame. */
  get pendingBytes(): number {
    return this.pes.pendingBytes + (this.reader instanceof AacEs ? this.reader.pendingBytes : 0);
  }

  get pesInProgress(): boolean {
    return this.pes.inProgress;
  }

  /** One transport packet of this PID with its payload. */
  packet(p: TsPacket, payload: Buffer): void {
    const state = continuity(p, this.cc, this.dup);
    this.dup = state === 'dup';
    if (state === 'dup') return this.ev.duplicate();
    if (p.hasPayload) this.cc = p.cc;
    if (state === 'error') {
      this.ev.ccError(p.pid);
      if (this.pes.inProgress) {
        this.pes.discard();
        this.ev.droppedPes('pes-truncated', p.pid);
      }
      if (this.reader instanceof AacEs) this.reader.reset();
    }
    if (!p.hasPayload || payload.length === 0) return;
    if (p.pusi) {
      this.completed(this.pes.finish());
      this.pes.begin();
    }
    this.completed(this.pes.append(payload));
  }

  /** End of input: the PES in progress is complete. */
  finish(): void {
    this.completed(this.pes.finish());
  }

  /** Drop the PES in progress (the demuxer's byte limit); true if there was one. */
  discardPes(): boolean {
    const had = this.pes.inProgress;
    this.pes.discard();
    return had;
  }

  /** Drop a partial ADTS frame held for the next PES. */
  discardPartialFrame(): void {
    if (this.reader instanceof AacEs) this.reader.reset();
  }

  private completed(r: PesPush): void {
    const pid = this.stream.pid;
    if (r === null) return;
    if ('dropped' in r) return this.ev.droppedPes(r.dropped === 'too-large' ? 'pes-too-large' : 'pes-truncated', pid);
    const pes = parsePes(r.done);
    if (pes === null) return this.ev.droppedPes('pes-malformed', pid);
    this.completedPes++;
    const jumps = this.timeline.jumps;
    let dts: number | null = null;
    let pts: number | null = null;
    if (pes.pts !== null) {
      dts = this.timeline.ticks(pes.dts ?? pes.pts);
      pts = pes.dts === null ? dts : Math.max(dts, this.timeline.ticks(pes.pts)); // PTS ≥ DTS (§2.4.3.7)
    }
    if (this.timeline.jumps !== jumps) this.ev.timestampJump(pid);
    const floor = Math.max(0, this.lastDts * 90);
    if (dts !== null && dts < floor) {
      this.ev.timestampFix();
      pts = Math.max(pts!, floor);
      dts = floor;
    }
    const out: MediaUnit[] = [];
    if (this.reader instanceof VideoEs) {
      if (dts === null) return this.ev.droppedPes('pes-malformed', pid); // a video PES must carry its time
      this.reader.push(pes.payload, dts / 90, pts! / 90, out);
    } else this.reader.push(pes.payload, dts, out);
    for (const u of out) {
      if (u.dts < this.lastDts && u.kind === 'audio') {
        this.ev.timestampFix(); // audio times are not written into the body: safe to raise
        u.dts = u.pts = this.lastDts;
      }
      if (u.dts > this.lastDts) this.lastDts = u.dts;
      this.ev.unit(u);
    }
  }
}
