/**
 * The browser side of bench/startup/live.ts: one live join in headless Chromium, measured.
 *
 * A small HTTP server on its own loopback port serves one page per case (`/ll-hls`, `/ll-dash`,
 * `/http-flv`, `/whep`) with its player library already loaded (hls.js, dash.js, mpegts.js from
 * node_modules), so every request to Strom is cross-origin as from a real site. `__start` takes
 * the performance.now() mark right before the player is created (WHEP: before `new
 * RTCPeerConnection`) and configures it as Strom's web UI does (web/src/player.ts,
 * web/src/whep-player.ts; dash.js as test/e2e/ll-dash-playback). TTFF = the first
 * requestVideoFrameCallback's presentationTime − the mark ('playing' as the fallback). MSE
 * appends are wrapped to log when they completed and what was buffered.
 *
 * Live requests do not all end (HTTP-FLV, a held blocking playlist, the preload-hinted part, a
 * chunked DASH segment) and resource timing lists finished ones only, so requests come from CDP
 * Network events (requestWillBeSent, responseReceived: headers and new connection, dataReceived:
 * body bytes, so an open request counts what it had received by the first frame). Resource timing
 * only puts CDP's clock on the page's: the median responseEnd − loadingFinished of the page's own
 * scripts (a WHEP POST and its preflight share a URL, so media requests are not paired).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import type { Browser, CDPSession } from 'playwright-core';
import { emulateLink } from './player-page.js';

const require = createRequire(import.meta.url);

export const CASES = ['ll-hls', 'll-dash', 'http-flv', 'whep'] as const;
export type CaseName = (typeof CASES)[number];

/** One request of a play; times in ms from the mark, bytes = body bytes received before the first frame. */
export interface LiveRequest { url: string; method: string; startMs: number; headersMs: number | null; endMs: number | null; bytes: number; status: number; newConnection: boolean | null }

/** One play. */
export interface LivePlay {
  ttffMs: number | null;
  /** Wall clock (ms since the epoch) of the mark, and how long after the last keyframe's arrival it came (set by live.ts). */
  markWallMs: number;
  gopPhaseMs?: number;
  firstFrameVia: string;
  playingMs: number | null;
  /** Latency figures at the first frame, seconds (which ones depends on the player). */
  latency: Record<string, number | null>;
  /** Counters at the first frame (WHEP: the video inbound-rtp stats). */
  info: Record<string, number>;
  requests: LiveRequest[];
  events: Array<{ t: number; e: string; d: string }>;
  errors: string[];
}

interface PageRecord { mark: number; first: { now: number; presentation: number | null } | null; via: string; playingMs: number | null; latency: Record<string, number | null> | null; info: Record<string, number>; events: LivePlay['events']; errors: string[] }

