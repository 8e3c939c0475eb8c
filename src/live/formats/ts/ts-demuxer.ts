/**
 * MPEG-TS → MediaUnits (ISO/IEC 13818-1), for SRT ingest and pulled TS/RTSP sources. Bytes in any
 * chunking become packets (packet-reader), PID 0 gives the PAT, the PAT the PMT of one program, the
 * PMT the video and audio PIDs (the first H.264/H.265 stream and the first AAC/Opus stream in PMT
 * order: a live stream has one track of each), each read by an EsTrack (PES → codec reader →
 * units, emitted synchronously).
 *
 * Damage is counted, never thrown: continuity errors (§2.4.3.3; one duplicate packet is allowed and
 * discarded, a discontinuity_indicator excuses a jump) drop the PES in progress on that PID;
 * sections with a bad CRC_32 are ignored until a good one comes; a PES above `maxPesBytes` is
 * dropped, and so is whatever would take the bytes held above `maxPendingBytes`. Timestamps go
 * through one Timeline (33-bit wrap, discontinuities) and never run backwards per track. Input buffers are kept as views until the PES
 * they carry completes: a caller must not reuse a Buffer after pushing it (sockets never do).
 */
import { fail } from '../../../errors.js';
import type { MediaUnit } from '../../stream/media-unit.js';
import { EsTrack, type EsTrackEvents } from './es-track.js';
import { PID, continuity, parsePacket, type Pcr, type TsPacket } from './packet.js';
import { PacketReader } from './packet-reader.js';
import { SectionAssembler } from './psi-section.js';
import { parsePat, parsePmt, type Pmt, type PmtStream } from './psi-tables.js';
import { Timeline } from './timeline.js';

export interface TsDemuxerOptions {
  /** Largest PES kept (a 4K intra frame is a few MB). Default 8 MiB, at least 1 KiB. */
  maxPesBytes?: number;
  /**
   * Bytes held in total — PES in progress, partial ADTS frames, PSI sections, a split packet.
   * Default 16 MiB; at least 4 KiB (a split packet alone may need 3 × 188 bytes).
   */
  maxPendingBytes?: number;
  /** program_number to follow; default the first program of the PAT. */
  program?: number;
  /** A timestamp jump beyond this is a discontinuity, absorbed into the timeline. Default 10 s. */
  maxTimestampJumpMs?: number;
}

/** Why something was dropped or ignored. */
export type TsWarningCode = 'cc-error' | 'sync-lost' | 'transport-error' | 'scrambled' | 'psi-crc' | 'psi-syntax'
  | 'pes-too-large' | 'pes-truncated' | 'pes-malformed' | 'pending-limit' | 'timestamp-jump';

export interface TsWarning {
  code: TsWarningCode;
  pid: number;
}

/** Where units and notices go; called synchronously from `push` / `flush`. */
export interface TsDemuxerHandlers {
  unit(u: MediaUnit): void;
  /** A PMT was applied (first, or a new version). */
  program?(pmt: Pmt): void;
  warning?(w: TsWarning): void;
}

/** Counters for metrics; every field only grows. */
export interface TsDemuxCounters {
  packets: number;
  resyncs: number;
  skippedBytes: number;
  ccErrors: number;
  duplicates: number;
  transportErrors: number;
  scrambled: number;
  /** Packets on PIDs Strom does not carry (other programs, unsupported or extra streams). */
  unknownPidPackets: number;
  psiCrcErrors: number;
  psiSyntaxErrors: number;
  pes: number;
  droppedPes: number;
  /** Units not emitted: frames before the first keyframe, undecodable audio frames. */
  droppedUnits: number;
  /** Timestamps raised to keep a track's dts from running backwards. */
  timestampFixes: number;
  timestampJumps: number;
  units: number;
}

const DEFAULTS = { maxPesBytes: 8 << 20, maxPendingBytes: 16 << 20, maxTimestampJumpMs: 10_000 };

