/**
 * werift RTCPeerConnections configured from `webrtc.*`: which host addresses ICE offers (RFC 8445
 * §5.1.1.1; only `webrtc.hostAddresses`, default loopback), the UDP port range, optional STUN for
 * server-reflexive candidates, and the codecs Strom carries (H.264 packetization-mode=1 and Opus,
 * with NACK/PLI feedback, RFC 4585; Opus RED, RFC 2198, and the playout-delay extension when enabled).
 * Also the `Link: <…>; rel="ice-server"` header values that
 * advertise STUN/TURN to WHIP/WHEP clients (RFC 9725 §4.6).
 *
 * Strom's side is passive (it only answers offers), so Chromium's mDNS-obfuscated host candidates
 * need not resolve: its connectivity checks arrive from a real address, which ICE learns as a
 * peer-reflexive candidate (RFC 8445 §7.3.1.3).
 */
import { RTCPeerConnection, RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters, useAbsSendTime, useNACK, usePLI, useSdesMid, type RTCIceServer, type RTCRtpTransceiver } from 'werift';
import type { Config } from '../../config.js';

type WebRtcConfig = Config['webrtc'];

/** The playout-delay RTP header extension (min/max delay the receiver should apply, 10 ms units). */
export const PLAYOUT_DELAY_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay';

/** The codecs Strom negotiates; payload types follow the offer. */
function codecs(c: WebRtcConfig) {
  const audio = [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })];
  // RFC 2198 RED carrying Opus: werift's sender encodes it when `red` is its send codec (see pruneCodecs).
  if (c.opusRed) audio.push(new RTCRtpCodecParameters({ mimeType: 'audio/red', clockRate: 48000, channels: 2 }));
  return {
    video: [new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, rtcpFeedback: [useNACK(), usePLI()], parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' })],
    audio,
  };
}

/** A new peer connection for one WHIP or WHEP session. */
export function createPeer(c: WebRtcConfig): RTCPeerConnection {
  const iceServers: RTCIceServer[] = c.stunServers.map((urls) => ({ urls }));
  const hosts = c.hostAddresses;
  return new RTCPeerConnection({
    codecs: codecs(c),
    headerExtensions: {
      video: [useSdesMid(), useAbsSendTime(), ...(c.playoutDelayMaxMs > 0 ? [new RTCRtpHeaderExtensionParameters({ uri: PLAYOUT_DELAY_URI })] : [])],
      audio: [useSdesMid(), useAbsSendTime()],
    },
    iceServers, // werift's default is a public Google STUN server: never use it implicitly (see withoutDefaultStun)
    icePortRange: [c.udpPortMin, c.udpPortMax],
    iceAdditionalHostAddresses: hosts.length > 0 ? hosts : undefined,
    // Filters the gathered interface addresses to the configured ones (werift keeps all if none match).
    iceInterfaceAddresses: hosts.length > 0 ? { udp4: hosts[0] } : undefined,
    iceUseIpv4: true,
    iceUseIpv6: false,
    bundlePolicy: 'max-bundle',
  });
}

/**
 * Keep only codecs Strom can carry: H.264 with packetization-mode=1 (RFC 6184 §8.1), Opus, their
 * RTX, and RED over Opus (RFC 2198, when `webrtc.opusRed` registered it and it names the kept Opus
 * payload type: `fmtp:63 111/111`) first, so the sender sends RED: werift to a WHEP viewer, the
 * browser of a WHIP publisher (werift's receiver takes the blocks apart and hands the ingest plain
 * Opus packets, a lost one rebuilt from the next). werift picked its send codec from the unpruned
 * offer: it is reset to the first kept one.
 */
