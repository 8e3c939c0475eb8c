/**
 * Real players in headless Debian Chromium for tests: hls.js or dash.js load a URL on a Strom
 * server and play. The player page is served by a tiny HTTP server on another loopback port, so
 * every media request is a real cross-origin request to Strom (CORS tested). A real server rather
 * than Playwright routing: Chromium's Local Network Access blocks routed origins from loopback.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';

const require = createRequire(import.meta.url);

/** Chromium flags that work on this closed-network machine (SPECS.md "Real clients"). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required', '--mute-audio'];

/** Launch headless Chromium (/usr/bin/chromium or $CHROMIUM_PATH), with `args` (CHROMIUM_ARGS unless told). */
export function launchBrowser(args: string[] = CHROMIUM_ARGS): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args });
}

/** What a playback run observed. */
export interface PlayResult {
  /** Player errors (fatal or not), as "type/details" strings. */
  errors: string[];
  /** video.currentTime when the run ended. */
  currentTime: number;
  duration: number;
  ended: boolean;
  /** Media URLs the page requested (from the browser's point of view). */
  requests: string[];
  /** Extra values the page script recorded (levels, latency, …). */
  info: Record<string, unknown>;
}

/** Options for `playInBrowser`. */
export interface PlayOptions {
  player: 'hls' | 'dash';
  src: string;
  /** Stop when the video ends (VOD) … */
  untilEnded?: boolean;
  /** … or once currentTime reaches this many seconds. */
  untilTime?: number;
  timeoutMs?: number;
  /** hls.js config object (JSON-serialisable), e.g. { lowLatencyMode: true, cmcd: {...} }. */
  hlsConfig?: Record<string, unknown>;
  /** dash.js settings object for player.updateSettings. */
  dashSettings?: Record<string, unknown>;
  /** dash.js protection data (player.setProtectionData), e.g. { 'org.w3.clearkey': { serverURL } }. */
  dashProtection?: Record<string, unknown>;
  /** Extra headers for every request the page makes. */
  headers?: Record<string, string>;
  /** … or once a text track of the video has an active cue with this text (captions). */
  untilCue?: string;
  /** Called with the page before it loads (CDP sessions, network emulation). */
  onPage?: (page: Page) => Promise<void>;
}

function playerPage(o: PlayOptions): string {
  const script = o.player === 'hls' ? 'hls.min.js' : 'dash.all.min.js';
  const start = o.player === 'hls'
    ? `const hls = new Hls(${JSON.stringify(o.hlsConfig ?? {})});
       window.__player = hls;
       hls.on(Hls.Events.ERROR, (_e, d) => { window.__errors.push(d.type + '/' + d.details + (d.fatal ? '/fatal' : '')); if (d.error && !window.__info.firstError) window.__info.firstError = d.details + ': ' + d.error.message; });
       hls.on(Hls.Events.MANIFEST_PARSED, (_e, d) => { window.__info.levels = d.levels.map(l => l.height); window.__info.subtitleTracks = d.subtitleTracks.map(t => t.lang + ':' + t.name); });
       hls.on(Hls.Events.LEVEL_LOADED, (_e, d) => { window.__info.live = d.details.live; window.__info.partList = !!(d.details.partList && d.details.partList.length); });
       hls.on(Hls.Events.FRAG_BUFFERED, () => { window.__info.latency = hls.latency; }); /* LL-HLS latency (s) as hls.js estimates it */
       hls.loadSource(${JSON.stringify(o.src)}); hls.attachMedia(v);`
    : `const p = dashjs.MediaPlayer().create();
       window.__player = p;
       p.updateSettings(${JSON.stringify(o.dashSettings ?? {})});
       ${o.dashProtection ? `p.setProtectionData(${JSON.stringify(o.dashProtection)});` : ''}
       p.on(dashjs.MediaPlayer.events.ERROR, (e) => window.__errors.push('dash/' + JSON.stringify(e.error && (e.error.code || e.error.message) || e)));
       p.initialize(v, ${JSON.stringify(o.src)}, true);`;
  return `<!doctype html><html><body><video id="v" muted autoplay playsinline></video>
<script src="/${script}"></script>
<script>
window.__errors = []; window.__info = {};
const v = document.getElementById('v');
v.addEventListener('error', () => { window.__errors.push('media/' + (v.error && v.error.code)); window.__info.mediaError = v.error && v.error.message; });
${start}
v.play().catch(() => {});
</script></body></html>`;
}

function playerScript(player: 'hls' | 'dash'): string {
  const file = player === 'hls' ? require.resolve('hls.js/dist/hls.min.js') : require.resolve('dashjs') /* the package's "require" export is the UMD build */;
  return readFileSync(file, 'utf8');
}

/** Open a page on `browser`, play `o.src` with a real player, and report what happened. */
export async function playInBrowser(browser: Browser, o: PlayOptions): Promise<PlayResult> {
  const pageServer = http.createServer((req, res) => {
    if (req.url === '/') return void res.writeHead(200, { 'Content-Type': 'text/html' }).end(playerPage(o));
    const player = req.url?.includes('dash') ? 'dash' : 'hls';
    res.writeHead(200, { 'Content-Type': 'application/javascript' }).end(playerScript(player));
  });
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
  const page: Page = await browser.newPage();
  const requests: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(origin)) requests.push(r.url());
  });
  if (o.headers) await page.setExtraHTTPHeaders(o.headers);
  try {
    if (o.onPage) await o.onPage(page);
    await page.goto(`${origin}/`);
    const timeout = o.timeoutMs ?? 60_000;
    await page.waitForFunction(
      ({ untilEnded, untilTime, untilCue }) => {
        const v = document.getElementById('v') as HTMLVideoElement;
        const errs = (window as unknown as { __errors: string[] }).__errors;
        if (errs.some((e) => e.includes('fatal') || e.startsWith('media/') || e.startsWith('dash/'))) return true;
        if (untilEnded) return v.ended;
        if (untilCue !== null) return Array.from(v.textTracks).some((t) => Array.from(t.activeCues ?? []).some((c) => (c as VTTCue).text === untilCue)) || v.ended;
        return v.currentTime >= (untilTime ?? 1);
      },
      { untilEnded: o.untilEnded ?? false, untilTime: o.untilTime, untilCue: o.untilCue ?? null },
      { timeout, polling: 100 },
    ).catch(() => undefined);
    const state = await page.evaluate(() => {
      const v = document.getElementById('v') as HTMLVideoElement;
      const w = window as unknown as { __errors: string[]; __info: Record<string, unknown> };
      // Text tracks as the page sees them (captions): their cues and the ones active now.
      w.__info.textTracks = Array.from(v.textTracks).map((t) => ({
        kind: t.kind, label: t.label, language: t.language, mode: t.mode, cues: t.cues?.length ?? 0,
        active: Array.from(t.activeCues ?? []).map((c) => (c as VTTCue).text),
      }));
      return { errors: w.__errors, currentTime: v.currentTime, duration: v.duration, ended: v.ended, info: w.__info };
    });
    return { ...state, requests };
  } finally {
    await page.close();
    pageServer.closeAllConnections();
    await new Promise((resolve) => pageServer.close(resolve));
  }
}
