/**
 * WHEP viewer process for bench/live/webrtc-viewers.ts: `node --import tsx whep-viewers.ts <url> <count>`.
 * Opens `count` werift peer connections (recvonly H.264) against a WHEP endpoint, in batches of 5,
 * prints `ready` on stderr once all are connected, counts RTP packets per viewer, and on SIGTERM
 * prints one JSON line ({packets: number[]}) and DELETEs its sessions.
 */
import { RTCPeerConnection, RTCRtpCodecParameters, useNACK, usePLI } from 'werift';

const [url, countArg] = process.argv.slice(2);
const count = Number(countArg);
const packets: number[] = [];
const sessions: Array<{ pc: RTCPeerConnection; location: string }> = [];

async function viewer(i: number): Promise<void> {
  const pc = new RTCPeerConnection({
    codecs: { video: [new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, rtcpFeedback: [useNACK(), usePLI()], parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' })] },
    iceServers: [], iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false,
  });
  packets[i] = 0;
  const t = pc.addTransceiver('video', { direction: 'recvonly' });
  t.onTrack.subscribe((track) => track.onReceiveRtp.subscribe(() => packets[i]!++));
  await pc.setLocalDescription(await pc.createOffer());
  while (pc.iceGatheringState !== 'complete') await new Promise((r) => setTimeout(r, 20));
  const res = await fetch(url!, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription!.sdp });
  if (res.status !== 201) throw new Error(`viewer ${i}: ${res.status} ${await res.text()}`);
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  sessions.push({ pc, location: new URL(res.headers.get('Location')!, url).href });
  await pc.connectionStateChange.watch((s) => s === 'connected', 20_000);
}

for (let i = 0; i < count; i += 5) await Promise.all(Array.from({ length: Math.min(5, count - i) }, (_, j) => viewer(i + j)));
process.stderr.write('ready\n');
setInterval(() => {}, 1 << 30);
process.on('SIGTERM', () => {
  process.stdout.write(JSON.stringify({ packets }) + '\n', () => {
    void Promise.allSettled(sessions.map(async (s) => {
      await fetch(s.location, { method: 'DELETE' });
      await s.pc.close();
    })).finally(() => process.exit(0));
  });
});
