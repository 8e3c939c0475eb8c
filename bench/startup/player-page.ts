/**
 * The browser side of bench/startup/vod.ts: one hls.js play in headless Chromium, measured.
 *
 * The player page comes from a small HTTP server on its own loopback port (so every media request
 * is cross-origin, as from a real site) and loads hls.js from node_modules. Each play gets a fresh
 * browser context (empty HTTP cache, no connections carried over), the HTTP cache disabled and,
 * for the emulated network, CDP Network.emulateNetworkConditions, all before the page loads.
 * hls.js runs with its default config. TTFF = first requestVideoFrameCallback's presentationTime
 * (or its callback time) − the performance.now() mark taken right before hls.loadSource; the
 * 'playing' event is the fallback where rVFC is missing.
 *
 * Requests: the page's own performance.getEntriesByType('resource') (name, startTime, responseEnd)
 * relative to the mark. Without Timing-Allow-Origin a cross-origin entry has responseStart,
 * transferSize and nextHopProtocol zeroed, so those come from the CDP Network events of the same
 * request (headers received, bytes on the wire incl. headers, protocol, new or reused connection).
 * CDP timestamps run on the page's monotonic clock with another origin; the offset is the median
 * of responseEnd − loadingFinished.timestamp over the play's requests (they agree within 0.1 ms).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import type { Browser, CDPSession } from 'playwright-core';

const require = createRequire(import.meta.url);

/** CDP Network.emulateNetworkConditions for the emulated case: 40 ms latency, 20 Mbit/s each way. */
export const EMULATED = { offline: false, latency: 40, downloadThroughput: 2_500_000, uploadThroughput: 2_500_000 };

/**
 * The emulated link for pages that also use WebRTC: 40 ms round trips for HTTP and for WebRTC's UDP.
 * Network.emulateNetworkConditions applies `latency` to HTTP as request → response headers (one
 * round trip) but to every WebRTC datagram in each direction, so WebRTC saw an 80–90 ms round trip
 * (ICE's measured RTT). Here HTTP requests match a rule with 40 ms; the global rule, which is the
 * one Chromium applies to peer-to-peer traffic, adds 20 ms each way.
 */
export async function emulateLink(cdp: CDPSession): Promise<void> {
  const { latency, downloadThroughput, uploadThroughput } = EMULATED;
  await cdp.send('Network.emulateNetworkConditionsByRule', { matchedNetworkConditions: [
    { urlPattern: '*://*:*/*', latency, downloadThroughput, uploadThroughput },
    { urlPattern: '', latency: latency / 2, downloadThroughput, uploadThroughput },
  ] });
}

/** One request of a play, times in ms from the loadSource mark. */
export interface RequestTiming {
  url: string;
  startMs: number;
  /** Response headers received (CDP), null if unknown. */
  responseStartMs: number | null;
  endMs: number;
  /** Bytes on the wire, headers included (CDP encodedDataLength; resource timing transferSize when exposed). */
  bytes: number;
  protocol: string;
  status: number;
  /** A new TCP connection was opened for it (CDP timing.connectStart ≥ 0). */
  newConnection: boolean | null;
  connectionId: number | null;
}

/** What the page recorded. */
interface PageRecord {
  mark: number;
  first: { now: number; presentation: number | null } | null;
  via: string;
  playingMs: number | null;
  startRendition: string | null;
  firstVideoUrl: string | null;
  firstAudioUrl: string | null;
  events: Array<{ t: number; e: string; d: string }>;
  errors: string[];
}

/** One play. */
export interface PlayRecord {
  ttffMs: number | null;
  /** 'rVFC presentationTime', 'rVFC callback' or 'playing event'. */
  firstFrameVia: string;
  playingMs: number | null;
  /** Rendition of the first main media fragment hls.js loaded (height, bitrate). */
  startRendition: string | null;
  /** URL of that fragment, and of the first fragment of a separate audio rendition (null when muxed). */
  firstVideoUrl: string | null;
  firstAudioUrl: string | null;
  requests: RequestTiming[];
  events: PageRecord['events'];
  errors: string[];
  ended: boolean;
}

