/**
 * MPEG-TS → MediaUnits (ISO/IEC 13818-1), for SRT ingest and pulled TS/RTSP sources. Bytes in any
 * chunking become packets (packet-reader), PID 0 gives the PAT, the PAT the PMT of one program, the
 * PMT the video and audio PIDs (the first H.264/H.265 stream and the first AAC/Opus stream in PMT
 * order: a live stream has one track of each). Their PES packets are reassembled and handed to the
 * elementary stream readers (video-es, aac-es, opus-es), which emit the units synchronously.
 *
 * Damage is counted, never thrown: continuity errors (§2.4.3.3; one duplicate packet is allowed and
 * discarded, a discontinuity_indicator excuses a jump) drop the PES in progress on that PID;
 * sections with a bad CRC_32 are ignored until a good one comes; a PES above `maxPesBytes` is
 * dropped, and so is whatever would take the bytes held above `maxPendingBytes`. Timestamps go through one Timeline (33-bit wrap,
 * discontinuities) and never run backwards per track. Input buffers are kept as views until the PES
 * they carry completes: a caller must not reuse a Buffer after pushing it (sockets never do).
 */
import { fail } from '../../../errors.js';
import type { MediaUnit } from '../../stream/media-unit.js';
import { AacEs } from './aac-es.js';
import { OpusEs } from './opus-es.js';
import { PID, parsePacket, type Pcr, type TsPacket } from './packet.js';
import { PacketReader } from './packet-reader.js';
import { PesAssembler, parsePes, type PesPush } from './pes.js';
import { SectionAssembler } from './psi-section.js';
import { parsePat, parsePmt, type Pmt, type PmtStream } from './psi-tables.js';
import { Timeline } from './timeline.js';
import { VideoEs } from './video-es.js';

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

interface Es {
  stream: PmtStream;
  cc: number;
  dup: boolean;
  pes: PesAssembler;
  reader: VideoEs | AacEs | OpusEs;
  lastDts: number;
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
  private readonly es = new Map<number, Es>();
  private readonly timeline: Timeline;
  private retired = 0;
  private readonly c: TsDemuxCounters = {
    packets: 0, resyncs: 0, skippedBytes: 0, ccErrors: 0, duplicates: 0, transportErrors: 0, scrambled: 0, unknownPidPackets: 0,
    psiCrcErrors: 0, psiSyntaxErrors: 0, pes: 0, droppedPes: 0, droppedUnits: 0, timestampFixes: 0, timestampJumps: 0, units: 0,
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
    for (const [pid, es] of this.es) this.completed(pid, es, es.pes.finish());
  }

  /** A snapshot of the counters. */
  counters(): TsDemuxCounters {
    let dropped = this.retired;
    for (const es of this.es.values()) dropped += droppedOf(es.reader);
    return { ...this.c, resyncs: this.reader.resyncs, skippedBytes: this.reader.skippedBytes, droppedUnits: dropped, timestampJumps: this.timeline.jumps };
  }

  /** Bytes held right now: split packets, sections and PES in progress, partial audio frames. */
  pendingBytes(): number {
    let n = this.reader.pendingBytes + this.pat.pendingBytes + (this.pmt?.pendingBytes ?? 0);
    for (const es of this.es.values()) n += es.pes.pendingBytes + (es.reader instanceof AacEs ? es.reader.pendingBytes : 0);
    return n;
  }

  private warn(code: TsWarningCode, pid: number): void {
    this.handlers.warning?.({ code, pid });
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
    if (p.pid === PID.PAT) {
      this.patCc = this.section(p, this.patCc, this.pat, payload, (s) => this.onPat(s));
    } else if (p.pid === this.pmtPid && this.pmt !== null) {
      const pmt = this.pmt;
      this.pmtCc = this.section(p, this.pmtCc, pmt, payload, (s) => this.onPmt(s));
    } else {
      const es = this.es.get(p.pid);
      if (es === undefined) {
        if (p.pid !== this.pcrPid) this.c.unknownPidPackets++;
        return;
      }
      this.esPacket(p, es, payload);
    }
  }

  /**
   * Continuity check (§2.4.3.3): the counter advances only on packets with payload; one repeat of
   * the previous packet is a duplicate (dropped, 'dup'); anything else is an error unless the
   * discontinuity_indicator is set.
   */
  private continuity(p: TsPacket, last: number, wasDup: boolean): 'ok' | 'dup' | 'error' {
    if (!p.hasPayload || last < 0 || p.discontinuity) return 'ok';
    if (p.cc === last && !wasDup) {
      this.c.duplicates++;
      return 'dup';
    }
    if (p.cc === ((last + 1) & 0x0f)) return 'ok';
    this.c.ccErrors++;
    this.warn('cc-error', p.pid);
    return 'error';
  }

