/**
 * A WHEP playback session (draft-ietf-wish-whep): one viewer's peer connection with a send-only
 * H.264 and/or Opus transceiver per m-line the client offered. It joins its stream's shared
 * `WhepFanout` once ICE/DTLS is connected and sends the fan-out's shared payloads under its own RTP
 * headers (sequence numbers, timestamp offset). RTCP from the viewer: NACKs are answered by
 * werift's sender history (its last 128 packets) and, for older packets, from the stream's shared
 * `NackCache`; PLIs and FIRs go to the fan-out (→ one publisher keyframe request per GOP when it can
 * be asked). Opus goes out as RED (RFC 2198, one redundant block) when negotiated, and video carries
 * the playout-delay extension when negotiated (`webrtc.playoutDelayMaxMs`).
 */
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { MediaStreamTrack, RtcpPayloadSpecificFeedback, RtpHeader, RtpPacket, type Extension, type RTCPeerConnection, type RTCRtpSender, type RtcpPacket } from 'werift';
import type { Config } from '../../config.js';
import { PLAYOUT_DELAY_URI } from './peer-factory.js';
import { WebRtcSession } from './sdp-resource.js';
import type { FanoutViewer, OutPacket, WhepFanout } from './whep-playback.js';
import type { WebRtcMetrics } from './webrtc-metrics.js';

interface Out {
  sender: RTCRtpSender;
  /** RTP sequence number of the last packet sent. */
  seq: number;
  /** Fan-out sequence number of that packet (`OutPacket.seq`): NACKed numbers map back through it. */
  fanoutSeq: number;
  tsOffset: number;
  /** Header extensions added to every packet (playout-delay). */
  extensions: Extension[];
}

/** Packets werift's RTCRtpSender keeps per viewer and resends on NACK itself (`RTP_HISTORY_SIZE`). */
const WERIFT_HISTORY = 128;
/** RTCP PSFB FMTs: PLI (RFC 4585 §6.3.1) and FIR (RFC 5104 §4.3.1); werift's sender signals only PLI. */
const PLI_FMT = 1;
const FIR_FMT = 4;

/** The playout-delay extension's 3 bytes: min and max delay, 12 bits each, in 10 ms units. */
function playoutDelay(minMs: number, maxMs: number): Buffer {
  const units = (ms: number) => Math.min(0xfff, Math.round(ms / 10));
  const v = (units(minMs) << 12) | units(maxMs);
  return Buffer.from([v >> 16, (v >> 8) & 0xff, v & 0xff]);
}

/** One WHEP viewer. */
export class WhepSession extends WebRtcSession implements FanoutViewer {
  private video: Out | null = null;
  private audio: Out | null = null;
  private fanout: WhepFanout | null = null;

  constructor(streamId: string, pc: RTCPeerConnection, private readonly join: (s: WhepSession) => WhepFanout, cfg: Config['webrtc'], metrics: WebRtcMetrics, log: Logger, onEnded: (s: WebRtcSession) => void) {
    super('whep', streamId, pc, cfg, metrics, log, onEnded);
  }

  /** Turn the offered transceivers into send-only ones (call after setRemoteDescription). */
  async attachSenders(): Promise<void> {
    for (const t of this.pc.getTransceivers()) {
      if (t.codecs.length === 0) continue;
      t.setDirection('sendonly');
      await t.sender.replaceTrack(new MediaStreamTrack({ kind: t.kind }));
      const out: Out = { sender: t.sender, seq: randomInt(0, 0x10000), fanoutSeq: -1, tsOffset: randomInt(0, 0x7fffffff), extensions: [] };
      if (t.kind === 'video' && this.video === null) {
        this.video = out;
        const delay = t.headerExtensions.find((e) => e.uri === PLAYOUT_DELAY_URI);
        if (delay !== undefined && this.cfg.playoutDelayMaxMs > 0) out.extensions.push({ id: delay.id, payload: playoutDelay(0, this.cfg.playoutDelayMaxMs) });
        t.sender.onPictureLossIndication.subscribe(() => {
          this.metrics.stats.plisReceived++;
          this.fanout?.requestKeyframe();
        });
        t.sender.onRtcp.subscribe((rtcp) => this.onPsfb(rtcp, false));
        // werift's router hands a PSFB to the receiver registered under its *sender* SSRC before the
        // sender it is about: a viewer whose recvonly offer declared that SSRC (werift, not Chromium)
        // would have its PLIs dropped there.
        for (const other of this.pc.getTransceivers()) other.receiver.onRtcp.subscribe((rtcp) => this.onPsfb(rtcp, true));
        t.sender.onGenericNack.subscribe((nack) => this.onNack(out, nack.lost));
      } else if (t.kind === 'audio' && this.audio === null) {
        this.audio = out;
        t.sender.redDistance = 1; // one redundant block (werift's default is 2): repairs single losses for +1x audio bitrate
      }
    }
  }

