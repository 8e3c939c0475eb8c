/**
 * The tracks of an RTSP publisher, from its ANNOUNCE SDP: each turns depacketized RTP into hub
 * MediaUnits. H.264 (`sprop-parameter-sets`, RFC 6184 §8.1) and H.265 (`sprop-vps/sps/pps`,
 * RFC 7798 §7.1) parameter sets from the SDP give the first sequence header; in-band ones replace
 * it when they change. AAC comes as `mpeg4-generic` with its AudioSpecificConfig in `config`
 * (RFC 3640 §4.1), Opus with a synthesized OpusHead (RFC 7587 §7: `OPUS/48000/2` always, the
 * channel count is the encoder's business). Video decode times come from DtsEstimator (RTP
 * carries presentation times only).
 */
import { aacConfigUnit, aacUnit, avcConfigUnit, avcDecoderConfig, avcUnit, opusConfigUnit, opusHead, opusUnit } from '../formats/flv/unit-builders.js';
import { sameNalus } from '../formats/video/nal.js';
import { hevcConfigUnit, hevcDecoderConfig, hevcSpsInfo, hevcUnit } from '../formats/ts/hevc.js';
import { AAC_HBR, AacDepacketizer } from '../rtp/aac-rtp.js';
import { DtsEstimator } from '../rtp/dts-estimator.js';
import { H264Depacketizer } from '../rtp/h264-depacketizer.js';
import { spsSize } from '../rtp/h264-sps.js';
import { H265Depacketizer } from '../rtp/h265-rtp.js';
import type { NalDepacketizer } from '../rtp/nal-depacketizer.js';
import type { RtpPacket } from '../rtp/rtp-packet.js';
import type { MediaUnit } from '../stream/media-unit.js';
import type { SdpMedia } from './sdp.js';

/** What a track hands to its session: units, and the picture size when the SPS tells it. */
export interface TrackOutput {
  unit(u: MediaUnit): void;
  size(width: number, height: number): void;
}

/** One incoming track. */
export interface IngestTrack {
  readonly kind: 'video' | 'audio';
  readonly codec: string;
  readonly clockRate: number;
  /** Frames (or packets) dropped as lost or malformed. */
  dropped(): number;
  /** One RTP packet (in sequence order) and its time on the session timeline in ms. */
  push(p: RtpPacket, ms: number, out: TrackOutput): void;
  /** The sender restarted (a new SSRC): its sequence numbers start anywhere. */
  restart?(): void;
  /** Frames dropped for growing past the track's frame size limit. */
  oversized?(): number;
}

/** The track for one SDP media section, or null when its codec is not supported (its packets are ignored). */
export function ingestTrack(m: SdpMedia, maxFrameBytes: number): IngestTrack | null {
  if (m.kind === 'video' && m.encoding === 'H264') return new NalTrack('avc', new H264Depacketizer(maxFrameBytes), h264Sprop(m));
  if (m.kind === 'video' && m.encoding === 'H265') return new NalTrack('hevc', new H265Depacketizer(maxFrameBytes), ['sprop-vps', 'sprop-sps', 'sprop-pps'].flatMap((k) => base64List(m.fmtp.get(k))));
  if (m.kind === 'audio' && m.encoding === 'MPEG4-GENERIC') {
    const mode = (m.fmtp.get('mode') ?? '').toLowerCase();
    const asc = Buffer.from(m.fmtp.get('config') ?? '', 'hex');
    if ((mode !== 'aac-hbr' && mode !== 'aac-lbr') || asc.length < 2) return null;
    const num = (k: string, d: number) => Number(m.fmtp.get(k) ?? d) || d;
    return new AacTrack(m.clockRate, asc, new AacDepacketizer({ sizeLength: num('sizelength', AAC_HBR.sizeLength), indexLength: num('indexlength', AAC_HBR.indexLength), indexDeltaLength: num('indexdeltalength', AAC_HBR.indexDeltaLength) }));
  }
  if (m.kind === 'audio' && m.encoding === 'OPUS') return new OpusTrack(m.fmtp.get('sprop-stereo') === '0' ? 1 : 2);
  return null;
}

function base64List(v: string | undefined): Buffer[] {
  return (v ?? '').split(',').filter((s) => s !== '').map((s) => Buffer.from(s, 'base64')).filter((b) => b.length > 0);
}

function h264Sprop(m: SdpMedia): Buffer[] {
  return base64List(m.fmtp.get('sprop-parameter-sets'));
}

