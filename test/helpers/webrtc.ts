/**
 * Real WebRTC clients for tests: headless Chromium pages that publish over WHIP (canvas
 * captureStream + an oscillator) and play over WHEP, served from a loopback HTTP server so every
 * request to Strom is a real cross-origin request (CORS preflights included). Chromium needs
 * --allow-loopback-in-peer-connection to pair loopback candidates, and mDNS host obfuscation off.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_ARGS } from './browser.js';

/** Chromium flags for WebRTC on loopback. */
export const WEBRTC_ARGS = [...CHROMIUM_ARGS, '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

/** Launch headless Chromium for WebRTC tests. */
export function launchWebRtcBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: WEBRTC_ARGS });
}

/** Browser-side helpers, installed on window by the page. */
const PAGE_SCRIPT = `
window.__log = [];
async function waitGathering(pc) {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise((r) => { const t = setTimeout(r, 3000); pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') { clearTimeout(t); r(); } }); });
}
async function exchange(pc, url, headers, opts) {
  await pc.setLocalDescription(await pc.createOffer());
  await waitGathering(pc);
  window.__states = [];
  pc.addEventListener('connectionstatechange', () => window.__states.push(pc.connectionState));
  /* candidates: false posts the offer without candidates, so the server can reach the page only through the address its checks come from (as behind a NAT) */
  const sdp = opts && opts.candidates === false ? pc.localDescription.sdp.replace(/a=candidate:[^\\r]*\\r\\n/g, '').replace(/a=end-of-candidates\\r\\n/g, '') : pc.localDescription.sdp;
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...headers }, body: sdp });
  const text = await res.text();
  if (res.status !== 201) throw new Error('POST ' + url + ' → ' + res.status + ' ' + text);
  await pc.setRemoteDescription({ type: 'answer', sdp: text });
  return { location: new URL(res.headers.get('Location'), url).href, etag: res.headers.get('ETag'), link: res.headers.get('Link') };
}
window.whipPublish = async (url, key, opts) => {
  const c = document.createElement('canvas'); c.width = 320; c.height = 240; document.body.appendChild(c);
  const ctx = c.getContext('2d'); let n = 0;
  window.__draw = setInterval(() => { n++; ctx.fillStyle = 'rgb(' + (n * 7 % 255) + ',80,160)'; ctx.fillRect(0, 0, 320, 240); ctx.fillStyle = '#fff'; ctx.fillRect((n * 5) % 300, 100, 20, 20); }, 33);
  const stream = c.captureStream(30);
  if (opts.audio) {
    const ac = new AudioContext(); const osc = ac.createOscillator(); const dst = ac.createMediaStreamDestination(); osc.connect(dst); osc.start();
    stream.addTrack(dst.stream.getAudioTracks()[0]);
  }
  const pc = new RTCPeerConnection(); window.__pub = pc;
  for (const t of stream.getTracks()) pc.addTransceiver(t, { direction: 'sendonly' });
  const r = await exchange(pc, url, { Authorization: 'Bearer ' + key }, opts);
  window.__whip = r;
  return r;
};
window.whepPlay = async (url, opts) => {
  const pc = new RTCPeerConnection(); window.__play = pc;
  pc.addTransceiver('video', { direction: 'recvonly' }); pc.addTransceiver('audio', { direction: 'recvonly' });
  const v = document.createElement('video'); v.muted = true; v.autoplay = true; v.playsInline = true; document.body.appendChild(v);
  window.__frames = 0; window.__size = null;
  const ms = new MediaStream();
  pc.ontrack = (e) => { ms.addTrack(e.track); v.srcObject = ms; v.play().catch(() => {}); };
  const onFrame = (_now, meta) => { window.__frames++; window.__size = [meta.width, meta.height]; v.requestVideoFrameCallback(onFrame); };
  v.requestVideoFrameCallback(onFrame);
  return exchange(pc, url, {}, opts);
};
window.inboundStats = async () => {
  const out = {};
  if (!window.__play) return out;
  (await window.__play.getStats()).forEach((s) => { if (s.type === 'inbound-rtp') out[s.kind] = { packetsReceived: s.packetsReceived, framesDecoded: s.framesDecoded, packetsLost: s.packetsLost, codecId: s.codecId, nackCount: s.nackCount, totalSamplesReceived: s.totalSamplesReceived, concealedSamples: s.concealedSamples }; });
  return out;
};
`;

/**
 * A page on its own loopback origin with `whipPublish(url, key, { audio, candidates })`,
 * `whepPlay(url, { candidates })` and `inboundStats` on window; `__states` lists the connection states.
 */
export async function webrtcPage(browser: Browser): Promise<{ page: Page; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end(`<!doctype html><html><body><script>${PAGE_SCRIPT}</script></body></html>`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  return {
    page,
    async close() {
      await page.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** What a WHEP page has decoded so far. */
export interface PlayState {
  frames: number;
  size: [number, number] | null;
  stats: Record<string, { packetsReceived: number; framesDecoded?: number; packetsLost?: number; nackCount?: number; totalSamplesReceived?: number; concealedSamples?: number }>;
}

/** Read a WHEP page's counters. */
export async function playState(page: Page): Promise<PlayState> {
  return page.evaluate(async () => {
    const w = window as unknown as { __frames: number; __size: [number, number] | null; inboundStats: () => Promise<PlayState['stats']> };
    return { frames: w.__frames, size: w.__size, stats: await w.inboundStats() };
  });
}

/** Poll a WHEP page's counters every 250 ms until `cond` holds; fails with `what` and the counters after `timeoutMs`. */
export async function waitPlay(page: Page, cond: (s: PlayState) => boolean, what: string, timeoutMs = 25_000): Promise<PlayState> {
  const until = Date.now() + timeoutMs;
  let s = await playState(page);
  while (!cond(s)) {
    if (Date.now() > until) throw new Error(`${what}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 250));
    s = await playState(page);
  }
  return s;
}
