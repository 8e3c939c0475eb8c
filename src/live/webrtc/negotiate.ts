/**
 * SDP offer/answer for WHIP and WHEP (RFC 9725 §4.2, RFC 8829 JSEP as werift implements it): a
 * sanity check of the offer, werift's negotiation, pruning to the codecs Strom carries (400 for a
 * broken offer, 422 when nothing is left), Strom as the DTLS server, waiting for ICE gathering so
 * the answer carries every candidate (503 when there is none to offer), filtering advertised host
 * candidates, and the 201 response with its headers.
 */
import type { FastifyReply } from 'fastify';
import type { RTCPeerConnection } from 'werift';
import { fail, failWith } from '../../errors.js';
import { filterCandidates, gathered, pruneCodecs, withoutDefaultStun } from './peer-factory.js';
import { checkOffer, type WebRtcSession } from './sdp-resource.js';
import type { Config } from '../../config.js';
import { keepEarlyDtls } from './early-dtls.js';
import type { WebRtcStats } from './webrtc-metrics.js';

/** Offered codec names per m-line, for error messages. */
function offered(sdp: string): string {
  return [...new Set([...sdp.matchAll(/a=rtpmap:\d+ ([\w-]+)\//g)].map((m) => m[1]!))].join(', ') || 'none';
}

/**
 * Make Strom the DTLS server when the offer lets the answerer choose (`a=setup:actpass`; RFC 8842
 * §5.3). werift answers `active` and, as DTLS client, waits 100 ms after ICE connects before its
 * ClientHello; as server it answers the browser's ClientHello, which browsers send the moment ICE
 * connects. The join's first frame comes that much sooner.
 */
export function dtlsServerRole(offer: string, answer: string): string {
  if (!/^a=setup:actpass\r?$/m.test(offer)) return answer;
  return answer.replace(/^a=setup:active(\r?)$/gm, 'a=setup:passive$1');
}

/** Apply the offer, keep supported codecs, answer, and wait for ICE gathering; returns the answer SDP. */
export async function negotiate(pc: RTCPeerConnection, sdp: string, direction: 'recvonly' | 'sendonly', webrtc: Config['webrtc'], stats: WebRtcStats, prepare?: () => Promise<void>, preferProfile?: number): Promise<string> {
  checkOffer(sdp, direction === 'recvonly'); // Strom receives ⇔ the client sends
  try {
    await pc.setRemoteDescription({ type: 'offer', sdp });
  } catch (err) {
    const msg = (err as Error).message;
    if (/codec/i.test(msg)) throw fail('WEBRTC_UNSUPPORTED_CODEC', 'audio/video', offered(sdp));
    throw fail('WEBRTC_BAD_SDP', msg);
  }
  withoutDefaultStun(pc, webrtc);
  for (const t of pc.getTransceivers()) {
    pruneCodecs(t, t.kind === 'video' ? preferProfile : undefined);
    if (t.codecs.length === 0) throw fail('WEBRTC_UNSUPPORTED_CODEC', t.kind, offered(sdp));
    if (direction === 'recvonly') t.setDirection('recvonly');
  }
  await prepare?.();
  const answer = await pc.createAnswer();
  await pc.setLocalDescription({ type: 'answer', sdp: dtlsServerRole(sdp, answer.sdp) });
  keepEarlyDtls(pc, (n) => (stats.earlyDtlsPackets += n));
  await gathered(pc, 5000);
  const answerSdp = filterCandidates(pc.localDescription!.sdp, webrtc);
  // werift answers without candidates when it could bind no socket (the port range is full): such
  // an answer can never connect, so the client gets a 503 to retry instead of a silent 15 s wait.
  if (!/^a=candidate:/m.test(answerSdp)) throw failWith('WEBRTC_NO_CANDIDATE', { 'Retry-After': '5' }, webrtc.udpPortMin, webrtc.udpPortMax);
  return answerSdp;
}

/** Send the 201 for a new session. */
export function created(reply: FastifyReply, s: WebRtcSession, location: string, answer: string, links: string[]): void {
  reply.code(201).header('Content-Type', 'application/sdp').header('Location', location).header('ETag', s.etag)
    .header('Accept-Patch', 'application/trickle-ice-sdpfrag');
  if (links.length > 0) reply.header('Link', links.join(', '));
  reply.send(answer);
}
