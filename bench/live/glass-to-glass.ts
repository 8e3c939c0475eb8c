/**
 * Glass-to-glass latency of LL-HLS (hls.js, lowLatencyMode) and LL-DASH (dash.js, low-latency
 * catch-up) against an in-process Strom: ffmpeg publishes a live 640x360@30 test pattern over RTMP,
 * headless Chromium plays it, and after a settle period the script samples every 500 ms
 *   - hls.js:  Date.now() − hls.playingDate (PROGRAM-DATE-TIME of the frame being presented),
 *   - dash.js: player.getCurrentLiveLatency() (s, on the clock synced from Strom's UTCTiming).
 * Both figures start at the server's arrival clock (PDT = dts + smallest arrival−dts offset), so
 * the encoder and the RTMP hop are NOT included; they are measured separately as the ingest lag of
 * every video frame: arrival at the server − (publish.start wall time + frame dts).
 * Measures and prints; asserts nothing. Bounded (< 3 min), cleans up ffmpeg, Chromium, temp dirs.
 *   npx tsx bench/live/glass-to-glass.ts [sampleSeconds=20] [settleSeconds=8]
 * (G2G_DEBUG=1 also prints every sample.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { pino } from 'pino';
import { buildStrom, type Strom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { launchBrowser } from '../../test/helpers/browser.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { cleanup, cleanups } from './cleanup-stack.js';

const require = createRequire(import.meta.url);

const sampleSeconds = Number(process.argv[2] ?? 20);
const settleSeconds = Number(process.argv[3] ?? 8);
const PART_TARGET_MS = 334; // 10 frames at 30 fps (FLV ms timestamps round to 333/334)
const SEGMENT_TARGET_MS = 1000; // = the 1 s GOP (-g 30 at 30 fps): exact DASH template
const DASH_LIVE_DELAY_S = 1.5;
const TARGETS = { 'LL-HLS': 2.0, 'LL-DASH': 2.5 } as const;
const HARD_LIMIT_MS = 170_000;

type Protocol = keyof typeof TARGETS;

interface Sample { latencyS: number; currentTime: number; rate: number; hlsLatencyS?: number; astLatencyS?: number; targetS?: number; bufferS?: number }
interface RunResult {
  protocol: Protocol;
  samples: Sample[];
  ingestLagMs: number[];
  firstFrameLagMs: number | null;
  errors: string[];
  stalls: number;
  loadBefore: number[];
  loadAfter: number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const load = () => loadavg().map((x) => Number(x.toFixed(2)));

/* ---------- processes and resources, all released by cleanup() (cleanup-stack.ts) ---------- */
const watchdog = setTimeout(() => {
  console.error(`hard limit ${HARD_LIMIT_MS / 1000} s reached; cleaning up`);
  void cleanup().finally(() => process.exit(2));
}, HARD_LIMIT_MS);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().finally(() => process.exit(130)));

/* ---------- the player page (own page: we keep it open and sample it) ---------- */
function playerPage(protocol: Protocol, src: string): string {
  const start = protocol === 'LL-HLS'
    ? `const hls = new Hls({ lowLatencyMode: true });
       window.__player = hls;
       hls.on(Hls.Events.ERROR, (_e, d) => window.__errors.push(d.type + '/' + d.details + (d.fatal ? '/fatal' : '')));
       hls.loadSource(${JSON.stringify(src)}); hls.attachMedia(v);
       window.__sample = () => ({ latencyS: hls.playingDate ? (Date.now() - hls.playingDate.getTime()) / 1000 : NaN,
         hlsLatencyS: hls.latency, currentTime: v.currentTime, rate: v.playbackRate });`
    : `const p = dashjs.MediaPlayer().create();
       window.__player = p;
       p.updateSettings(${JSON.stringify({ streaming: { delay: { liveDelay: DASH_LIVE_DELAY_S }, liveCatchup: { enabled: true } } })});
       p.on(dashjs.MediaPlayer.events.ERROR, (e) => window.__errors.push('dash/' + JSON.stringify(e.error && (e.error.code || e.error.message) || e)));
       p.initialize(v, ${JSON.stringify(src)}, true);
       let astMs = NaN;
       fetch(${JSON.stringify(src)}).then((r) => r.text()).then((t) => { astMs = Date.parse(/availabilityStartTime="([^"]+)"/.exec(t)[1]); });
       window.__sample = () => ({ latencyS: p.getCurrentLiveLatency(), astLatencyS: (Date.now() - astMs) / 1000 - v.currentTime,
         targetS: p.getTargetLiveDelay(), bufferS: p.getBufferLength('video'), currentTime: v.currentTime, rate: v.playbackRate });`;
  const script = protocol === 'LL-HLS' ? 'hls.min.js' : 'dash.all.min.js';
  return `<!doctype html><html><body><video id="v" muted autoplay playsinline></video>
<script src="/${script}"></script>
<script>
window.__errors = []; window.__stalls = 0;
const v = document.getElementById('v');
v.addEventListener('error', () => window.__errors.push('media/' + (v.error && v.error.code)));
v.addEventListener('waiting', () => { if (v.currentTime > 0) window.__stalls++; });
${start}
v.play().catch(() => {});
</script></body></html>`;
}