/** H.264 / H.265: access units → AVCC/HVCC units, parameter sets → sequence headers. */
class NalTrack implements IngestTrack {
  readonly kind = 'video';
  readonly clockRate = 90000;
  private params: Buffer[] = [];
  private configured = false;
  private readonly dts = new DtsEstimator();

  constructor(readonly codec: 'avc' | 'hevc', private readonly depack: NalDepacketizer, sprop: Buffer[]) {
    this.params = sprop;
  }

  dropped(): number {
    return this.depack.dropped;
  }

  restart(): void {
    this.depack.restart();
  }

  oversized(): number {
    return this.depack.oversized;
  }

  push(p: RtpPacket, ms: number, out: TrackOutput): void {
    for (const au of this.depack.push(p.sequenceNumber, p.timestamp, p.marker, p.payload)) {
      const t = this.dts.next(ms + (((au.timestamp - p.timestamp) | 0) * 1000) / this.clockRate); // an AU ended by a timestamp change is the previous packet's
      const params = au.nalus.filter((n) => this.isParam(n));
      if (params.length > 0 && !sameNalus(params, this.params)) {
        this.params = params.map((n) => Buffer.from(n));
        this.configured = false;
      }
      if (!this.configured && !this.configure(t.dts, out)) continue; // nothing decodes before the parameter sets
      const frame = au.nalus.filter((n) => !this.isParam(n) && !this.isAud(n));
      if (frame.length === 0) continue;
      out.unit(this.codec === 'avc' ? avcUnit(frame, t.dts, t.pts, au.keyframe) : hevcUnit(frame, t.dts, t.pts, au.keyframe));
    }
  }

  private type(n: Buffer): number {
    return this.codec === 'avc' ? n[0]! & 0x1f : (n[0]! >> 1) & 0x3f;
  }

  private isParam(n: Buffer): boolean {
    const t = this.type(n);
    return this.codec === 'avc' ? t === 7 || t === 8 : t >= 32 && t <= 34;
  }

  private isAud(n: Buffer): boolean {
    return this.type(n) === (this.codec === 'avc' ? 9 : 35);
  }

  private configure(dts: number, out: TrackOutput): boolean {
    const of = (t: number) => this.params.filter((n) => this.type(n) === t);
    if (this.codec === 'avc') {
      const [sps] = of(7);
      const pps = of(8);
      if (sps === undefined || pps.length === 0) return false;
      const size = spsSize(sps);
      if (size) out.size(size.width, size.height);
      out.unit(avcConfigUnit(avcDecoderConfig(sps, pps), dts));
    } else {
      const record = hevcDecoderConfig(of(32), of(33), of(34));
      if (record === null || of(32).length === 0 || of(34).length === 0) return false;
      const info = hevcSpsInfo(of(33)[0]!);
      if (info) out.size(info.width, info.height);
      out.unit(hevcConfigUnit(record, dts));
    }
    this.configured = true;
    return true;
  }
}

/** AAC (`mpeg4-generic`): one unit per access unit. */
class AacTrack implements IngestTrack {
  readonly kind = 'audio';
  readonly codec = 'aac';
  private started = false;

  constructor(readonly clockRate: number, private readonly asc: Buffer, private readonly depack: AacDepacketizer) {}

  dropped(): number {
    return this.depack.dropped;
  }

  push(p: RtpPacket, ms: number, out: TrackOutput): void {
    for (const f of this.depack.push(p.sequenceNumber, p.timestamp, p.marker, p.payload)) {
      const dts = ms + (((f.timestamp - p.timestamp) | 0) * 1000) / this.clockRate; // later AUs of an aggregated packet
      if (!this.started) {
        this.started = true;
        out.unit(aacConfigUnit(this.asc, dts));
      }
      out.unit(aacUnit(f.frame, dts)); // aacUnit copies the frame out of the packet
    }
  }
}

/** Opus: one packet per RTP payload (RFC 7587 §4.2). */
class OpusTrack implements IngestTrack {
  readonly kind = 'audio';
  readonly codec = 'opus';
  readonly clockRate = 48000;
  private started = false;

  constructor(private readonly channels: number) {}

  dropped(): number {
    return 0;
  }

  push(p: RtpPacket, ms: number, out: TrackOutput): void {
    if (p.payload.length === 0) return;
    if (!this.started) {
      this.started = true;
      out.unit(opusConfigUnit(opusHead(this.channels), ms));
    }
    out.unit(opusUnit(p.payload, ms));
  }
}