  /** True when at least one m-line can carry media. */
  get hasMedia(): boolean {
    return this.video !== null || this.audio !== null;
  }

  send(p: OutPacket): void {
    const out = p.video ? this.video : this.audio;
    if (out === null || this.closed) return;
    out.seq = (out.seq + 1) & 0xffff;
    out.fanoutSeq = p.seq;
    const header = new RtpHeader({ sequenceNumber: out.seq, timestamp: (p.ts + out.tsOffset) >>> 0, marker: p.marker, payloadType: 0, ssrc: 0, extensions: out.extensions });
    if (!p.video && out.sender.redRedundantPayloadType !== undefined) this.metrics.stats.redPackets++;
    out.sender.sendRtp(new RtpPacket(header, p.payload)).catch((err: unknown) => this.log.debug({ err }, 'rtp send failed'));
  }

  /** A FIR asks for a keyframe like a PLI; a PLI that werift routed to a receiver (`atReceiver`) too. */
  private onPsfb(rtcp: RtcpPacket, atReceiver: boolean): void {
    if (rtcp.type !== RtcpPayloadSpecificFeedback.type) return;
    const fmt = (rtcp as RtcpPayloadSpecificFeedback).feedback.count;
    if (fmt === FIR_FMT) this.metrics.stats.firsReceived++;
    else if (fmt === PLI_FMT && atReceiver) this.metrics.stats.plisReceived++;
    else return;
    this.fanout?.requestKeyframe();
  }

  /**
   * Generic NACK (RFC 4585 §6.2.1): werift has already resent what its last 128 packets hold;
   * older packets come from the stream's cache, resent under this viewer's header as a plain
   * retransmission on the media SSRC (RFC 4588 RTX would share werift's private RTX sequence space).
   */
  private onNack(out: Out, lost: number[]): void {
    const st = this.metrics.stats;
    st.nacksReceived++;
    const cache = this.fanout?.nack ?? null;
    for (const seq of lost) {
      const behind = (out.seq - seq) & 0xffff; // 0 = the last packet sent
      if (out.fanoutSeq < 0 || behind > out.fanoutSeq) st.nackPackets.miss++; // never sent (or before this viewer's first packet)
      else if (behind < WERIFT_HISTORY) st.nackPackets.history++;
      else {
        const p = cache?.get(out.fanoutSeq - behind);
        if (p === undefined) st.nackPackets.miss++;
        else {
          st.nackPackets.cache++;
          const codec = out.sender.codec;
          if (codec === undefined) continue;
          const header = new RtpHeader({ sequenceNumber: seq, timestamp: (p.ts + out.tsOffset) >>> 0, marker: p.marker, payloadType: codec.payloadType, ssrc: out.sender.ssrc });
          out.sender.dtlsTransport.sendRtp(p.payload, header).catch((err: unknown) => this.log.debug({ err }, 'retransmission not sent'));
        }
      }
    }
  }

  protected onConnected(): void {
    try {
      this.fanout = this.join(this);
    } catch (err) {
      this.close(`cannot join the stream: ${(err as Error).message}`);
    }
  }

  protected onClose(): void {
    this.fanout?.remove(this);
    this.fanout = null;
  }
}