export function pruneCodecs(t: RTCRtpTransceiver, preferProfile?: number): void {
  const opus = t.codecs.find((c) => c.name.toLowerCase() === 'opus')?.payloadType;
  const ok = t.codecs.filter((c) => {
    const n = c.name.toLowerCase();
    if (n === 'h264') return /packetization-mode=1/.test(c.parameters ?? '');
    if (n === 'red') return opus !== undefined && (c.parameters ?? '').split('/').every((pt) => Number(pt) === opus);
    return n === 'opus';
  });
  ok.sort((a, b) => Number(b.name.toLowerCase() === 'red') - Number(a.name.toLowerCase() === 'red'));
  if (preferProfile !== undefined) {
    const idc = (c: RTCRtpCodecParameters) => Number.parseInt(/profile-level-id=([0-9a-f]{2})/i.exec(c.parameters ?? '')?.[1] ?? '0', 16);
    ok.sort((a, b) => Number(idc(b) === preferProfile) - Number(idc(a) === preferProfile));
  }
  const pts = new Set(ok.map((c) => c.payloadType));
  const rtx = t.codecs.filter((c) => c.name.toLowerCase() === 'rtx' && pts.has(Number(/apt=(\d+)/.exec(c.parameters ?? '')?.[1])));
  t.codecs = [...ok, ...rtx];
  const send = ok[0];
  if (send !== undefined) {
    t.sender.codec = send;
    // werift wraps every payload in RED when this is set (RtpSender.prepareSend saw the whole offer).
    t.sender.redRedundantPayloadType = send.name.toLowerCase() === 'red' ? opus : undefined;
  }
}

/**
 * The candidates Strom advertises in an SDP it sends: host candidates on addresses outside
 * `webrtc.hostAddresses` are dropped, and with `webrtc.announcedAddresses` (NAT 1:1) a bound
 * address is replaced by its announced one, same port. ICE needs no more: the peer's checks reach
 * the bound socket through the NAT and their source is learnt as peer-reflexive (RFC 8445 §7.3.1.3);
 * the c= line carries the same address (RFC 8839 §4.2.1.2 default candidate).
 */
export function filterCandidates(sdp: string, c: WebRtcConfig): string {
  if (c.hostAddresses.length === 0) return sdp;
  const allowed = new Set(c.hostAddresses);
  const announce = new Map(c.announcedAddresses.map((a, i) => [c.hostAddresses[i]!, a]));
  return sdp
    .split('\r\n')
    .filter((line) => {
      if (!line.startsWith('a=candidate:')) return true;
      const f = line.split(' ');
      return f[7] !== 'host' || allowed.has(f[4] ?? ''); // srflx/relay candidates stay
    })
    .map((line) => {
      if (announce.size === 0) return line;
      if (line.startsWith('a=candidate:')) {
        const f = line.split(' ');
        const to = f[7] === 'host' ? announce.get(f[4] ?? '') : undefined;
        if (to !== undefined) f[4] = to;
        return f.join(' ');
      }
      const m = /^c=IN IP4 (\S+)$/.exec(line);
      const to = m ? announce.get(m[1]!) : undefined;
      return to === undefined ? line : `c=IN IP4 ${to}`;
    })
    .join('\r\n');
}

/** `Link` header values advertising STUN/TURN servers (RFC 9725 §4.6, RFC 8288). */
export function iceServerLinks(c: WebRtcConfig): string[] {
  const q = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
  const links = c.stunServers.map((u) => `<${u}>; rel="ice-server"`);
  for (const u of c.turnServers) {
    let l = `<${u}>; rel="ice-server"`;
    if (c.turnUsername !== null) l += `; username=${q(c.turnUsername)}; credential=${q(c.turnCredential ?? '')}; credential-type="password"`;
    links.push(l);
  }
  return links;
}

/**
 * Keep werift's ICE agent from Google's public STUN server. With no STUN server configured, werift's
 * `Connection` still gathers a server-reflexive candidate from stun.l.google.com:19302 (a DNS
 * lookup and a binding request per session), and the answer waits for it: one round trip to Google
 * on every WHEP/WHIP POST, up to 5 s where outbound UDP is filtered, and each viewer announced to a
 * third party. `webrtc.stunServers` empty means none. Call after setRemoteDescription (which makes
 * the ICE transports) and before setLocalDescription (which gathers).
 */
export function withoutDefaultStun(pc: RTCPeerConnection, c: WebRtcConfig): void {
  if (c.stunServers.length > 0) return;
  // werift types `stunServer` as set; it is read as optional when gathering (`if (stunServer)`).
  for (const t of pc.iceTransports) (t.connection as { stunServer?: unknown }).stunServer = undefined;
}

/** Resolve once ICE gathering has completed (the answer then carries every candidate: no server-side trickle). */
export async function gathered(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, timeoutMs);
    const { unSubscribe } = pc.iceGatheringStateChange.subscribe((s) => {
      if (s !== 'complete') return;
      clearTimeout(t);
      unSubscribe();
      resolve();
    });
  });
}