export class TsDemuxer {
  private readonly opts: Required<Omit<TsDemuxerOptions, 'program'>> & { program?: number };
  private readonly reader = new PacketReader((b, off) => this.packet(b, off), () => this.warn('sync-lost', -1));
  private readonly pat = new SectionAssembler();
  private patCc = -1;
  private pmt: SectionAssembler | null = null;
  private pmtPid = -1;
  private pmtCc = -1;
  private pmtVersion = -1;
  private pcrPid = -1;
  private readonly tracks = new Map<number, EsTrack>();
  private readonly timeline: Timeline;
  /** Dropped units and PES counts of tracks a new PMT replaced. */
  private retired = { droppedUnits: 0, pes: 0 };
  private readonly c: TsDemuxCounters = {
    packets: 0, resyncs: 0, skippedBytes: 0, ccErrors: 0, duplicates: 0, transportErrors: 0, scrambled: 0, unknownPidPackets: 0,
    psiCrcErrors: 0, psiSyntaxErrors: 0, pes: 0, droppedPes: 0, droppedUnits: 0, timestampFixes: 0, timestampJumps: 0, units: 0,
  };
  private readonly events: EsTrackEvents = {
    unit: (u) => {
      this.c.units++;
      this.handlers.unit(u);
    },
    droppedPes: (why, pid) => this.dropPes(why, pid),
    ccError: (pid) => this.ccError(pid),
    duplicate: () => void this.c.duplicates++,
    timestampFix: () => void this.c.timestampFixes++,
    timestampJump: (pid) => this.warn('timestamp-jump', pid),
  };
  /** The last PCR of the program's PCR PID (27 MHz clock as 90 kHz base + extension). */
  pcr: Pcr | null = null;
  /** The PMT in force. */
  program: Pmt | null = null;

  constructor(private readonly handlers: TsDemuxerHandlers, options: TsDemuxerOptions = {}) {
    this.opts = { ...DEFAULTS, ...options };
    if (!(this.opts.maxPesBytes >= 1024) || !(this.opts.maxPendingBytes >= 4096)) {
      throw fail('BAD_REQUEST', `TS demuxer limits too small: maxPesBytes ${this.opts.maxPesBytes} (≥ 1024), maxPendingBytes ${this.opts.maxPendingBytes} (≥ 4096)`);
    }
    this.timeline = new Timeline(this.opts.maxTimestampJumpMs);
  }

  /** Feed transport stream bytes in any chunking (SRT delivers 7 × 188-byte datagrams). */
  push(chunk: Buffer): void {
    this.reader.push(chunk);
    this.enforceLimit(-1);
  }

  /** End of input: complete the PES packets still open (video PES usually have no length). */
  flush(): void {
    this.reader.flush();
    for (const t of this.tracks.values()) t.finish();
  }

  /** A snapshot of the counters. */
  counters(): TsDemuxCounters {
    let droppedUnits = this.retired.droppedUnits;
    let pes = this.retired.pes;
    for (const t of this.tracks.values()) {
      droppedUnits += t.droppedUnits;
      pes += t.completedPes;
    }
    return { ...this.c, resyncs: this.reader.resyncs, skippedBytes: this.reader.skippedBytes, droppedUnits, pes, timestampJumps: this.timeline.jumps };
  }

  /** Bytes held right now: a split packet, sections and PES in progress, partial audio frames. */
  pendingBytes(): number {
    let n = this.reader.pendingBytes + this.pat.pendingBytes + (this.pmt?.pendingBytes ?? 0);
    for (const t of this.tracks.values()) n += t.pendingBytes;
    return n;
  }

  private warn(code: TsWarningCode, pid: number): void {
    this.handlers.warning?.({ code, pid });
  }

  private dropPes(code: TsWarningCode, pid: number): void {
    this.c.droppedPes++;
    this.warn(code, pid);
  }

  private ccError(pid: number): void {
    this.c.ccErrors++;
    this.warn('cc-error', pid);
  }

  private packet(b: Buffer, off: number): void {
    this.c.packets++;
    const p = parsePacket(b, off);
    if (p === null) return;
    if (p.error) {
      this.c.transportErrors++;
      this.warn('transport-error', p.pid);
      return;
    }
    if (p.pcr !== null && p.pid === this.pcrPid) this.pcr = p.pcr;
    if (p.pid === PID.NULL) return;
    if (p.scrambled && p.hasPayload) {
      this.c.scrambled++;
      this.warn('scrambled', p.pid);
      return;
    }
    const payload = b.subarray(off + p.payloadOffset, off + 188);
    if (p.pid === PID.PAT) this.patCc = this.section(p, this.patCc, this.pat, payload, (s) => this.onPat(s));
    else if (p.pid === this.pmtPid && this.pmt !== null) this.pmtCc = this.section(p, this.pmtCc, this.pmt, payload, (s) => this.onPmt(s));
    else {
      const t = this.tracks.get(p.pid);
      if (t === undefined) {
        if (p.pid !== this.pcrPid) this.c.unknownPidPackets++;
        return;
      }
      t.packet(p, payload);
      this.enforceLimit(p.pid);
    }
  }

