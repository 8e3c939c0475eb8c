/**
 * A WHIP ingest session (RFC 9725) as a live-stream Publisher: RTP from the publisher's peer
 * connection becomes MediaUnits in the stream hub, so a WHIP stream is served by every output
 * (HTTP-FLV, RTMP play, LL-HLS, WHEP) like an RTMP one, with the same publish.start/stop events.
 *
 * Video: H.264 access units from `H264Depacketizer` → SPS/PPS become an AVC sequence header unit
 * (again when they change), frames go as AVCC without SPS/PPS/AUD; keyframe = IDR present. After a
 * lost packet the packets behind it wait in a reorder buffer for the retransmission a NACK asks
 * for (RFC 4585 §6.2.1; RTX is unwrapped by werift), asked again every round trip, and receiver
 * reports count repaired packets as received (IngestFeedback). The wait is three and a half measured
 * round trips — three requests — and at most `webrtc.ingestRepairWaitMs`, so a loss costs a round
 * trip of delay instead of a frozen picture; a gap not filled in time makes the depacketizer drop
 * frames until an IDR, and a PLI asks the publisher for one.
 * Browsers send keyframes only when asked, so a PLI also goes out when none came for
 * `webrtc.keyframeIntervalMs`: LL-HLS cuts segments at keyframes and viewers join at one.
 * Audio: one Opus packet per RTP packet, after an OpusHead sequence header.
 * Timeline: RTP timestamps (90 kHz / 48 kHz) are unwrapped per track and placed on one ms timeline
 * by aligning each track's first packet with its arrival time since the session started. werift
 * 0.24 does not expose the RTCP SR NTP↔RTP mapping per track, so lip-sync is as good as the two
 * first packets' arrival skew (on a LAN: a few ms).
 */
import type { Logger } from 'pino';
import type { MediaStreamTrack, RTCPeerConnection, RtpPacket as WeriftRtpPacket } from 'werift';
import type { Config } from '../../config.js';
import { avcConfigUnit, avcDecoderConfig, avcUnit, opusConfigUnit, opusHead, opusUnit } from '../formats/flv/unit-builders.js';
import type { LiveStream, Publisher } from '../stream/stream.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import { H264Depacketizer } from '../rtp/h264-depacketizer.js';
import { ReorderBuffer } from '../rtp/reorder-buffer.js';
import type { RtpPacket } from '../rtp/rtp-packet.js';
import { spsSize } from '../rtp/h264-sps.js';
import { RtpClock } from '../rtp/rtp-clock.js';
import { IngestFeedback, RepairedAsReceived } from './ingest-feedback.js';
import { WebRtcSession } from './sdp-resource.js';
import type { WebRtcMetrics } from './webrtc-metrics.js';

/** What the depacketizer needs of a video RTP packet. */
type VideoPacket = Pick<RtpPacket, 'sequenceNumber' | 'timestamp' | 'marker' | 'payload'>;

/** Keyframe requests to the publisher are spaced at least this far apart. */
const PLI_MIN_INTERVAL_MS = 500;
/** Video packets held behind a gap at most (a 1080p keyframe is ~300 packets; the wait bounds it first). */
const REPAIR_MAX_PACKETS = 1024;

/** One WHIP publisher. */
export class WhipPublisher extends WebRtcSession implements Publisher {
  readonly remote: string;
  private stream: LiveStream | null = null;
  /** A backup publisher (`POST /whip?backup=1`); set before `publish`. */
  backup = false;
  /** Picture size learnt from the SPS (the stream's metadata for this publisher). */
  private readonly meta: Record<string, unknown> = {};
  private readonly depack: H264Depacketizer;
  private readonly reorder: ReorderBuffer<VideoPacket>;
  private feedback: IngestFeedback | null = null;
  private sps: Buffer | null = null;
  private pps: Buffer | null = null;
  private audioStarted = false;
  private lastVideoMs = -1;
  private lastAudioMs = -1;
  private lastPli = 0;
  private videoTrack: MediaStreamTrack | null = null;
  private lastKeyframe = 0;
  private keyTimer: NodeJS.Timeout | null = null;
  private readonly clocks: { video: RtpClock; audio: RtpClock };

  constructor(streamId: string, remote: string, pc: RTCPeerConnection, private readonly registry: StreamRegistry, cfg: Config['webrtc'], metrics: WebRtcMetrics, log: Logger, onEnded: (s: WebRtcSession) => void) {
    super('whip', streamId, pc, cfg, metrics, log, onEnded);
    this.remote = remote;
    this.depack = new H264Depacketizer(cfg.maxFrameBytes);
    this.reorder = new ReorderBuffer(cfg.ingestRepairWaitMs > 0 ? REPAIR_MAX_PACKETS : 0, cfg.ingestRepairWaitMs);
    this.clocks = { video: new RtpClock(90000, this.createdAt), audio: new RtpClock(48000, this.createdAt) };
    pc.onTrack.subscribe((track) => {
      const receiver = pc.getTransceivers().find((t) => t.receiver.tracks.includes(track))?.receiver;
      if (track.kind === 'video') {
        this.videoTrack = track;
        if (receiver && cfg.ingestRepairWaitMs > 0) {
          this.feedback = new IngestFeedback(receiver, track, cfg.ingestRepairWaitMs, (n) => (metrics.stats.ingestNackRequests += n), (err) => this.log.debug({ err }, 'NACK not sent'));
          this.reorder.maxWaitMs = this.feedback.repairWaitMs;
        }
      } else if (receiver) {
        const reports = new RepairedAsReceived(receiver); // audio: RED-recovered packets count as received
        track.onReceiveRtp.subscribe((rtp) => reports.onDelivered(track.ssrc, rtp));
      }
      track.onReceiveRtp.subscribe((rtp) => this.onRtp(track.kind === 'video', rtp));
    });
  }

