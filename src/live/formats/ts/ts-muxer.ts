/**
 * MediaUnits → MPEG-TS (ISO/IEC 13818-1), for SRT playback and TS pushes. One program: PAT and PMT
 * (§2.4.4.3, §2.4.4.8) first, again every `psiIntervalMs` and in front of every video keyframe, so
 * a receiver joining anywhere starts at a keyframe within one GOP; a new PMT version when a track or
 * codec appears or changes. Video PES (stream_id 0xE0) carry one Annex B access unit: an access unit
 * delimiter (H.264 §7.3.2.4 / H.265 §7.3.2.5, as ETSI TS 101 154 asks for) and, on keyframes, the
 * parameter sets from the configuration record, then the AVCC/HVCC NAL units with start codes.
 * Audio PES carry one frame: AAC with an ADTS header (stream_id 0xC0), Opus with its control header
 * (private_stream_1 0xBD; start_trim = OpusHead pre-skip on the first packet).
 *
 * Timing: PTS/DTS are the units' ms × 90, so a TS → TS path keeps every tick. The PCR (27 MHz, on
 * the video PID, or the audio PID without video) runs `pcrDelayMs` behind the DTS being written —
 * the room a receiver's buffer model needs (§2.4.2) — on every video PES, and in a PCR-only packet
 * when an audio unit comes `pcrIntervalMs` or more after the last one, so gaps stay within the
 * 100 ms of §2.7.2 (near the 40 ms ETSI TR 101 290 checks while audio flows); a stream that starts before `pcrDelayMs` is
 * shifted later by the difference so no PCR is negative.
 *
 * Output: `push` returns the bytes of the unit (with any PSI/PCR packets before it) as Buffers of
 * `packetsPerChunk` × 188 bytes (default 7: one SRT datagram), the last one possibly shorter. Nothing
 * is held back between calls, so no unit waits for the next one to fill a chunk.
 */
import { fail } from '../../../errors.js';
import type { LiveCodec, MediaUnit } from '../../stream/media-unit.js';
import { adtsHeader, ascToAdts, type AdtsConfig } from '../audio/adts.js';
import { START_CODE_4, avcType, hevcType, AVC_NAL, HEVC_NAL, parseAvcConfig, parseHevcConfig, splitLengthPrefixed } from '../video/nal.js';
import { opusConfigForHead, opusControlHeader } from './opus-es.js';
import { PACKETS_PER_DATAGRAM } from './packet.js';
import { Packetizer } from './packetizer.js';
import { STREAM_ID, pesHeader } from './pes.js';
import { buildPat, buildPmt, type PmtEntry, type TsCodec } from './psi-tables.js';

export interface TsMuxerOptions {
  /** Packets per output Buffer (default 7 = 1316 bytes, one SRT/UDP datagram). */
  packetsPerChunk?: number;
  /** PAT/PMT repetition (default 100 ms); they also precede every video keyframe. */
  psiIntervalMs?: number;
  /** How far the PCR runs behind the DTS (default 200 ms). */
  pcrDelayMs?: number;
  /** An audio unit this long after the last PCR adds a PCR-only packet (default 40 ms). */
  pcrIntervalMs?: number;
  pmtPid?: number;
  videoPid?: number;
  audioPid?: number;
  programNumber?: number;
  transportStreamId?: number;
}

/** True when the muxer carries units of `codec`. */
export function tsCanCarry(codec: LiveCodec): codec is TsCodec {
  return codec === 'avc' || codec === 'hevc' || codec === 'aac' || codec === 'opus';
}

interface VideoTrack {
  codec: 'avc' | 'hevc';
  lengthSize: number;
  /** AUD + parameter sets, each with a start code: what precedes a keyframe. */
  keyPrefix: Buffer[];
}

interface AudioTrack {
  codec: 'aac' | 'opus';
  adts?: AdtsConfig;
  opusChannelConfig?: number;
  preSkip: number;
  sentFirst: boolean;
}

const AUD = { avc: Buffer.from([0, 0, 0, 1, 0x09, 0xf0]), hevc: Buffer.from([0, 0, 0, 1, 0x46, 0x01, 0x50]) };