  /** A PSI packet: continuity, then section assembly; returns the PID's new continuity_counter. */
  private section(p: TsPacket, cc: number, asm: SectionAssembler, payload: Buffer, onSection: (s: Buffer) => void): number {
    const state = continuity(p, cc, false);
    if (state === 'dup') {
      this.c.duplicates++;
      return cc;
    }
    if (state === 'error') {
      this.ccError(p.pid);
      asm.reset();
    }
    if (!p.hasPayload) return cc;
    asm.push(payload, p.pusi, onSection);
    return p.cc;
  }

  private refused(r: 'crc' | 'syntax', pid: number): void {
    if (r === 'crc') this.c.psiCrcErrors++;
    else this.c.psiSyntaxErrors++;
    this.warn(r === 'crc' ? 'psi-crc' : 'psi-syntax', pid);
  }

  private onPat(s: Buffer): void {
    const pat = parsePat(s);
    if (pat === 'skip') return;
    if (pat === 'crc' || pat === 'syntax') return this.refused(pat, PID.PAT);
    const entry = this.opts.program === undefined ? pat[0] : pat.find((e) => e.programNumber === this.opts.program);
    if (entry === undefined || entry.pmtPid === this.pmtPid) return;
    this.pmtPid = entry.pmtPid;
    this.pmt = new SectionAssembler();
    this.pmtCc = -1;
    this.pmtVersion = -1;
  }

  private onPmt(s: Buffer): void {
    const pmt = parsePmt(s);
    if (pmt === 'skip') return;
    if (pmt === 'crc' || pmt === 'syntax') return this.refused(pmt, this.pmtPid);
    if (this.opts.program !== undefined && pmt.programNumber !== this.opts.program) return;
    if (pmt.version === this.pmtVersion && this.program !== null) return;
    this.pmtVersion = pmt.version;
    this.pcrPid = pmt.pcrPid;
    const video = pmt.streams.find((x) => x.codec === 'avc' || x.codec === 'hevc');
    const audio = pmt.streams.find((x) => x.codec === 'aac' || (x.codec === 'opus' && x.opusChannelConfig !== undefined));
    const keep = new Map<number, PmtStream>();
    for (const x of [video, audio]) if (x !== undefined) keep.set(x.pid, x);
    for (const [pid, t] of this.tracks) {
      const next = keep.get(pid);
      if (next === undefined || next.codec !== t.stream.codec || next.opusChannelConfig !== t.stream.opusChannelConfig) {
        this.retired.droppedUnits += t.droppedUnits;
        this.retired.pes += t.completedPes;
        this.tracks.delete(pid);
      }
    }
    for (const [pid, x] of keep) if (!this.tracks.has(pid)) this.tracks.set(pid, new EsTrack(x, this.opts.maxPesBytes, this.timeline, this.events));
    this.program = pmt;
    this.handlers.program?.(pmt);
  }

  /**
   * Keep the bytes held within maxPendingBytes: drop the PES that just grew, then the others, then
   * partial audio frames and sections. A split packet (≤ 3 × 188 bytes) always fits the minimum limit.
   */
  private enforceLimit(pid: number): void {
    const max = this.opts.maxPendingBytes;
    if (this.pendingBytes() <= max) return;
    const order = [...this.tracks.values()].sort((a, b) => (a.stream.pid === pid ? -1 : b.stream.pid === pid ? 1 : 0));
    for (const t of order) {
      if (!t.discardPes()) continue;
      this.dropPes('pending-limit', t.stream.pid);
      if (this.pendingBytes() <= max) return;
    }
    for (const t of this.tracks.values()) t.discardPartialFrame();
    this.pat.reset();
    this.pmt?.reset();
  }
}