  /** Attach to the hub (`registry.startPublish` may throw LIVE_PUBLISHER_ACTIVE). */
  publish(): void {
    this.stream = this.registry.startPublish(this.streamId, this);
  }

  /** Ask the publisher for a keyframe (RTCP PLI, RFC 4585 §6.3.1), at most every 500 ms. */
  requestKeyframe(): void {
    const now = Date.now();
    if (this.closed || now - this.lastPli < PLI_MIN_INTERVAL_MS) return;
    const ssrc = this.videoTrack?.ssrc;
    const receiver = this.pc.getTransceivers().find((t) => t.kind === 'video')?.receiver;
    if (ssrc === undefined || receiver === undefined) return;
    this.lastPli = now;
    this.metrics.stats.plisSent++;
    receiver.sendRtcpPLI(ssrc).catch((err: unknown) => this.log.debug({ err }, 'PLI not sent'));
  }

  protected onConnected(): void {
    this.requestKeyframe(); // Chromium's first frame is a keyframe anyway; other encoders may not start with one
    const every = this.cfg.keyframeIntervalMs;
    if (every > 0) {
      this.lastKeyframe = Date.now();
      this.keyTimer = setInterval(() => {
        if (Date.now() - this.lastKeyframe >= every) this.requestKeyframe();
      }, Math.max(100, every / 4));
      this.keyTimer.unref();
    }
  }

  protected onClose(reason: string): void {
    this.feedback?.close();
    if (this.keyTimer) clearInterval(this.keyTimer);
    this.keyTimer = null;
    if (this.stream) this.registry.stopPublish(this.stream, this, reason);
    this.stream = null;
  }

  private onRtp(video: boolean, rtp: WeriftRtpPacket): void {
    const stream = this.stream;
    if (stream === null || this.closed) return;
    const st = this.metrics.stats;
    st.packetsIn++;
    st.bytesIn += rtp.payload.length;
    if (!video) return this.onOpus(stream, rtp.payload, this.clocks.audio.toMs(rtp.header.timestamp));
    if (this.feedback) {
      this.feedback.onVideoPacket(rtp);
      this.reorder.maxWaitMs = this.feedback.repairWaitMs;
    }
    const { lost, reordered } = this.reorder.stats;
    const ready = this.reorder.push({ sequenceNumber: rtp.header.sequenceNumber, timestamp: rtp.header.timestamp, marker: rtp.header.marker, payload: rtp.payload });
    st.ingestGapsRepaired += this.reorder.stats.reordered - reordered;
    st.ingestPacketsLost += this.reorder.stats.lost - lost;
    for (const p of ready) this.onVideoPacket(stream, p);
  }

  /** A video packet in sequence order (gaps given up on are skipped): through the depacketizer. */
  private onVideoPacket(stream: LiveStream, p: VideoPacket): void {
    const st = this.metrics.stats;
    const dropped = this.depack.dropped;
    const aus = this.depack.push(p.sequenceNumber, p.timestamp, p.marker, p.payload);
    if (this.depack.dropped !== dropped) {
      st.framesDropped += this.depack.dropped - dropped;
      this.requestKeyframe();
    }
    const ms = this.clocks.video.toMs(p.timestamp);
    for (const au of aus) this.onAccessUnit(stream, au.nalus, au.keyframe, ms);
  }

  private onAccessUnit(stream: LiveStream, nalus: Buffer[], keyframe: boolean, ms: number): void {
    const sps = nalus.find((n) => (n[0]! & 0x1f) === 7);
    const pps = nalus.find((n) => (n[0]! & 0x1f) === 8);
    const dts = Math.max(Math.round(ms), this.lastVideoMs + 1);
    if (sps && pps && (!this.sps?.equals(sps) || !this.pps?.equals(pps))) {
      this.sps = Buffer.from(sps);
      this.pps = Buffer.from(pps);
      const size = spsSize(sps);
      if (size) stream.setMeta(Object.assign(this.meta, size), this);
      stream.push(avcConfigUnit(avcDecoderConfig(this.sps, [this.pps]), dts), sps.length + pps.length, this);
      this.log.debug({ ...size }, 'h264 parameter sets');
    }
    if (this.sps === null) {
      this.requestKeyframe(); // nothing is decodable before SPS/PPS
      return;
    }
    const frame = nalus.filter((n) => {
      const t = n[0]! & 0x1f;
      return t !== 7 && t !== 8 && t !== 9;
    });
    if (frame.length === 0) return;
    this.lastVideoMs = dts;
    if (keyframe) this.lastKeyframe = Date.now();
    const unit = avcUnit(frame, dts, dts, keyframe);
    stream.push(unit, unit.payload.length, this);
  }

  private onOpus(stream: LiveStream, packet: Buffer, ms: number): void {
    if (packet.length === 0) return;
    const dts = Math.max(Math.round(ms), this.lastAudioMs + 1);
    if (!this.audioStarted) {
      this.audioStarted = true;
      stream.push(opusConfigUnit(opusHead(2), dts), 19, this);
    }
    this.lastAudioMs = dts;
    stream.push(opusUnit(packet, dts), packet.length, this); // opusUnit copies: the unit never aliases werift's buffer
  }
}
