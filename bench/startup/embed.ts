/**
 * Time to first frame of a whole page load: Strom's embed page (`/embed/<id>`) over HTTP/2 with
 * 103 Early Hints, the same page over HTTP/1.1 (its `<link rel=preload>`s only), and the reference
 * — the plain ffmpeg `-hls_time 2` ladder of vod.ts served by nginx with a page that loads hls.js
 * and plays its master (default hls.js config). Unlike vod.ts (which times hls.js from loadSource
 * in a harness page), this times what a viewer waits for: from navigation start (timeOrigin) to the
 * first frame presented (requestVideoFrameCallback presentationTime), page and player code included.
 *
 *   npx tsx bench/startup/embed.ts [--rounds 7] [--network loopback|emulated|both]
 *
 * Strom runs from the working tree (src/ through tsx, web/dist as built): one instance on plain
 * HTTP and one with `tls.selfSigned` on a copy of its data directory, Chromium trusting that key
 * by its SPKI hash (a browser does not use Early Hints or preloads from a site whose certificate it
 * rejects). Each play: a fresh browser context (empty cache, new connections); rounds rotate the
 * order of the cases; emulated = CDP 40 ms latency, 20 Mbit/s. Product target: ≤ 0.8× the reference.
 */
import { cpSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_ARGS } from '../../test/helpers/browser.js';
import { freePort } from '../../test/helpers/free-port.js';
import { spkiHash } from '../../src/http/tls-self-signed.js';
import { EMULATED } from './player-page.js';
import { makeSource, packageReference, startNginx } from './reference-ladder.js';
import { terminate, waitPort } from '../../test/helpers/child-process.js';
import { checkoutCode, ingest, ROOT, startStromServer } from './strom-server.js';

const require = createRequire(import.meta.url);
const { values: opt } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, network: { type: 'string', default: 'both' }, timeline: { type: 'boolean', default: false } } });
const ROUNDS = Number(opt.rounds);
const NETWORKS = opt.network === 'both' ? ['loopback', 'emulated'] : [opt.network];
const CASES = ['strom h2 + Early Hints', 'strom HTTP/1.1', 'reference'] as const;
type CaseName = (typeof CASES)[number];

const REFERENCE_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>reference</title>
<script src="/hls.min.js"></script></head><body style="margin:0;background:#000">
<video muted autoplay playsinline style="width:100%;height:100vh"></video>
<script>const v = document.querySelector('video'); const hls = new Hls(); hls.attachMedia(v); hls.loadSource('/master.m3u8'); v.play().catch(() => {});</script>
</body></html>`;

/** Registered before any page script: the first presented frame's time from navigation start. */
const FIRST_FRAME_HOOK = `window.__ff = null; window.__ev = [];
document.addEventListener('DOMContentLoaded', () => {
  window.__ev.push(['DOMContentLoaded', performance.now()]);
  const v = document.querySelector('video');
  if (!v) return;
  v.requestVideoFrameCallback((_now, m) => { window.__ff = m.presentationTime; });
  for (const n of ['loadstart', 'loadedmetadata', 'loadeddata', 'canplay', 'playing', 'waiting', 'seeking']) v.addEventListener(n, () => window.__ev.push(['video ' + n, performance.now()]));
});`;

/** A page's timeline: resources (start → end, how initiated) and video element events, ms from navigation start. */
interface Timeline { resources: Array<[string, number, number, string]>; events: Array<[string, number]> }

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;

async function startTlsStrom(dataDir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'main.ts'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--data', dataDir,
    '--tls-self-signed', '--set', 'rtmp.enabled=false', '--set', 'logLevel=warn'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
  await waitPort(port, child, 60_000, () => out);
  return { url: `https://127.0.0.1:${port}`, stop: () => terminate(child) };
}

/** One page load until its first frame; null when none within 30 s. */
async function play(browser: Browser, url: string, emulate: boolean): Promise<{ ttff: number | null; earlyHints: number; timeline: Timeline }> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.addInitScript(FIRST_FRAME_HOOK);
    if (emulate) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', EMULATED);
    }
    await page.goto(url);
    const ok = await page.waitForFunction(() => (window as unknown as { __ff: number | null }).__ff !== null, undefined, { timeout: 30_000, polling: 20 }).then(() => true, () => false);
    // Awaited here: the finally below closes the context.
    return await page.evaluate((got) => ({
      ttff: got ? (window as unknown as { __ff: number }).__ff : null,
      earlyHints: performance.getEntriesByType('resource').filter((e) => (e as PerformanceResourceTiming).initiatorType === 'early-hints').length,
      timeline: {
        resources: (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).map((e) => [e.name.replace(location.origin, ''), e.startTime, e.responseEnd, e.initiatorType] as [string, number, number, string]),
        events: (window as unknown as { __ev: Array<[string, number]> }).__ev,
      },
    }), ok);
  } finally {
    await context.close();
  }
}

