/**
 * Glass-to-glass latency of WebRTC through Strom: ONE headless Chromium page publishes a
 * canvas over WHIP and plays the same stream back over WHEP from an in-process Strom on loopback.
 * The publisher canvas draws Date.now() as a pixel barcode (32 bits of ms + 8-bit checksum, 40
 * blocks of 32×32 px) on every animation frame and is captured with canvas.captureStream(30) →
 * Chromium's H.264 encoder → RTP → Strom (depacketize → hub → packetize) → RTP → Chromium's decoder.
 * On every presented frame (requestVideoFrameCallback) the page draws the video into a canvas,
 * decodes the barcode and records Date.now() − encoded time. One page = one clock, no sync error;
 * the figure includes canvas capture, encode, both RTP hops, jitter buffer, decode and presentation.
 * Measures and prints; asserts nothing. Bounded (< 2 min), cleans up Chromium and Strom.
 * Below the barcode the page paints 300 random rectangles per frame (`busy`=1, default) so frames
 * are several FU-A packets, as a camera picture would be; `busy`=0 leaves a flat grey picture.
 *   npx tsx bench/live/webrtc-g2g.ts [sampleSeconds=20] [settleSeconds=5] [busy=1]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { launchWebRtcBrowser } from '../../test/helpers/webrtc.js';
import { cleanups, runBench, servePage } from './cleanup-stack.js';
import { BARCODE_JS } from './g2g-barcode.js';

const sampleSeconds = Number(process.argv[2] ?? 20);
const settleSeconds = Number(process.argv[3] ?? 5);
const busy = (process.argv[4] ?? '1') !== '0';
const TARGET_MS = 300;
const HARD_LIMIT_MS = 120_000;


const PAGE = `<!doctype html><html><body><canvas id="src" width="320" height="240"></canvas><video id="v" muted autoplay playsinline></video><canvas id="dst" width="320" height="240"></canvas><script>
${BARCODE_JS}
window.samples = []; window.bad = 0; window.frames = 0;
async function gather(pc) { if (pc.iceGatheringState === 'complete') return; await new Promise((r) => pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r())); }
async function exchange(pc, url, headers) {
  await pc.setLocalDescription(await pc.createOffer()); await gather(pc);
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...headers }, body: pc.localDescription.sdp });
  if (res.status !== 201) throw new Error(url + ' ' + res.status + ' ' + await res.text());
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
}
window.stats = async () => { const out = {}; const r = await window.__play.getStats(); r.forEach((s) => { if (s.type === 'inbound-rtp') { out.packets = s.packetsReceived; out.framesDecoded = s.framesDecoded; out.jitterBufferMs = Math.round(1000 * s.jitterBufferDelay / Math.max(1, s.jitterBufferEmittedCount)); out.decodeMs = Math.round(1000 * s.totalDecodeTime / Math.max(1, s.framesDecoded)); out.codec = r.get(s.codecId)?.mimeType; } }); return out; };
window.start = async (base, busy) => {
  window.busy = busy;
  const src = document.getElementById('src').getContext('2d');
  const tick = () => { draw(src, Date.now()); requestAnimationFrame(tick); }; tick();
  const pub = new RTCPeerConnection();
  const t = pub.addTransceiver(document.getElementById('src').captureStream(30).getVideoTracks()[0], { direction: 'sendonly' });
  const h264 = RTCRtpSender.getCapabilities('video').codecs.filter((c) => c.mimeType === 'video/H264' && /packetization-mode=1/.test(c.sdpFmtpLine || ''));
  t.setCodecPreferences(h264);
  await exchange(pub, base + '/whip', { Authorization: 'Bearer secret' });
  await new Promise((r) => setTimeout(r, 500));
  const play = new RTCPeerConnection(); window.__play = play; play.addTransceiver('video', { direction: 'recvonly' });
  const v = document.getElementById('v'); const dst = document.getElementById('dst').getContext('2d', { willReadFrequently: true });
  play.ontrack = (e) => { v.srcObject = new MediaStream([e.track]); v.play().catch(() => {}); };
  const onFrame = () => { window.frames++; dst.drawImage(v, 0, 0, 320, 240); const t0 = read(dst); if (t0 === null) window.bad++; else if (window.recording) window.samples.push(Date.now() - t0); v.requestVideoFrameCallback(onFrame); };
  v.requestVideoFrameCallback(onFrame);
  await exchange(play, base + '/live/cam1/whep', {});
};
</script></body></html>`;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

async function main(): Promise<void> {
  const loadBefore = loadavg().map((x) => x.toFixed(2));
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-webrtc-g2g-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const strom = await buildStrom(testConfig({ dataDir, 'live.staticKeys': 'cam1:secret', 'rtmp.enabled': false }), pino({ level: 'silent' }));
  cleanups.push(() => strom.close());
  const { url } = await strom.listen();
  const pageUrl = await servePage(PAGE);
  const browser = await launchWebRtcBrowser();
  cleanups.push(() => browser.close());
  const page = await browser.newPage();
  await page.goto(pageUrl);
  await page.evaluate(([u, b]) => (window as unknown as { start: (u: string, b: boolean) => Promise<void> }).start(u as string, b as boolean), [url, busy] as const);
  await page.waitForFunction(() => (window as unknown as { frames: number }).frames > 10, undefined, { timeout: 20_000 });
  await new Promise((r) => setTimeout(r, settleSeconds * 1000));
  await page.evaluate(() => ((window as unknown as { recording: boolean }).recording = true));
  await new Promise((r) => setTimeout(r, sampleSeconds * 1000));
  const res = await page.evaluate(() => {
    const w = window as unknown as { samples: number[]; bad: number; frames: number };
    return { samples: w.samples, bad: w.bad, frames: w.frames };
  });
  const chrome = await page.evaluate(() => (window as unknown as { stats: () => Promise<Record<string, unknown>> }).stats());
  const st = strom.live.webrtc.metrics.stats;
  const loadAfter = loadavg().map((x) => x.toFixed(2));
  const xs = res.samples;
  const p50 = pct(xs, 50);
  console.log(JSON.stringify({ samples: xs.length, unreadable: res.bad, frames: res.frames, p50, p90: pct(xs, 90), p99: pct(xs, 99), min: Math.min(...xs), max: Math.max(...xs), busy, chromeInbound: chrome, stromRtp: { in: st.packetsIn, out: st.packetsOut, bytesOut: st.bytesOut }, loadBefore, loadAfter }));
  console.log(`WebRTC glass-to-glass (WHIP → Strom → WHEP, Chromium, loopback): p50 ${p50} ms, p90 ${pct(xs, 90)} ms, p99 ${pct(xs, 99)} ms over ${xs.length} frames; ` +
    `p50 / target ${TARGET_MS} ms = ${(p50 / TARGET_MS).toFixed(2)} (${p50 <= TARGET_MS ? 'met' : 'missed'})`);
}

runBench(main, HARD_LIMIT_MS);
