/**
 * A WHEP playback session (draft-ietf-wish-whep): one viewer's peer connection with a send-only
 * H.264 and/or Opus transceiver per m-line the client offered. It joins its stream's shared
 * `WhepFanout` once ICE/DTLS is connected and sends the fan-out's shared payloads under its own RTP
 * headers (sequence numbers, timestamp offset). RTCP from the viewer: NACKs are answered by
 * werift's sender history (counted), PLIs go to the fan-out (→ publisher keyframe when possible).
 */
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { MediaStreamTrack, RtpHeader, RtpPacket, type RTCPeerConnection, type RTCRtpSender } from 'werift';
import type { Config } from '../../config.js';
import { WebRtcSession } from './sdp-resource.js';
import type { FanoutViewer, OutPacket, WhepFanout } from './whep-playback.js';
import type { WebRtcMetrics } from './webrtc-metrics.js';

interface Out {
  sender: RTCRtpSender;
  seq: number;
  tsOffset: number;
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
      const out: Out = { sender: t.sender, seq: randomInt(0, 0x10000), tsOffset: randomInt(0, 0x7fffffff) };
      if (t.kind === 'video' && this.video === null) {
        this.video = out;
        t.sender.onPictureLossIndication.subscribe(() => {
          this.metrics.stats.plisReceived++;
          this.fanout?.requestKeyframe();
        });
        t.sender.onGenericNack.subscribe(() => this.metrics.stats.nacksReceived++);
      } else if (t.kind === 'audio' && this.audio === null) this.audio = out;
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
    const header = new RtpHeader({ sequenceNumber: out.seq, timestamp: (p.ts + out.tsOffset) >>> 0, marker: p.marker, payloadType: 0, ssrc: 0 });
    out.sender.sendRtp(new RtpPacket(header, p.payload)).catch((err: unknown) => this.log.debug({ err }, 'rtp send failed'));
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