export class TsMuxer {
  private readonly o: Required<TsMuxerOptions>;
  private readonly pk: Packetizer;
  private video: VideoTrack | null = null;
  private audio: AudioTrack | null = null;
  private pmtVersion = 0;
  private entries: PmtEntry[] = [];
  private entriesKey = '[]';
  private pmtChanged = false;
  private lastPsiMs = -Infinity;
  private lastPcrMs = -Infinity;
  private lastPcr = -Infinity;
  /** Ticks added to every timestamp (set by the first media unit). */
  private shift: number | null = null;
  /** Media units dropped: no configuration yet, or a payload that is not length-prefixed NAL units. */
  droppedUnits = 0;

  constructor(options: TsMuxerOptions = {}) {
    this.o = {
      packetsPerChunk: PACKETS_PER_DATAGRAM, psiIntervalMs: 100, pcrDelayMs: 200, pcrIntervalMs: 40,
      pmtPid: 0x1000, videoPid: 0x100, audioPid: 0x101, programNumber: 1, transportStreamId: 1, ...options,
    };
    if (!Number.isInteger(this.o.packetsPerChunk) || this.o.packetsPerChunk < 1) throw fail('BAD_REQUEST', `packetsPerChunk must be a positive integer, not ${this.o.packetsPerChunk}`);
    this.pk = new Packetizer(this.o.packetsPerChunk);
  }

  /** Packets written so far. */
  get packets(): number {
    return this.pk.packets;
  }

  /** Mux one unit; returns the TS bytes it produced (configuration and script units produce none). */
  push(u: MediaUnit): Buffer[] {
    if (u.kind === 'data') return [];
    if (!tsCanCarry(u.codec)) throw fail('BAD_REQUEST', `codec ${u.codec} cannot be carried in MPEG-TS`);
    if (u.config) {
      if (u.kind === 'video') this.configureVideo(u);
      else this.configureAudio(u);
      return [];
    }
    const dtsTicks = this.ticks(u.dts);
    if (u.kind === 'video') this.writeVideo(u, dtsTicks);
    else this.writeAudio(u, dtsTicks);
    return this.pk.take();
  }

  private configureVideo(u: MediaUnit): void {
    const codec = u.codec as 'avc' | 'hevc';
    const rec = codec === 'avc' ? parseAvcConfig(u.payload) : parseHevcConfig(u.payload);
    if (rec === null) throw fail('BAD_REQUEST', `${codec} decoder configuration record is malformed (${u.payload.length} bytes)`);
    const prefix: Buffer[] = [AUD[codec]];
    for (const n of rec.nalus) prefix.push(START_CODE_4, n);
    this.video = { codec, lengthSize: rec.lengthSize, keyPrefix: prefix.map((b) => Buffer.from(b)) };
    this.updateEntries();
  }

  private configureAudio(u: MediaUnit): void {
    if (u.codec === 'aac') {
      const adts = ascToAdts(u.payload);
      if (adts === null) throw fail('BAD_REQUEST', `AudioSpecificConfig ${u.payload.toString('hex')} cannot be expressed in ADTS`);
      this.audio = { codec: 'aac', adts, preSkip: 0, sentFirst: false };
    } else {
      const code = opusConfigForHead(u.payload);
      if (code === null) throw fail('BAD_REQUEST', 'Opus channel layout cannot be signalled in MPEG-TS (1–8 channels, mapping family 0/1)');
      this.audio = { codec: 'opus', opusChannelConfig: code, preSkip: u.payload.readUInt16LE(10), sentFirst: false };
    }
    this.updateEntries();
  }

  /** The PMT's streams from the configurations in force; a change is sent with the next unit. */
  private updateEntries(): void {
    const entries: PmtEntry[] = [];
    if (this.video) entries.push({ pid: this.o.videoPid, codec: this.video.codec });
    if (this.audio) entries.push({ pid: this.o.audioPid, codec: this.audio.codec, opusChannelConfig: this.audio.opusChannelConfig });
    const key = JSON.stringify(entries);
    if (key === this.entriesKey) return;
    this.entries = entries;
    this.entriesKey = key;
    this.pmtChanged = true;
  }