const COMMON = `
const v = document.getElementById('v');
const r = window.__r = { mark: 0, first: null, via: '', playingMs: null, latency: null, info: {}, events: [], errors: [] };
const rel = () => +(performance.now() - r.mark).toFixed(1);
const ev = (e, d) => r.events.push({ t: rel(), e, d: d === undefined ? '' : String(d) });
const ranges = (b) => JSON.stringify(Array.from({ length: b.length }, (_, i) => [+b.start(i).toFixed(3), +b.end(i).toFixed(3)]));
let appends = 0;
const append = SourceBuffer.prototype.appendBuffer;
SourceBuffer.prototype.appendBuffer = function (data) {
  const n = ++appends, sb = this, t0 = rel();
  if (n <= 6) sb.addEventListener('updateend', function done() { sb.removeEventListener('updateend', done); ev('MSE append #' + n + ' done', data.byteLength + ' B, started ' + t0 + ', video buffered ' + ranges(v.buffered)); });
  return append.call(this, data);
};
for (const n of ['loadedmetadata', 'canplay', 'seeking', 'seeked', 'waiting']) v.addEventListener(n, () => ev('video ' + n, 'currentTime ' + v.currentTime.toFixed(3)));
v.addEventListener('playing', () => { if (r.playingMs === null) { r.playingMs = rel(); ev('video playing', 'currentTime ' + v.currentTime.toFixed(3)); } });
v.addEventListener('error', () => r.errors.push('media/' + (v.error && v.error.code) + '/fatal'));
const behind = () => v.buffered.length ? +(v.buffered.end(v.buffered.length - 1) - v.currentTime).toFixed(3) : null;
/** Record the first frame; latency(meta, wallMs) gives the latency figures right then. */
const armFirstFrame = (latency) => {
  const done = (now, presentation, via, md) => {
    if (r.first) return;
    r.first = { now: now - r.mark, presentation: presentation ? presentation - r.mark : null }; r.via = via;
    Promise.resolve().then(() => latency(md, performance.timeOrigin + (presentation || now))).then((l) => { r.latency = l; }, (e) => { r.latency = {}; r.errors.push('latency/' + e); });
  };
  if ('requestVideoFrameCallback' in v) v.requestVideoFrameCallback((now, md) => done(now, md.presentationTime, md.presentationTime ? 'rVFC presentationTime' : 'rVFC callback', md));
  else v.addEventListener('playing', () => done(performance.now(), null, 'playing event', {}));
};
`;