/** The median play's timeline (--timeline). */
function printTimeline(c: string, plays: Array<{ ttff: number; timeline: Timeline }>): void {
  const median = [...plays].sort((a, b) => a.ttff - b.ttff)[Math.floor((plays.length - 1) / 2)];
  if (!median) return;
  console.log(`-- ${c}: median play, first frame at ${median.ttff.toFixed(1)} ms`);
  const rows = [
    ...median.timeline.resources.map(([name, start, end, how]) => [start, `${start.toFixed(1).padStart(7)} → ${end.toFixed(1).padStart(7)}  ${how.padEnd(12)} ${name.slice(0, 90)}`] as const),
    ...median.timeline.events.map(([name, t]) => [t, `${t.toFixed(1).padStart(7)}            ${name}`] as const),
  ].sort((a, b) => a[0] - b[0]);
  for (const [, line] of rows) console.log(`   ${line}`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-bench-embed-'));
  const stops: Array<() => Promise<void>> = [];
  try {
    const source = await makeSource(dir);
    const refRoot = path.join(dir, 'ref');
    mkdirSync(refRoot);
    await packageReference(source, refRoot);
    writeFileSync(path.join(refRoot, 'player.html'), REFERENCE_PAGE);
    copyFileSync(require.resolve('hls.js/dist/hls.min.js'), path.join(refRoot, 'hls.min.js'));
    const nginx = await startNginx(refRoot, dir);
    stops.push(nginx.stop);
    const code = checkoutCode(false);
    const plainData = path.join(dir, 'strom-h1');
    const plain = await startStromServer(plainData, code);
    stops.push(plain.stop);
    const { id } = await ingest(plain.url, plainData, source, code);
    const tlsData = path.join(dir, 'strom-h2');
    cpSync(plainData, tlsData, { recursive: true });
    const tls = await startTlsStrom(tlsData);
    stops.push(tls.stop);
    const spki = spkiHash(readFileSync(path.join(tlsData, 'tls', 'self-signed.crt'), 'utf8'));
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${spki}`] });
    stops.push(() => browser.close());
    const urls: Record<CaseName, string> = {
      'strom h2 + Early Hints': `${tls.url}/embed/${id}?autoplay=1`,
      'strom HTTP/1.1': `${plain.url}/embed/${id}?autoplay=1`,
      reference: `${nginx.url}/player.html`,
    };
    for (const c of CASES) {
      const w = await play(browser, urls[c], false); // warm-up: server caches, page cache of the OS
      if (w.ttff === null) throw new Error(`no first frame on ${urls[c]}`);
    }
    for (const net of NETWORKS) {
      const got = Object.fromEntries(CASES.map((c) => [c, [] as number[]])) as Record<CaseName, number[]>;
      const hinted = Object.fromEntries(CASES.map((c) => [c, [] as number[]])) as Record<CaseName, number[]>;
      const timelines = Object.fromEntries(CASES.map((c) => [c, [] as Array<{ ttff: number; timeline: Timeline }>])) as Record<CaseName, Array<{ ttff: number; timeline: Timeline }>>;
      for (let r = 0; r < ROUNDS; r++) {
        for (let k = 0; k < CASES.length; k++) {
          const c = CASES[(r + k) % CASES.length]!;
          const p = await play(browser, urls[c], net === 'emulated');
          if (p.ttff !== null) {
            got[c].push(p.ttff);
            timelines[c].push({ ttff: p.ttff, timeline: p.timeline });
          }
          hinted[c].push(p.earlyHints);
        }
      }
      console.log(`\n== ${net}${net === 'emulated' ? ' (CDP: 40 ms latency, 20 Mbit/s)' : ''}: page navigation → first frame, ${ROUNDS} rounds`);
      console.log('case                      TTFF p50   TTFF p90  plays  early-hints entries p50  ÷ reference');
      const ref = pct(got.reference, 50);
      for (const c of CASES) {
        const p50 = pct(got[c], 50);
        console.log(`${c.padEnd(24)} ${p50.toFixed(1).padStart(8)} ms ${pct(got[c], 90).toFixed(1).padStart(8)} ms  ${String(got[c].length).padStart(5)}  ${String(pct(hinted[c], 50)).padStart(23)}  ${c === 'reference' ? '' : `${(p50 / ref).toFixed(2)}×`}`);
      }
      if (opt.timeline) for (const c of CASES) printTimeline(c, timelines[c]);
    }
  } finally {
    for (const s of stops.reverse()) await s().catch((e: unknown) => console.error('cleanup:', e));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
