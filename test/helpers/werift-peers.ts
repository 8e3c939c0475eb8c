/**
 * werift peers for WebRTC integration tests: a WHEP viewer (recvonly H.264 with NACK/PLI) that
 * records the RTP sequence numbers it receives and can send RTCP NACK/PLI, and a WHIP publisher that
 * sends hand-made H.264 RTP (RFC 6184 single NAL units) and counts the PLIs it receives.
 */
import { GenericNack, MediaStreamTrack, PictureLossIndication, RtcpPayloadSpecificFeedback, RTCPeerConnection, RTCRtpCodecParameters, RtcpTransportLayerFeedback, RtpHeader, RtpPacket, useNACK, usePLI, type RTCRtpTransceiver } from 'werift';

const H264 = () => new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, rtcpFeedback: [useNACK(), usePLI()], parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' });

function peer(): RTCPeerConnection {
  return new RTCPeerConnection({ codecs: { video: [H264()] }, iceServers: [], iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false });
}

/**
 * Offer, POST, answer, wait for connected; returns the session resource URL. Without `candidates`
 * the offer carries none, so Strom reaches the peer only through the address its checks come from
 * (as behind a NAT, or through bench/netem's relay).
 */
async function connect(pc: RTCPeerConnection, url: string, headers: Record<string, string> = {}, candidates = true): Promise<string> {
  await pc.setLocalDescription(await pc.createOffer());
  while (pc.iceGatheringState !== 'complete') await new Promise((r) => setTimeout(r, 20));
  const offer = candidates ? pc.localDescription!.sdp : pc.localDescription!.sdp.replace(/a=candidate:[^\r]*\r\n/g, '').replace(/a=end-of-candidates\r\n/g, '');
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...headers }, body: offer });
  if (res.status !== 201) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  if (pc.connectionState !== 'connected') await pc.connectionStateChange.watch((s) => s === 'connected', 20_000);
  return new URL(res.headers.get('Location')!, url).href;
}

/** A werift WHEP viewer. */
export interface WeriftViewer {
  pc: RTCPeerConnection;
  /** RTP sequence numbers received, in arrival order (retransmissions appear twice). */
  seqs: number[];
  /** Send a Generic NACK (RFC 4585 §6.2.1) for `lost`. */
  nack(lost: number[]): Promise<void>;
  /** Send a PLI (RFC 4585 §6.3.1). */
  pli(): Promise<void>;
  close(): Promise<void>;
}

/** Connect a werift viewer to a WHEP URL. */
export async function weriftViewer(url: string): Promise<WeriftViewer> {
  const pc = peer();
  const t = pc.addTransceiver('video', { direction: 'recvonly' });
  const seqs: number[] = [];
  let ssrc = 0;
  t.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => {
    ssrc = rtp.header.ssrc;
    seqs.push(rtp.header.sequenceNumber);
  }));
  const location = await connect(pc, url);
  return {
    pc, seqs,
    async nack(lost) {
      const feedback = new GenericNack({ senderSsrc: t.receiver.rtcpSsrc, mediaSourceSsrc: ssrc, lost });
      await t.receiver.dtlsTransport.sendRtcp([new RtcpTransportLayerFeedback({ feedback })]);
    },
    async pli() { // sent directly: werift's sendRtcpPLI needs PLI enabled from the answer's rtcp-fb
      await t.receiver.dtlsTransport.sendRtcp([new RtcpPayloadSpecificFeedback({ feedback: new PictureLossIndication({ senderSsrc: t.receiver.rtcpSsrc, mediaSsrc: ssrc }) })]);
    },
    async close() {
      await fetch(location, { method: 'DELETE' }).catch(() => undefined);
      await pc.close();
    },
  };
}

/** A werift WHIP publisher of hand-made H.264. */
export interface WeriftPublisher {
  /** PLIs received from Strom. */
  readonly plis: number;
  /** Send one access unit: SPS + PPS + IDR (keyframe) or one non-IDR slice, 40 ms after the last. */
  frame(key: boolean): void;
  close(): Promise<void>;
}

/** Publish to a WHIP URL with `key` (`candidates: false`: an offer without candidates, see `connect`). */
export async function weriftPublisher(url: string, key: string, opts: { candidates?: boolean } = {}): Promise<WeriftPublisher> {
  const pc = peer();
  const track = new MediaStreamTrack({ kind: 'video' });
  const t: RTCRtpTransceiver = pc.addTransceiver(track, { direction: 'sendonly' });
  let plis = 0;
  t.sender.onPictureLossIndication.subscribe(() => plis++);
  const location = await connect(pc, url, { Authorization: `Bearer ${key}` }, opts.candidates ?? true);
  let seq = 1000;
  let ts = 0;
  const send = (nal: Buffer, marker: boolean) => {
    const header = new RtpHeader({ sequenceNumber: seq++ & 0xffff, timestamp: ts, marker, payloadType: 0, ssrc: 0 });
    void t.sender.sendRtp(new RtpPacket(header, nal)).catch(() => undefined);
  };
  return {
    get plis() {
      return plis;
    },
    frame(key) {
      ts = (ts + 3600) >>> 0;
      if (key) {
        send(Buffer.from([0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01]), false);
        send(Buffer.from([0x68, 0xce, 0x3c, 0x80]), false);
        send(Buffer.alloc(800, 0x65), true);
      } else send(Buffer.alloc(200, 0x41), true);
    },
    async close() {
      await fetch(location, { method: 'DELETE' }).catch(() => undefined);
      await pc.close();
    },
  };
}