  /** Timestamp in 90 kHz ticks; the first unit fixes the shift that keeps PCRs non-negative. */
  private ticks(ms: number): number {
    const t = Math.round(ms * 90);
    this.shift ??= Math.max(0, this.o.pcrDelayMs * 90 - t);
    return t + this.shift;
  }

  /** PAT + PMT when due (start, interval, keyframe) or changed (a new version_number, §2.4.4.9). */
  private psi(ms: number, keyframe: boolean): void {
    if (!this.pmtChanged && !keyframe && ms - this.lastPsiMs < this.o.psiIntervalMs) return;
    if (this.pmtChanged && this.lastPsiMs !== -Infinity) this.pmtVersion = (this.pmtVersion + 1) & 0x1f;
    this.pmtChanged = false;
    this.lastPsiMs = ms;
    this.pk.section(0, buildPat(this.o.transportStreamId, this.o.programNumber, this.o.pmtPid, 0));
    this.pk.section(this.o.pmtPid, buildPmt(this.o.programNumber, this.pcrPid(), this.entries, this.pmtVersion));
  }

  private pcrPid(): number {
    return this.video ? this.o.videoPid : this.o.audioPid;
  }

  /** The PCR base for a PES with this DTS, never going backwards. */
  private pcrFor(dtsTicks: number, ms: number): number {
    this.lastPcr = Math.max(this.lastPcr, dtsTicks - this.o.pcrDelayMs * 90);
    this.lastPcrMs = ms;
    return this.lastPcr;
  }

  private writeVideo(u: MediaUnit, dts: number): void {
    const v = this.video;
    const nalus = v && v.codec === u.codec ? splitLengthPrefixed(u.payload, v.lengthSize) : null;
    if (v === null || nalus === null) {
      this.droppedUnits++;
      return;
    }
    this.psi(u.dts, u.keyframe);
    const parts: Buffer[] = [Buffer.alloc(0)];
    if (u.keyframe) parts.push(...v.keyPrefix);
    else parts.push(AUD[v.codec]);
    for (const n of nalus) {
      const t = v.codec === 'avc' ? avcType(n) : hevcType(n);
      if (v.codec === 'avc' ? t === AVC_NAL.AUD : t === HEVC_NAL.AUD) continue; // ours comes first
      parts.push(START_CODE_4, n);
    }
    let size = 0;
    for (let i = 1; i < parts.length; i++) size += parts[i]!.length;
    const pts = dts + Math.round((u.pts - u.dts) * 90);
    parts[0] = pesHeader(STREAM_ID.VIDEO, size, pts, dts);
    this.pk.pes(this.o.videoPid, parts, this.pcrFor(dts, u.dts), u.keyframe);
  }

  private writeAudio(u: MediaUnit, dts: number): void {
    const a = this.audio;
    if (a === null || a.codec !== u.codec) {
      this.droppedUnits++;
      return;
    }
    this.psi(u.dts, false);
    let head: Buffer;
    if (a.codec === 'aac') {
      if (u.payload.length + 7 > 0x1fff) {
        this.droppedUnits++; // larger than an ADTS frame can say
        return;
      }
      head = adtsHeader(a.adts!, u.payload.length);
    } else head = opusControlHeader(u.payload.length, a.sentFirst ? 0 : a.preSkip);
    a.sentFirst = true;
    const pes = pesHeader(a.codec === 'aac' ? STREAM_ID.AUDIO : STREAM_ID.PRIVATE_1, head.length + u.payload.length, dts, null);
    const pcrHere = this.video === null;
    if (!pcrHere && u.dts - this.lastPcrMs >= this.o.pcrIntervalMs) this.pk.pcrOnly(this.o.videoPid, this.pcrFor(dts, u.dts));
    this.pk.pes(this.o.audioPid, [pes, head, u.payload], pcrHere ? this.pcrFor(dts, u.dts) : null, false);
  }
}
