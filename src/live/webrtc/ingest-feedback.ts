/**
 * What Strom's receiver tells a WHIP publisher about its video, in place of two werift defaults
 * that made a lossy path worse than it is:
 *  - Retransmission requests come from NackRequester (one retry per round trip) instead of
 *    werift's handler, whose ten retries fall inside one RTT where a browser answers only one.
 *  - Receiver reports count a repaired packet as received: video repaired by an RTX retransmission
 *    (RFC 4588; libwebrtc's receiver counts those too, werift only on the RTX SSRC) and audio
 *    recovered from an RFC 2198 redundant block. Without transport-wide feedback the publisher's
 *    bandwidth estimate runs on these reports' loss, and Chromium's backs off above 10 %: at 10 %
 *    random loss each way (audio reported at 12 %, 50 packets/s) it fell to ~170 kbit/s and its
 *    encoder to ~6 frames/s although every packet was being repaired. Loss that repair does not
 *    cover — what congestion causes once it outgrows one redundant block or two NACK rounds —
 *    still shows and still slows the publisher.
 * Both reach into werift 0.24 internals (the receiver's `nack` handler and `remoteStreams`
 * statistics); the shapes relied on are declared below.
 */
import type { MediaStreamTrack, RTCRtpReceiver, RtpPacket } from 'werift';
import { GenericNack, RtcpTransportLayerFeedback } from 'werift';
import { NackRequester } from './nack-requester.js';

/** werift's receiver NACK handler; `addPacket` is what feeds it. */
interface WeriftNackHandler {
  addPacket(packet: RtpPacket): void;
}

/** werift's per-SSRC receive statistics (RFC 3550 §A.3), the source of its receiver reports. */
interface WeriftStreamStatistics {
  packets_received: number;
  add(packet: RtpPacket): void;
}

/** The werift receiver internals used here. */
interface WeriftReceiverInternals {
  nack: WeriftNackHandler;
  remoteStreams: Record<number, WeriftStreamStatistics | undefined>;
}

/** The repair wait never goes below this (a LAN's round trip is well under it). */
const MIN_REPAIR_WAIT_MS = 30;

/**
 * Counts every packet a track delivers exactly once in werift's statistics of its SSRC: a packet
 * werift did not count (unwrapped from RTX, or recovered from a RED block) is added, as a late one.
 */
export class RepairedAsReceived {
  /** The SSRC's received count after the last delivered packet (−1: none yet). */
  private counted = -1;

  constructor(private readonly receiver: RTCRtpReceiver) {}

  /** Note a packet the track delivered. */
  onDelivered(ssrc: number | undefined, rtp: RtpPacket): void {
    const stats = ssrc === undefined ? undefined : (this.receiver as unknown as WeriftReceiverInternals).remoteStreams[ssrc];
    if (stats === undefined) return;
    // werift counts a packet on arrival, before delivering it: an unmoved count means it was not counted.
    if (stats.packets_received === this.counted) stats.add(rtp);
    this.counted = stats.packets_received;
  }
}

/** Feedback to one WHIP publisher about its video track. */
export class IngestFeedback {
  private readonly nacks: NackRequester;
  private readonly reports: RepairedAsReceived;

  /** `onRequests` counts the packets asked for; `maxWaitMs` bounds the repair wait. */
  constructor(
    receiver: RTCRtpReceiver,
    private readonly track: MediaStreamTrack,
    private readonly maxWaitMs: number,
    onRequests: (packets: number) => void,
    onSendError: (err: unknown) => void,
  ) {
    this.reports = new RepairedAsReceived(receiver);
    (receiver as unknown as WeriftReceiverInternals).nack.addPacket = () => undefined; // werift's handler stays idle: no input, no timer
    this.nacks = new NackRequester((lost) => {
      const ssrc = track.ssrc;
      if (ssrc === undefined) return;
      onRequests(lost.length);
      const feedback = new GenericNack({ senderSsrc: receiver.rtcpSsrc, mediaSourceSsrc: ssrc, lost });
      receiver.dtlsTransport.sendRtcp([new RtcpTransportLayerFeedback({ feedback })]).catch(onSendError);
    }, () => this.repairWaitMs);
  }

  /**
   * How long packets behind a gap wait for its retransmission: 3.5 round trips (the request, two
   * retries a round trip apart, and the last one's answer), within [30 ms, `webrtc.ingestRepairWaitMs`].
   * On a path losing 10 % each way one request and its answer fail 19 % of the time; three leave
   * 0.7 % of the gaps to a keyframe.
   */
  get repairWaitMs(): number {
    return Math.min(this.maxWaitMs, Math.max(MIN_REPAIR_WAIT_MS, Math.round(this.nacks.rttMs * 3.5 + 20)));
  }

  /** Round trip learnt from retransmissions, ms. */
  get rttMs(): number {
    return this.nacks.rttMs;
  }

  /** Note a video packet as the track delivers it (a first transmission or an unwrapped retransmission). */
  onVideoPacket(rtp: RtpPacket): void {
    this.nacks.onPacket(rtp.header.sequenceNumber);
    this.reports.onDelivered(this.track.ssrc, rtp);
  }

  /** Stop asking (the session closed). */
  close(): void {
    this.nacks.close();
  }
}