async function servePage(protocol: Protocol, src: string): Promise<string> {
  const file = protocol === 'LL-HLS' ? require.resolve('hls.js/dist/hls.min.js') : require.resolve('dashjs');
  const js = readFileSync(file, 'utf8');
  const html = playerPage(protocol, src);
  const server = http.createServer((req, res) => {
    if (req.url === '/') return void res.writeHead(200, { 'Content-Type': 'text/html' }).end(html);
    res.writeHead(200, { 'Content-Type': 'application/javascript' }).end(js);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

/* ---------- Strom, ffmpeg ---------- */
async function startStrom(): Promise<{ strom: Strom; httpUrl: string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-g2g-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const strom = await buildStrom(testConfig({
    dataDir, 'live.staticKeys': 'cam1:secret', 'llhls.partTargetMs': PART_TARGET_MS, 'llhls.segmentTargetMs': SEGMENT_TARGET_MS,
  }), pino({ level: 'silent' }));
  cleanups.push(() => strom.close());
  const { url } = await strom.listen();
  return { strom, httpUrl: url };
}

function ffmpegArgs(port: number, seconds: number): string[] {
  return ['-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30', '-bf', '0', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '96k', '-t', String(seconds), '-f', 'flv', `rtmp://127.0.0.1:${port}/live/secret`];
}

function startFfmpeg(port: number, seconds: number): ChildProcess {
  const child = spawn('ffmpeg', ffmpegArgs(port, seconds), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    if (err.trim()) console.error(`ffmpeg stderr: ${err.trim().slice(0, 500)}`);
  });
  return child;
}

/* ---------- one protocol ---------- */
async function runOne(browser: Browser, protocol: Protocol): Promise<RunResult> {
  const loadBefore = load();
  const mark = cleanups.length;
  const { strom, httpUrl } = await startStrom();

  // Publisher-side anchor and ingest lag: stamp each video frame's arrival at the stream.
  let publishAt: number | null = null;
  let firstFrameLagMs: number | null = null;
  const lags: Array<{ at: number; lag: number }> = [];
  strom.live.events.on('publish.start', (e) => {
    if (e.streamId !== 'cam1' || publishAt !== null) return;
    publishAt = Date.now();
    const stream = strom.live.registry.get('cam1')!;
    const push = stream.push.bind(stream);
    stream.push = (u: MediaUnit, bytes: number) => {
      if (u.kind === 'video' && !u.config && publishAt !== null) {
        const now = Date.now();
        const lag = now - (publishAt + u.dts);
        if (firstFrameLagMs === null) firstFrameLagMs = lag;
        lags.push({ at: now, lag });
      }
      push(u, bytes);
    };
  });

  const runSeconds = Math.ceil(settleSeconds + sampleSeconds + 25);
  startFfmpeg(strom.live.rtmp.port()!, runSeconds);
  for (let i = 0; i < 150 && !strom.live.registry.get('cam1')?.active; i++) await sleep(100);
  if (!strom.live.registry.get('cam1')?.active) throw new Error('ffmpeg did not start publishing within 15 s');

  const src = protocol === 'LL-HLS' ? `${httpUrl}/live/cam1/index.m3u8` : `${httpUrl}/live/cam1/manifest.mpd`;
  const origin = await servePage(protocol, src);
  const page: Page = await browser.newPage();
  cleanups.push(() => page.close());
  await page.goto(origin);
  await page.waitForFunction(() => (document.getElementById('v') as HTMLVideoElement).currentTime > 0, undefined, { timeout: 30_000, polling: 100 });
  await sleep(settleSeconds * 1000);

  const samples: Sample[] = [];
  const sampleFrom = Date.now();
  const sampleUntil = sampleFrom + sampleSeconds * 1000;
  for (let next = sampleFrom; next < sampleUntil; next += 500) {
    await sleep(Math.max(0, next - Date.now()));
    const s = await page.evaluate(() => (window as unknown as { __sample(): Sample }).__sample());
    if (Number.isFinite(s.latencyS) && s.latencyS > 0) samples.push(s);
  }
  const { errors, stalls } = await page.evaluate(() => {
    const w = window as unknown as { __errors: string[]; __stalls: number };
    return { errors: w.__errors, stalls: w.__stalls };
  });
  const loadAfter = load();
  // Release this protocol's page, page server, ffmpeg, Strom and temp dir before the next one.
  for (const c of cleanups.splice(mark).reverse()) await c();
  return {
    protocol, samples, errors, stalls, firstFrameLagMs, loadBefore, loadAfter,
    ingestLagMs: lags.filter((l) => l.at >= sampleFrom && l.at < sampleUntil).map((l) => l.lag),
  };
}

/* ---------- main ---------- */
const t0 = Date.now();
console.log(`glass-to-glass: llhls.partTargetMs=${PART_TARGET_MS}, llhls.segmentTargetMs=${SEGMENT_TARGET_MS}, dash.js liveDelay=${DASH_LIVE_DELAY_S} s + liveCatchup, settle ${settleSeconds} s, sample every 500 ms for ${sampleSeconds} s`);
console.log(`ffmpeg ${ffmpegArgs(0, 0).join(' ').replace('rtmp://127.0.0.1:0', 'rtmp://127.0.0.1:<port>').replace('-t 0', '-t <n>')}`);
console.log(`load average before: ${load().join(' ')}`);
const results: RunResult[] = [];
let exitCode = 0;
try {
  const browser = await launchBrowser();
  cleanups.push(() => browser.close());
  for (const protocol of ['LL-HLS', 'LL-DASH'] as const) results.push(await runOne(browser, protocol));
} catch (e) {
  console.error('bench failed:', e);
  exitCode = 1;
} finally {
  await cleanup();
  clearTimeout(watchdog);
}

const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
console.log('');
console.log('| protocol | samples | p50 latency (s) | p95 latency (s) | min / max (s) | target | met | ingest lag p50 / p95 (ms) | stalls | load before → after |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  const xs = r.samples.map((s) => s.latencyS);
  const p50 = pct(xs, 50);
  const target = TARGETS[r.protocol];
  console.log(`| ${r.protocol} | ${xs.length} | ${f(p50)} | ${f(pct(xs, 95))} | ${f(Math.min(...xs))} / ${f(Math.max(...xs))} | ≤ ${target.toFixed(1)} s | ${p50 <= target ? 'yes' : 'no'} (p95 ${pct(xs, 95) <= target ? 'yes' : 'no'}) | ${f(pct(r.ingestLagMs, 50), 0)} / ${f(pct(r.ingestLagMs, 95), 0)} (n=${r.ingestLagMs.length}) | ${r.stalls} | ${r.loadBefore[0]} → ${r.loadAfter[0]} |`);
}
console.log('');
for (const r of results) {
  if (process.env.G2G_DEBUG) for (const s of r.samples) console.log(JSON.stringify(s));
  const hl = r.samples.map((s) => s.hlsLatencyS).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  const rates = r.samples.map((s) => s.rate);
  const ast = r.samples.map((s) => s.astLatencyS).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  const targetS = r.samples.at(-1)?.targetS;
  const minLag = Math.min(...r.ingestLagMs);
  const above = r.ingestLagMs.map((x) => x - minLag);
  console.log(`${r.protocol}: first video frame lag ${r.firstFrameLagMs ?? '–'} ms after publish.start; ingest lag above its minimum p50 ${f(pct(above, 50), 0)} / p95 ${f(pct(above, 95), 0)} ms;` +
    ` playbackRate ${f(Math.min(...rates), 3)}–${f(Math.max(...rates), 3)}` +
    (hl.length ? `; hls.latency p50 ${f(pct(hl, 50))} s` : '') +
    (ast.length ? `; cross-check now − availabilityStartTime − currentTime p50 ${f(pct(ast, 50))} s` : '') +
    (targetS !== undefined ? `; dash.js getTargetLiveDelay() ${f(targetS)} s` : '') +
    `; player errors: ${r.errors.length ? r.errors.join(', ') : 'none'}`);
}
console.log(`load average after: ${load().join(' ')}; total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log('Latency = PDT (hls.js playingDate) / UTCTiming (dash.js) based: server arrival → frame presented; encoder + RTMP hop excluded (see ingest lag).');
process.exit(exitCode);