const START: Record<CaseName, string> = {
  'll-hls': `window.__start = (src) => {
  r.mark = performance.now();
  const hls = window.__p = new Hls({ lowLatencyMode: true, backBufferLength: 30, enableWorker: false, capLevelToPlayerSize: false, cmcd: { contentId: 'cam1', useHeaders: false } });
  const E = Hls.Events;
  const f = (d) => 'sn ' + d.frag.sn + (d.part ? ' part ' + d.part.index : '') + (d.frag.sn === 'initSegment' ? '' : ' [' + (d.part || d.frag).start.toFixed(3) + '+' + (d.part || d.frag).duration.toFixed(3) + ']');
  hls.on(E.ERROR, (_e, d) => r.errors.push(d.type + '/' + d.details + (d.fatal ? '/fatal' : '')));
  hls.on(E.MANIFEST_LOADED, () => ev('manifest loaded'));
  hls.on(E.LEVEL_LOADED, (_e, d) => ev('playlist loaded', 'msn ' + d.details.startSN + '–' + d.details.endSN + ', parts ' + (d.details.partList || []).length + ', edge ' + d.details.edge.toFixed(3) + ' s, age ' + d.details.age.toFixed(3) + ' s'));
  hls.on(E.FRAG_LOADING, (_e, d) => ev('loading', f(d)));
  hls.on(E.FRAG_LOADED, (_e, d) => ev('loaded', f(d) + ' ' + (d.part || d.frag).stats.total + ' B'));
  hls.on(E.FRAG_BUFFERED, (_e, d) => ev('buffered', f(d)));
  armFirstFrame(async (md, wall) => {
    const t = md.mediaTime ?? v.currentTime, d = hls.levels[hls.currentLevel >= 0 ? hls.currentLevel : 0]?.details;
    const fr = d && d.fragments.find((x) => x.start <= t + 0.001 && t < x.start + x.duration);
    const out = { 'now − PDT': fr && fr.programDateTime ? (wall - fr.programDateTime - (t - fr.start) * 1000) / 1000 : null, 'behind buffer end': behind() };
    await new Promise((ok) => setTimeout(ok, 250)); // hls.latency follows currentTime, which lags the first frame
    return { ...out, 'hls.latency (+250 ms)': hls.latency };
  });
  hls.loadSource(src); hls.attachMedia(v); v.play().catch(() => {});
};`,
  'll-dash': `window.__start = (src) => {
  r.mark = performance.now();
  const p = window.__p = dashjs.MediaPlayer().create();
  p.updateSettings({ streaming: { delay: { liveDelay: 2 }, liveCatchup: { enabled: true } } });
  const E = dashjs.MediaPlayer.events;
  p.on(E.ERROR, (e) => r.errors.push('dash/' + JSON.stringify(e.error && (e.error.code || e.error.message) || e) + '/fatal'));
  for (const k of ['MANIFEST_LOADED', 'TIME_SYNCHRONIZATION_COMPLETED', 'STREAM_INITIALIZED', 'CAN_PLAY', 'PLAYBACK_STARTED']) if (E[k]) p.on(E[k], () => ev(k.toLowerCase().replace(/_/g, ' ')));
  const f = (e) => e.request ? e.request.mediaType + ' ' + e.request.type + (isNaN(e.request.index) ? '' : ' #' + e.request.index) + ' [' + (+e.request.startTime).toFixed(3) + '+' + (+e.request.duration).toFixed(3) + ']' : '';
  p.on(E.FRAGMENT_LOADING_STARTED, (e) => ev('loading', f(e)));
  p.on(E.FRAGMENT_LOADING_COMPLETED, (e) => ev('loaded', f(e)));
  armFirstFrame(() => ({ 'getCurrentLiveLatency': p.getCurrentLiveLatency(), 'behind buffer end': behind() }));
  p.initialize(v, src, true);
};`,
  'http-flv': `/** mpegts.js rebases timestamps to its first dts; find that base to recover the FLV dts of a frame. */
const dtsBase = (o, depth = 0, seen = new Set()) => {
  if (!o || typeof o !== 'object' || depth > 6 || seen.has(o)) return null;
  seen.add(o);
  if (o._dtsBaseInited === true && typeof o._dtsBase === 'number') return o._dtsBase;
  for (const k of Object.keys(o)) { if (k.startsWith('_')) { const x = dtsBase(o[k], depth + 1, seen); if (x !== null) return x; } }
  return null;
};
window.__start = (src, wallOffsetMs) => {
  r.mark = performance.now();
  const p = window.__p = mpegts.createPlayer({ type: 'flv', isLive: true, url: src }, { enableStashBuffer: false, liveBufferLatencyChasing: true, liveBufferLatencyMaxLatency: 1.5, liveBufferLatencyMinRemain: 0.3 });
  p.on(mpegts.Events.ERROR, (t, d) => r.errors.push('flv/' + t + '/' + d + '/fatal'));
  p.on(mpegts.Events.METADATA_ARRIVED, () => ev('onMetaData'));
  p.on(mpegts.Events.MEDIA_INFO, (m) => ev('media info', m.videoCodec + ' ' + m.audioCodec));
  armFirstFrame((md, wall) => {
    const base = dtsBase(p);
    const dts = base === null ? null : base + 1000 * (md.mediaTime ?? v.currentTime);
    return { 'now − PDT': dts === null || wallOffsetMs === null ? null : (wall - (wallOffsetMs + dts)) / 1000, 'behind buffer end': behind() };
  });
  p.attachMediaElement(v); p.load(); v.play().catch(() => {});
};`,
  whep: `window.__start = async (src) => {
  r.mark = performance.now();
  const pc = window.__pc = new RTCPeerConnection();
  for (const kind of ['video', 'audio']) pc.addTransceiver(kind, { direction: 'recvonly' });
  const ms = new MediaStream();
  pc.ontrack = (e) => { ev('track', e.track.kind); ms.addTrack(e.track); v.srcObject = ms; v.play().catch(() => {}); };
  pc.onicegatheringstatechange = () => ev('ICE gathering ' + pc.iceGatheringState);
  pc.oniceconnectionstatechange = () => ev('ICE ' + pc.iceConnectionState);
  pc.onconnectionstatechange = () => ev('connection ' + pc.connectionState + (pc.connectionState === 'connected' ? ' (DTLS done)' : ''));
  // The first frame's age: 1.5 s later (the join burst sent) the newest RTP packet is live; its
  // timestamp minus the first frame's, against the wall time between them. Counters at the first frame.
  const video = (st, f) => st.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') f(s); });
  armFirstFrame(async (md, wall) => {
    const st = await pc.getStats();
    video(st, (s) => { for (const k of ['packetsReceived', 'packetsLost', 'nackCount', 'pliCount', 'framesReceived', 'framesDecoded', 'keyFramesDecoded']) r.info[k] = s[k]; });
    // The round trip ICE measured on the media path: CDP emulation delays WebRTC's UDP too.
    st.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime !== undefined) r.info['ICE RTT ms'] = Math.round(s.currentRoundTripTime * 1000); });
    await new Promise((ok) => setTimeout(ok, 1500));
    const ssrc = pc.getReceivers().find((x) => x.track.kind === 'video')?.getSynchronizationSources()[0];
    const out = { 'behind live': ssrc && md.rtpTimestamp !== undefined ? (wall - ssrc.timestamp) / 1000 + ((ssrc.rtpTimestamp - md.rtpTimestamp) >>> 0) / 90000 : null, 'jitter buffer (1st 1.5 s)': null };
    video(await pc.getStats(), (s) => { if (s.jitterBufferEmittedCount > 0) out['jitter buffer (1st 1.5 s)'] = s.jitterBufferDelay / s.jitterBufferEmittedCount; });
    return out;
  });
  try {
    // As web/src/whep-player.ts: the offer goes out at once, without waiting for ICE gathering.
    await pc.setLocalDescription(await pc.createOffer());
    ev('offer set');
    ev('POST sent');
    const res = await fetch(src, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp });
    const text = await res.text();
    ev('POST answered', res.status);
    if (res.status !== 201) throw new Error(res.status + ' ' + text.slice(0, 200));
    window.__resource = new URL(res.headers.get('Location'), src).href;
    await pc.setRemoteDescription({ type: 'answer', sdp: text });
    ev('answer applied');
  } catch (e) { r.errors.push('whep/' + e.message + '/fatal'); }
};`,
};

