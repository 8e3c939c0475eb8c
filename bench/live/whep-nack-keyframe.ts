/**
 * How many packets of a lost big keyframe a WHEP viewer gets back by NACK: werift's per-viewer
 * history (128 packets) alone vs with Strom's per-stream NACK cache. An RTMP publisher sends
 * keyframes of `kfBytes` (default 250 kB ≈ a 1080p IDR, ~210 RTP packets at MTU 1200) followed by
 * small frames; a werift WHEP viewer, once a keyframe has fully arrived plus `afterPackets` more,
 * NACKs every packet of that keyframe (as a viewer that lost it in a burst would), and the script
 * counts how many distinct keyframe packets came back and who answered
 * (strom_webrtc_nack_packets_total; these totals also include the viewer's own automatic NACKs for
 * the part of the keyframe burst the loopback socket dropped).
 * `npx tsx bench/live/whep-nack-keyframe.ts [kfBytes] [afterPackets]`; prints one line per setting.
 */
import { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { avcConfigBody, avcNaluBody, startLive, waitUntil } from '../../test/helpers/live-fixtures.js';
import { weriftViewer } from '../../test/helpers/werift-peers.js';

const kfBytes = Number(process.argv[2] ?? 250_000);
const afterPackets = Number(process.argv[3] ?? 30);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(cachePackets: number): Promise<string> {
  const h = await startLive({ 'webrtc.nackCacheMaxPackets': cachePackets });
  const pub = await RtmpClient.connect('127.0.0.1', h.rtmpPort, 'live');
  try {
    await pub.publish('secret');
    pub.send(9, 0, avcConfigBody());
    pub.send(9, 0, avcNaluBody(true, 300));
    await waitUntil(() => h.strom.live.registry.get('cam1')?.tracks.video !== undefined, 'stream live');
    const v = await weriftViewer(`${h.httpUrl}/live/cam1/whep`);
    await waitUntil(() => v.seqs.length > 0, 'first keyframe', 10_000);
    const stats = h.strom.live.webrtc.metrics.stats;
    const first = (v.seqs.at(-1)! + 1) & 0xffff; // the viewer's sequence numbers are contiguous
    const sent = stats.packetsOut;
    pub.send(9, 40, avcNaluBody(true, kfBytes)); // the keyframe the viewer will have "lost"
    await waitUntil(() => stats.packetsOut > sent, 'big keyframe sent', 10_000);
    await sleep(300);
    const kf = Array.from({ length: stats.packetsOut - sent }, (_, i) => (first + i) & 0xffff);
    for (let i = 0; i < afterPackets; i++) pub.send(9, 80 + i * 40, avcNaluBody(false, 300));
    await waitUntil(() => stats.packetsOut >= sent + kf.length + afterPackets, 'frames after it', 10_000);
    await sleep(300);
    const st = stats.nackPackets;
    const got = v.seqs.length;
    for (let i = 0; i < kf.length; i += 10) { // paced: a burst of retransmissions overflows the loopback socket as the keyframe did
      await v.nack(kf.slice(i, i + 10));
      await sleep(30);
    }
    await sleep(1500);
    const back = new Set(v.seqs.slice(got).filter((s) => kf.includes(s))).size;
    await v.close();
    return `nackCacheMaxPackets=${cachePackets}: keyframe ${kf.length} packets, NACKed ${afterPackets} packets later → ${back} came back (answered by werift history ${st.history}, stream cache ${st.cache}, miss ${st.miss})`;
  } finally {
    pub.destroy();
    await h.close();
  }
}

for (const n of [0, 2048]) console.log(await run(n));
process.exit(0);