  private section(p: TsPacket, cc: number, asm: SectionAssembler, payload: Buffer, onSection: (s: Buffer) => void): number {
    const state = this.continuity(p, cc, false);
    if (state === 'dup') return cc;
    if (state === 'error') asm.reset();
    if (p.hasPayload) asm.push(payload, p.pusi, onSection);
    return p.hasPayload ? p.cc : cc;
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
    for (const [pid, es] of this.es) {
      const next = keep.get(pid);
      if (next === undefined || next.codec !== es.stream.codec || next.opusChannelConfig !== es.stream.opusChannelConfig) {
        this.retired += droppedOf(es.reader);
        this.es.delete(pid);
      }
    }
    for (const [pid, x] of keep) {
      if (this.es.has(pid)) continue;
      const reader = x.codec === 'aac' ? new AacEs() : x.codec === 'opus' ? new OpusEs(x.opusChannelConfig!) : new VideoEs(x.codec as 'avc' | 'hevc');
      this.es.set(pid, { stream: x, cc: -1, dup: false, pes: new PesAssembler(this.opts.maxPesBytes), reader, lastDts: -Infinity });
    }
    this.program = pmt;
    this.handlers.program?.(pmt);
  }

  private esPacket(p: TsPacket, es: Es, payload: Buffer): void {
    const state = this.continuity(p, es.cc, es.dup);
    es.dup = state === 'dup';
    if (state === 'dup') return;
    if (p.hasPayload) es.cc = p.cc;
    if (state === 'error') {
      if (es.pes.inProgress) {
        es.pes.discard();
        this.dropPes('pes-truncated', p.pid);
      }
      if (es.reader instanceof AacEs) es.reader.reset();
    }
    if (!p.hasPayload || payload.length === 0) return;
    const r = es.pes.push(payload, p.pusi, (ended) => this.completed(p.pid, es, ended));
    this.completed(p.pid, es, r);
    this.enforceLimit(p.pid);
  }

  /**
   * Keep the bytes held within maxPendingBytes: drop the PES that just grew, then the others, then
   * partial audio frames and sections. A split packet (≤ 3 × 188 bytes) always fits the minimum limit.
   */
  private enforceLimit(pid: number): void {
    const max = this.opts.maxPendingBytes;
    if (this.pendingBytes() <= max) return;
    const order = [...this.es].sort(([a], [b]) => (a === pid ? -1 : b === pid ? 1 : 0));
    for (const [p, es] of order) {
      if (!es.pes.inProgress) continue;
      es.pes.discard();
      this.dropPes('pending-limit', p);
      if (this.pendingBytes() <= max) return;
    }
    for (const es of this.es.values()) if (es.reader instanceof AacEs) es.reader.reset();
    this.pat.reset();
    this.pmt?.reset();
  }

  private dropPes(code: TsWarningCode, pid: number): void {
    this.c.droppedPes++;
    this.warn(code, pid);
  }

  private completed(pid: number, es: Es, r: PesPush): void {
    if (r === null) return;
    if ('dropped' in r) return this.dropPes(r.dropped === 'too-large' ? 'pes-too-large' : 'pes-truncated', pid);
    const pes = parsePes(r.done);
    if (pes === null) return this.dropPes('pes-malformed', pid);
    this.c.pes++;
    const jumps = this.timeline.jumps;
    let dts: number | null = null;
    let pts: number | null = null;
    if (pes.pts !== null) {
      dts = this.timeline.ticks(pes.dts ?? pes.pts);
      pts = pes.dts === null ? dts : Math.max(dts, this.timeline.ticks(pes.pts));
    }
    if (this.timeline.jumps !== jumps) this.warn('timestamp-jump', pid);
    const floor = Math.max(0, es.lastDts * 90);
    if (dts !== null && dts < floor) {
      this.c.timestampFixes++;
      pts = Math.max(pts!, floor);
      dts = floor;
    }
    const out: MediaUnit[] = [];
    if (es.reader instanceof VideoEs) {
      if (dts === null) return this.dropPes('pes-malformed', pid); // a video PES must carry its time
      es.reader.push(pes.payload, dts / 90, pts! / 90, out);
    } else es.reader.push(pes.payload, dts, out);
    for (const u of out) {
      if (u.dts < es.lastDts && u.kind === 'audio') {
        this.c.timestampFixes++; // audio times carry nothing in the body: safe to raise
        u.dts = u.pts = es.lastDts;
      }
      if (u.dts > es.lastDts) es.lastDts = u.dts;
      this.c.units++;
      this.handlers.unit(u);
    }
  }
}

function droppedOf(r: VideoEs | AacEs | OpusEs): number {
  return r instanceof VideoEs ? r.droppedBeforeKeyframe + r.badParameterSets : r instanceof AacEs ? r.droppedFrames : r.malformed;
}