const STOP = `window.__stop = async () => {
  try { if (window.__p) window.__p.destroy(); } catch {}
  if (window.__pc) window.__pc.close();
  if (window.__resource) await fetch(window.__resource, { method: 'DELETE' }).catch(() => {});
};`;

const LIB: Record<CaseName, string | null> = { 'll-hls': 'hls.js/dist/hls.min.js', 'll-dash': 'dashjs', 'http-flv': 'mpegts.js/dist/mpegts.js', whep: null };

interface CdpReq { url: string; method: string; ts: number; headersTs: number | null; status: number; newConnection: boolean | null; chunks: Array<[number, number]>; finishTs: number | null }

/** Follow a page's HTTP requests (preflights included) through CDP Network events. */
function watchNetwork(cdp: CDPSession): Map<string, CdpReq> {
  const reqs = new Map<string, CdpReq>();
  cdp.on('Network.requestWillBeSent', (p) => {
    if (p.request.url.startsWith('http')) reqs.set(p.requestId, { url: p.request.url, method: p.request.method, ts: p.timestamp, headersTs: null, status: 0, newConnection: null, chunks: [], finishTs: null });
  });
  cdp.on('Network.responseReceived', ({ requestId, response: { status, timing: t } }) => Object.assign(reqs.get(requestId) ?? {}, { status },
    t ? { headersTs: t.requestTime + t.receiveHeadersEnd / 1000, newConnection: t.connectStart >= 0 } : {}));
  cdp.on('Network.dataReceived', (p) => reqs.get(p.requestId)?.chunks.push([p.timestamp, p.dataLength]));
  cdp.on('Network.loadingFinished', (p) => Object.assign(reqs.get(p.requestId) ?? {}, { finishTs: p.timestamp }));
  cdp.on('Network.loadingFailed', (p) => Object.assign(reqs.get(p.requestId) ?? {}, { finishTs: p.timestamp, status: -1 }));
  return reqs;
}