const PAGE = `<!doctype html><html><body><video id="v" muted autoplay playsinline></video>
<script src="/hls.min.js"></script>
<script>
window.__start = (src, config) => {
  performance.setResourceTimingBufferSize(2000);
  const v = document.getElementById('v');
  const r = window.__r = { mark: 0, first: null, via: '', playingMs: null, startRendition: null, firstVideoUrl: null, firstAudioUrl: null, events: [], errors: [] };
  const rel = () => +(performance.now() - r.mark).toFixed(1);
  const ev = (e, d) => r.events.push({ t: rel(), e, d });
  const hls = new Hls(config || {});
  const lv = (i) => { const l = hls.levels[i]; return l ? l.height + 'p ' + Math.round(l.bitrate / 1000) + 'k' : '?'; };
  const frag = (f) => f.type + ' ' + (f.type === 'main' ? lv(f.level) : 'track ' + f.level) + ' sn ' + f.sn;
  hls.on(Hls.Events.ERROR, (_e, d) => r.errors.push(d.type + '/' + d.details + (d.fatal ? '/fatal' : '')));
  hls.on(Hls.Events.MANIFEST_PARSED, (_e, d) => ev('manifest parsed', d.levels.length + ' levels, audio tracks ' + (hls.audioTracks || []).length + ', first level ' + lv(d.firstLevel)));
  hls.on(Hls.Events.LEVEL_SWITCHING, (_e, d) => ev('level switching', lv(d.level)));
  hls.on(Hls.Events.LEVEL_LOADED, (_e, d) => ev('level loaded', lv(d.level)));
  hls.on(Hls.Events.AUDIO_TRACK_LOADED, (_e, d) => ev('audio track loaded', 'track ' + d.id));
  hls.on(Hls.Events.FRAG_LOADED, (_e, d) => {
    ev('frag loaded', frag(d.frag) + ' ' + d.frag.stats.total + ' B');
    if (r.startRendition === null && d.frag.type === 'main' && d.frag.sn !== 'initSegment') { r.startRendition = lv(d.frag.level); r.firstVideoUrl = d.frag.url; }
    if (r.firstAudioUrl === null && d.frag.type === 'audio' && d.frag.sn !== 'initSegment') r.firstAudioUrl = d.frag.url;
  });
  hls.on(Hls.Events.FRAG_BUFFERED, (_e, d) => ev('frag buffered', frag(d.frag)));
  hls.on(Hls.Events.MEDIA_ATTACHED, () => ev('media attached', ''));
  hls.on(Hls.Events.FRAG_PARSING_INIT_SEGMENT, (_e, d) => ev('init segment parsed', d.frag.type));
  hls.on(Hls.Events.BUFFER_APPENDING, (_e, d) => ev('buffer appending', d.type + ' ' + d.data.byteLength + ' B'));
  hls.on(Hls.Events.BUFFER_APPENDED, (_e, d) => ev('buffer appended', d.type + ' ' + JSON.stringify(d.timeRanges && d.timeRanges[d.type] ? Array.from({ length: d.timeRanges[d.type].length }, (_, i) => [+d.timeRanges[d.type].start(i).toFixed(3), +d.timeRanges[d.type].end(i).toFixed(3)]) : [])));
  for (const n of ['loadedmetadata', 'loadeddata', 'canplay', 'seeking', 'seeked', 'waiting']) v.addEventListener(n, () => ev('video ' + n, 'currentTime ' + v.currentTime.toFixed(3)));
  v.addEventListener('playing', () => { if (r.playingMs === null) r.playingMs = rel(); });
  if ('requestVideoFrameCallback' in v) {
    v.requestVideoFrameCallback((now, md) => {
      r.first = { now: now - r.mark, presentation: md.presentationTime ? md.presentationTime - r.mark : null };
      r.via = md.presentationTime ? 'rVFC presentationTime' : 'rVFC callback';
    });
  } else {
    v.addEventListener('playing', () => { if (!r.first) { r.first = { now: rel(), presentation: null }; r.via = 'playing event'; } });
  }
  r.mark = performance.now();
  hls.loadSource(src);
  hls.attachMedia(v);
  v.play().catch(() => {});
};
</script></body></html>`;

interface CdpRequest {
  url: string;
  headersTs: number | null;
  status: number;
  protocol: string;
  newConnection: boolean | null;
  connectionId: number | null;
  bytes: number;
  done: boolean;
  finishTs: number | null;
}

/** Follow a page's requests through CDP Network events. */
function watchNetwork(cdp: CDPSession): Map<string, CdpRequest> {
  const reqs = new Map<string, CdpRequest>();
  cdp.on('Network.requestWillBeSent', (p) => {
    if (!p.request.url.startsWith('http')) return; // blob: (hls.js's worker) never reports loadingFinished
    reqs.set(p.requestId, { url: p.request.url, headersTs: null, status: 0, protocol: '', newConnection: null, connectionId: null, bytes: 0, done: false, finishTs: null });
  });
  cdp.on('Network.responseReceived', (p) => {
    const r = reqs.get(p.requestId);
    if (!r) return;
    const t = p.response.timing;
    r.status = p.response.status;
    r.protocol = p.response.protocol ?? '';
    r.connectionId = p.response.connectionId;
    if (t) {
      r.headersTs = t.requestTime + t.receiveHeadersEnd / 1000;
      r.newConnection = t.connectStart >= 0;
    }
  });
  cdp.on('Network.loadingFinished', (p) => {
    const r = reqs.get(p.requestId);
    if (r) Object.assign(r, { bytes: p.encodedDataLength, done: true, finishTs: p.timestamp });
  });
  cdp.on('Network.loadingFailed', (p) => {
    const r = reqs.get(p.requestId);
    if (r) Object.assign(r, { status: -1, done: true });
  });
  return reqs;
}