/** The page server; `play` runs one measured join in a fresh context of `browser`. */
export class LivePageHost {
  private constructor(private readonly server: http.Server, readonly origin: string) {}

  static async start(): Promise<LivePageHost> {
    const libs = new Map<string, string>(Object.entries(LIB).flatMap(([c, m]) => (m === null ? [] : [[`/${c}.js`, readFileSync(require.resolve(m), 'utf8')] as const])));
    libs.set('/common.js', COMMON);
    const server = http.createServer((req, res) => {
      const [c, lib] = [CASES.find((x) => req.url === `/${x}`), libs.get(req.url ?? '')];
      if (c !== undefined) {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(`<!doctype html><html><head><meta charset="utf-8"></head><body><video id="v" muted autoplay playsinline></video>
${LIB[c] === null ? '' : `<script src="/${c}.js"></script>`}<script src="/common.js"></script><script>${START[c]}${STOP}</script></body></html>`);
      } else if (lib !== undefined) res.writeHead(200, { 'Content-Type': 'application/javascript' }).end(lib);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new LivePageHost(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** Join `src` with the player of `c` until the first frame (or `timeoutMs`) and return what was measured. */
  async play(browser: Browser, c: CaseName, src: string, o: { emulate: boolean; timeoutMs: number; wallOffsetMs: number | null }): Promise<LivePlay> {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      if (o.emulate) await emulateLink(cdp);
      const reqs = watchNetwork(cdp);
      await page.goto(`${this.origin}/${c}`);
      await page.evaluate(([s, w]) => void (window as unknown as { __start(src: string, w: number | null): unknown }).__start(s, w), [src, o.wallOffsetMs] as const);
      await page.waitForFunction(() => {
        const r = (window as unknown as { __r: PageRecord }).__r;
        return r.errors.some((e) => e.endsWith('/fatal')) || (r.first !== null && r.latency !== null);
      }, undefined, { timeout: o.timeoutMs, polling: 20 }).catch(() => undefined);
      const got = await page.evaluate(() => ({
        r: (window as unknown as { __r: PageRecord }).__r,
        wall: performance.timeOrigin,
        done: (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).map((e) => ({ name: e.name, end: e.responseEnd })),
      }));
      await page.evaluate(() => (window as unknown as { __stop(): Promise<void> }).__stop()).catch(() => undefined);
      // CDP timestamps (s) → page clock (ms): the median offset over the page's own scripts.
      const unused = [...reqs.values()];
      const offsets = got.done.filter((e) => e.name.startsWith(this.origin)).flatMap((e) => {
        const i = unused.findIndex((x) => x.url === e.name && x.finishTs !== null);
        return i < 0 ? [] : [e.end - unused.splice(i, 1)[0]!.finishTs! * 1000];
      }).sort((a, b) => a - b);
      const offset = offsets[Math.floor(offsets.length / 2)] ?? NaN;
      const at = (ts: number | null) => (ts === null ? null : ts * 1000 + offset - got.r.mark);
      const ttff = got.r.first === null ? null : got.r.first.presentation ?? got.r.first.now;
      const until = ttff ?? Number.POSITIVE_INFINITY;
      const requests = [...reqs.values()].filter((x) => x.url.startsWith(new URL(src).origin)).map((x): LiveRequest => ({
        url: x.url, method: x.method, startMs: at(x.ts)!, headersMs: at(x.headersTs), endMs: at(x.finishTs), status: x.status, newConnection: x.newConnection,
        bytes: x.chunks.filter(([ts]) => at(ts)! <= until).reduce((s, [, n]) => s + n, 0),
      })).sort((a, b) => a.startMs - b.startMs);
      return { ttffMs: ttff, markWallMs: got.wall + got.r.mark, firstFrameVia: got.r.via || 'none', playingMs: got.r.playingMs, latency: got.r.latency ?? {}, info: got.r.info, requests, events: got.r.events, errors: got.r.errors };
    } finally {
      await context.close();
    }
  }
}