/** The page server; `play` runs one measured play in a fresh context of `browser`. */
export class PlayerHost {
  private constructor(private readonly server: http.Server, readonly origin: string) {}

  static async start(): Promise<PlayerHost> {
    const hlsJs = readFileSync(require.resolve('hls.js/dist/hls.min.js'), 'utf8');
    const server = http.createServer((req, res) => {
      if (req.url === '/') res.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE);
      else if (req.url === '/hls.min.js') res.writeHead(200, { 'Content-Type': 'application/javascript' }).end(hlsJs);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new PlayerHost(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** Play `src` until the first frame (or to the end with `untilEnded`) and return what was measured. */
  async play(browser: Browser, src: string, o: { emulate: boolean; untilEnded: boolean; timeoutMs?: number; hlsConfig?: Record<string, unknown> }): Promise<PlayRecord> {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      if (o.emulate) await cdp.send('Network.emulateNetworkConditions', EMULATED);
      const reqs = watchNetwork(cdp);
      await page.goto(`${this.origin}/`);
      await page.evaluate(([s, c]) => (window as unknown as { __start(src: string, config: unknown): void }).__start(s, c), [src, o.hlsConfig ?? {}] as const);
      await page.waitForFunction((untilEnded) => {
        const r = (window as unknown as { __r: PageRecord }).__r;
        if (r.errors.some((e) => e.endsWith('/fatal'))) return true;
        return untilEnded ? (document.getElementById('v') as HTMLVideoElement).ended : r.first !== null;
      }, o.untilEnded, { timeout: o.timeoutMs ?? 60_000, polling: 20 }).catch(() => undefined);
      // Entries appear when a request completes: let the ones in flight now finish (≤ 15 s).
      const pending = [...reqs.values()].filter((r) => !r.done);
      for (let i = 0; i < 300 && pending.some((r) => !r.done); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      const got = await page.evaluate(() => {
        const w = window as unknown as { __r: PageRecord };
        const entries = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
        return {
          r: w.__r,
          ended: (document.getElementById('v') as HTMLVideoElement).ended,
          entries: entries.map((e) => ({ name: e.name, startTime: e.startTime, responseStart: e.responseStart, responseEnd: e.responseEnd, transferSize: e.transferSize, nextHopProtocol: e.nextHopProtocol })),
        };
      });
      // Pair entries with CDP requests by URL, in order. CDP timestamps and the page's clock are one
      // monotonic clock with another origin: responseEnd − loadingFinished gives the offset.
      const unused = [...reqs.values()];
      const paired = got.entries.map((e) => {
        const i = unused.findIndex((c) => c.url === e.name);
        return { e, c: i >= 0 ? unused.splice(i, 1)[0] : undefined };
      });
      const offsets = paired.flatMap(({ e, c }) => (c?.finishTs ? [e.responseEnd - c.finishTs * 1000] : [])).sort((a, b) => a - b);
      const offset = offsets[Math.floor(offsets.length / 2)];
      const mediaOrigin = new URL(src).origin;
      const requests: RequestTiming[] = [];
      for (const { e, c } of paired) {
        if (!e.name.startsWith(mediaOrigin)) continue;
        const at = (ts: number | null | undefined) => (ts != null && offset !== undefined ? ts * 1000 + offset - got.r.mark : null);
        requests.push({
          url: e.name,
          startMs: e.startTime - got.r.mark,
          responseStartMs: e.responseStart > 0 ? e.responseStart - got.r.mark : at(c?.headersTs),
          endMs: e.responseEnd - got.r.mark,
          bytes: e.transferSize > 0 ? e.transferSize : c?.bytes ?? 0,
          protocol: e.nextHopProtocol || (c?.protocol ?? ''),
          status: c?.status ?? 0,
          newConnection: c?.newConnection ?? null,
          connectionId: c?.connectionId ?? null,
        });
      }
      requests.sort((a, b) => a.startMs - b.startMs);
      const f = got.r.first;
      return {
        ttffMs: f === null ? null : f.presentation ?? f.now,
        firstFrameVia: got.r.via || 'none',
        playingMs: got.r.playingMs,
        startRendition: got.r.startRendition,
        firstVideoUrl: got.r.firstVideoUrl,
        firstAudioUrl: got.r.firstAudioUrl,
        requests,
        events: got.r.events,
        errors: got.r.errors,
        ended: got.ended,
      };
    } finally {
      await context.close();
    }
  }
}
