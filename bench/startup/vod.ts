/**
 * VOD time to first frame (TTFF) in headless Chromium with hls.js: Strom against a plain
 * ffmpeg + nginx packaging of the same source, in one run, and where the milliseconds go.
 *
 *   npx tsx bench/startup/vod.ts [--rounds 7] [--network loopback|emulated|both] [--full] [--keep]
 *   npx tsx bench/startup/vod.ts --strom-ref HEAD      # a commit's src/ (git archive), not the working tree
 *   npx tsx bench/startup/vod.ts --dist                # the checkout's compiled dist/
 *   npx tsx bench/startup/vod.ts --strom-url http://127.0.0.1:8080 --asset <videoId>   # an existing server
 *
 * Source: 10 s of 1280×720 30 fps testsrc2 + 440 Hz sine, libx264 + AAC in mp4 (ffmpeg lavfi).
 * Strom: `strom serve` as a child process (the working tree's src/ through tsx by default) on a temp
 * data dir with the `strom serve` defaults (RTMP off), the source ingested through the REST API
 * (token from `strom token create`, multipart POST /api/v1/video/upload) until `ready`; played
 * at /v/<id>/master.m3u8 — Strom's own ladder, segment length and audio rendition, as shipped.
 * With --strom-url/--asset that server and asset are measured instead (nothing is started).
 * Reference: the same source by ffmpeg `-f hls -hls_time 2 -hls_segment_type fmp4
 * -hls_playlist_type vod`, 720p/480p/360p with audio muxed into each variant and a master from
 * -master_pl_name, served by nginx (sendfile, access log off, CORS *). Both on 127.0.0.1.
 *
 * Each play: a fresh browser context (empty cache, new connections), hls.js default config, TTFF
 * from the performance.now() mark before hls.loadSource to the first requestVideoFrameCallback
 * (bench/startup/player-page.ts). Rounds alternate which case goes first. Networks: loopback as
 * is, and emulated with CDP Network.emulateNetworkConditions (40 ms latency, 20 Mbit/s each way).
 * One unmeasured warm-up play per case first (server caches, page cache).
 *
 * Prints per network: median and p90 (nearest rank: the slowest of 7) TTFF, median requests
 * started before the first frame and their bytes, when the first video segment was requested and
 * its size, the rendition hls.js started on, Strom ÷ reference (product target: ≤ 0.8×); the
 * phases (master loaded → first video segment requested → first video and separate-audio segments
 * loaded → first frame), connections opened and time to response headers on new and reused
 * connections; then the request timeline of each case's median play with hls.js's events.
 * --full also plays each case once to the end (total requests and bytes). Raw results:
 * bench/results/startup-<timestamp>.json.
 *
 * Caveat: CDP emulation delays each request by the latency; it does not model TCP or TLS
 * handshakes, so on a real network every extra connection costs more than it does here.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../../test/helpers/browser.js';
import { makeSource, packageReference, startNginx } from './reference-ladder.js';
import { checkoutCode, codeAtRev, ingest, ROOT, startStromServer } from './strom-server.js';
import { PlayerHost, type PlayRecord, type RequestTiming } from './player-page.js';

const { values: opt } = parseArgs({ options: {
  rounds: { type: 'string', default: '7' },
  network: { type: 'string', default: 'both' },
  full: { type: 'boolean', default: false },
  keep: { type: 'boolean', default: false },
  dist: { type: 'boolean', default: false },
  'strom-ref': { type: 'string' },
  'strom-url': { type: 'string' },
  asset: { type: 'string' },
  'hls-config': { type: 'string' },
} });
const HLS_CONFIG = opt['hls-config'] === undefined ? undefined : JSON.parse(opt['hls-config']) as Record<string, unknown>;
const ROUNDS = Number(opt.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds expects a positive integer, got ${opt.rounds}`);
if (!['loopback', 'emulated', 'both'].includes(opt.network)) throw new Error(`--network expects loopback, emulated or both, got ${opt.network}`);
if ((opt['strom-url'] === undefined) !== (opt.asset === undefined)) throw new Error('--strom-url and --asset go together');
if ([opt['strom-url'] !== undefined, opt['strom-ref'] !== undefined, opt.dist].filter(Boolean).length > 1) throw new Error('choose one of --strom-url, --strom-ref, --dist');
const NETWORKS = opt.network === 'both' ? ['loopback', 'emulated'] as const : [opt.network as 'loopback' | 'emulated'];
type Net = (typeof NETWORKS)[number];
const CASES = ['strom', 'reference'] as const;
type CaseName = (typeof CASES)[number];

const cleanups: Array<() => Promise<unknown> | unknown> = [];
async function cleanup(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch((e: unknown) => console.error('cleanup:', e));
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
/** Nearest-rank percentile. */
const pct = (xs: number[], p: number) => sorted(xs)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;
const ms = (x: number | null) => (x === null || Number.isNaN(x) ? '—' : x.toFixed(1));
const kb = (b: number) => `${(b / 1000).toFixed(1)} kB`;

/** Requests started before the first frame. */
function beforeFirstFrame(p: PlayRecord): RequestTiming[] {
  return p.ttffMs === null ? [] : p.requests.filter((r) => r.startMs < p.ttffMs!);
}

function summarize(plays: PlayRecord[]) {
  const ok = plays.filter((p) => p.ttffMs !== null);
  const ttff = ok.map((p) => p.ttffMs!);
  const before = ok.map(beforeFirstFrame);
  const firstSeg = ok.map((p) => p.requests.find((r) => r.url === p.firstVideoUrl)).filter((r) => r !== undefined);
  const errors: Record<string, number> = {};
  for (const p of plays) for (const e of new Set(p.errors)) errors[e] = (errors[e] ?? 0) + 1;
  const renditions = new Map<string, number>();
  for (const p of ok) renditions.set(p.startRendition ?? '?', (renditions.get(p.startRendition ?? '?') ?? 0) + 1);
  return {
    plays: plays.length, failed: plays.length - ok.length,
    ttffP50: pct(ttff, 50), ttffP90: pct(ttff, 90),
    requestsBeforeP50: pct(before.map((b) => b.length), 50),
    bytesBeforeP50: pct(before.map((b) => b.reduce((s, r) => s + r.bytes, 0)), 50),
    firstSegmentStartP50: pct(firstSeg.map((r) => r.startMs), 50),
    firstSegmentBytesP50: pct(firstSeg.map((r) => r.bytes), 50),
    connectionsBeforeP50: pct(before.map((b) => new Set(b.map((r) => r.connectionId)).size), 50),
    ttfbNewConnP50: pct(before.flat().filter((r) => r.newConnection === true && r.responseStartMs !== null).map((r) => r.responseStartMs! - r.startMs), 50),
    ttfbReusedP50: pct(before.flat().filter((r) => r.newConnection === false && r.responseStartMs !== null).map((r) => r.responseStartMs! - r.startMs), 50),
    // Phases of a play: loadSource → master loaded → first video segment requested (playlist chain)
    // → its last byte and that of the first separate-audio segment (media fetch) → first frame
    // (hls.js transmux/append, decode, present).
    masterEndP50: pct(ok.map((p) => p.requests[0]?.endMs ?? NaN), 50),
    mediaDoneP50: pct(ok.map((p) => Math.max(...p.requests.filter((r) => r.url === p.firstVideoUrl || r.url === p.firstAudioUrl).map((r) => r.endMs))).filter(Number.isFinite), 50),
    startRenditions: Object.fromEntries(renditions),
    errors,
    firstFrameVia: [...new Set(ok.map((p) => p.firstFrameVia))].join(', '),
    /** The play with the median TTFF (the lower one for an even count). */
    median: ok.length ? [...ok].sort((a, b) => a.ttffMs! - b.ttffMs!)[Math.floor((ok.length - 1) / 2)]! : null,
  };
}
type Summary = ReturnType<typeof summarize>;

function shortPath(u: string): string {
  return new URL(u).pathname.replace(/^\/v\/[^/]+\//, '');
}

function printTable(net: Net, s: Record<CaseName, Summary>): void {
  console.log(`\n== ${net}${net === 'emulated' ? ' (CDP: 40 ms latency, 20 Mbit/s)' : ''}: TTFF over ${ROUNDS} rounds, first frame by ${s.strom.firstFrameVia || s.reference.firstFrameVia}`);
  const head = ['case', 'TTFF p50', 'TTFF p90', 'req<FF p50', 'bytes<FF p50', '1st video seg req at', '1st video seg bytes', 'start rendition', 'Strom/ref'];
  const rows = CASES.map((c) => [c, `${ms(s[c].ttffP50)} ms`, `${ms(s[c].ttffP90)} ms`, String(s[c].requestsBeforeP50), kb(s[c].bytesBeforeP50),
    `${ms(s[c].firstSegmentStartP50)} ms`, kb(s[c].firstSegmentBytesP50), Object.entries(s[c].startRenditions).map(([k, n]) => `${k} ×${n}`).join(', '),
    c === 'strom' ? `${(s.strom.ttffP50 / s.reference.ttffP50).toFixed(2)}× (target ≤ 0.80×)` : '']);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) console.log(r.map((x, i) => (i === 0 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('  '));
  console.log('phases (medians over plays, ms from loadSource): master loaded → 1st video segment requested → 1st video (+ audio) segment loaded → first frame');
  for (const c of CASES) {
    console.log(`  ${c.padEnd(9)}  ${ms(s[c].masterEndP50).padStart(7)} → ${ms(s[c].firstSegmentStartP50).padStart(7)} → ${ms(s[c].mediaDoneP50).padStart(7)} → ${ms(s[c].ttffP50).padStart(7)}`
      + `   connections before FF ${s[c].connectionsBeforeP50}; time to response headers p50: new connection ${ms(s[c].ttfbNewConnP50)} ms, reused ${ms(s[c].ttfbReusedP50)} ms`);
  }
  for (const c of CASES) {
    if (s[c].failed) console.log(`  ${c}: ${s[c].failed} play(s) without a first frame (excluded)`);
    const errs = Object.entries(s[c].errors).map(([e, n]) => `${e} ×${n}`).join(', ');
    if (errs) console.log(`  ${c}: hls.js errors (plays with each): ${errs}`);
  }
}

function printTimeline(net: Net, c: CaseName, p: PlayRecord): void {
  const ttff = p.ttffMs!;
  console.log(`\n-- ${c}, ${net}: median play, TTFF ${ms(ttff)} ms (${p.firstFrameVia}; 'playing' at ${ms(p.playingMs)} ms), started on ${p.startRendition ?? '?'}`);
  console.log('   #    start  headers      end    bytes  conn       request');
  const before = beforeFirstFrame(p);
  before.forEach((r, i) => {
    const conn = r.newConnection === null ? '?' : `${r.newConnection ? 'new' : 'reuse'} ${r.connectionId ?? ''}`;
    console.log(`${String(i + 1).padStart(4)} ${ms(r.startMs).padStart(8)} ${ms(r.responseStartMs).padStart(8)} ${ms(r.endMs).padStart(8)} ${String(r.bytes).padStart(8)}  ${conn.padEnd(9)}  ${shortPath(r.url)}${r.status !== 200 ? ` (status ${r.status})` : ''}`);
  });
  console.log(` ${'FF'.padStart(3)} ${ms(ttff).padStart(8)}  first frame; ${p.requests.length - before.length} more request(s) started after it while in-flight ones finished`);
  console.log('   hls.js events before the first frame:');
  for (const e of p.events.filter((x) => x.t <= ttff)) console.log(`   ${ms(e.t).padStart(8)}  ${e.e}: ${e.d}`);
  if (p.errors.length) console.log(`   hls.js errors: ${p.errors.join(', ')}`);
}

async function main(): Promise<void> {
  const load0 = loadavg();
  const work = mkdtempSync(path.join(tmpdir(), 'strom-bench-startup-'));
  if (!opt.keep) cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  for (const d of ['ref', 'nginx', 'strom-data', 'strom-code']) mkdirSync(path.join(work, d));
  console.error(`work dir ${work}; making the 10 s 720p source and the reference ladder…`);
  const source = await makeSource(work);
  await packageReference(source, path.join(work, 'ref'));
  const nginx = await startNginx(path.join(work, 'ref'), path.join(work, 'nginx'));
  cleanups.push(nginx.stop);

  let stromUrl = opt['strom-url'];
  let asset = opt.asset;
  let ingestMs: number | null = null;
  let code = `external server ${stromUrl ?? ''}`;
  if (stromUrl === undefined || asset === undefined) {
    const c = opt['strom-ref'] !== undefined ? codeAtRev(opt['strom-ref'], path.join(work, 'strom-code')) : checkoutCode(opt.dist);
    code = c.label;
    console.log(`Strom code: ${code}`);
    const server = await startStromServer(path.join(work, 'strom-data'), c);
    cleanups.push(server.stop);
    stromUrl = server.url;
    ({ id: asset, ingestMs } = await ingest(server.url, path.join(work, 'strom-data'), source, c));
    console.error(`video ${asset} ready ${(ingestMs / 1000).toFixed(1)} s after the upload started`);
  }
  const src: Record<CaseName, string> = { strom: `${stromUrl.replace(/\/$/, '')}/v/${asset}/master.m3u8`, reference: `${nginx.url}/master.m3u8` };
  const masters: Record<string, string> = {};
  for (const c of CASES) {
    const r = await fetch(src[c]);
    masters[c] = await r.text();
    if (r.status !== 200 || !masters[c]!.startsWith('#EXTM3U')) throw new Error(`${c}: ${src[c]} answered ${r.status}`);
    console.log(`\n${c} master (${src[c]}):\n${masters[c]!.trim()}`);
  }

  const browser: Browser = await launchBrowser();
  cleanups.push(() => browser.close());
  const host = await PlayerHost.start();
  cleanups.push(() => host.close());
  for (const c of CASES) {
    const w = await host.play(browser, src[c], { emulate: false, untilEnded: false, hlsConfig: HLS_CONFIG });
    if (w.ttffMs === null) throw new Error(`${c}: warm-up play showed no frame (errors: ${w.errors.join(', ') || 'none'})`);
  }

  const plays: Record<Net, Record<CaseName, PlayRecord[]>> = { loopback: { strom: [], reference: [] }, emulated: { strom: [], reference: [] } };
  for (let round = 0; round < ROUNDS; round++) {
    for (const net of NETWORKS) {
      const order = round % 2 === 0 ? CASES : [...CASES].reverse();
      const line: string[] = [];
      for (const c of order) {
        const p = await host.play(browser, src[c], { emulate: net === 'emulated', untilEnded: false, timeoutMs: 30_000, hlsConfig: HLS_CONFIG });
        plays[net][c].push(p);
        line.push(`${c} ${ms(p.ttffMs)} ms${p.errors.length ? ` [${p.errors.join(' ')}]` : ''}`);
      }
      console.error(`round ${round + 1}/${ROUNDS} ${net}: ${line.join(', ')} (load ${loadavg()[0]!.toFixed(2)})`);
    }
  }

  const summaries: Partial<Record<Net, Record<CaseName, Summary>>> = {};
  for (const net of NETWORKS) {
    const s = { strom: summarize(plays[net].strom), reference: summarize(plays[net].reference) };
    summaries[net] = s;
    printTable(net, s);
  }
  for (const net of NETWORKS) for (const c of CASES) {
    const m = summaries[net]![c].median;
    if (m) printTimeline(net, c, m);
  }

  const full: Array<{ network: Net; case: CaseName; requests: number; bytes: number; ended: boolean; errors: string[]; renditions: string[] }> = [];
  if (opt.full) {
    console.log('\n== full playback (once per case and network, to the end)');
    for (const net of NETWORKS) for (const c of CASES) {
      const p = await host.play(browser, src[c], { emulate: net === 'emulated', untilEnded: true, timeoutMs: 90_000, hlsConfig: HLS_CONFIG });
      const renditions = [...new Set(p.events.filter((e) => e.e === 'frag loaded' && e.d.startsWith('main')).map((e) => e.d.split(' ')[1]!))];
      full.push({ network: net, case: c, requests: p.requests.length, bytes: p.requests.reduce((s, r) => s + r.bytes, 0), ended: p.ended, errors: p.errors, renditions });
      const f = full[full.length - 1]!;
      console.log(`${net.padEnd(9)} ${c.padEnd(10)} ${String(f.requests).padStart(4)} requests  ${kb(f.bytes).padStart(11)}  ended ${f.ended}  video renditions loaded: ${renditions.join(', ')}${p.errors.length ? `  errors: ${p.errors.join(', ')}` : ''}`);
    }
  }

  const load1 = loadavg();
  console.log(`\nload average ${load0[0]!.toFixed(2)} at the start, ${load1[0]!.toFixed(2)} at the end; hls.js default config; on a shared 2-core machine compare the ratios of one run, not absolute figures.`);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const resultsDir = path.join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `startup-${stamp}.json`);
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  writeFileSync(file, JSON.stringify({
    startedAt: new Date(Date.now() - performance.now()).toISOString(), commit, options: opt, load: { start: load0, end: load1 },
    strom: { src: src.strom, ingestMs, code }, reference: { src: src.reference }, masters,
    summaries: Object.fromEntries(Object.entries(summaries).map(([n, s]) => [n, Object.fromEntries(Object.entries(s).map(([c, x]) => [c, { ...x, median: undefined }]))])),
    plays: Object.fromEntries(NETWORKS.map((n) => [n, plays[n]])), full,
  }, null, 1));
  console.log(`results: ${file}${opt.keep ? `\ntemp dirs kept: ${work}` : ''}`);
}

process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
}).finally(async () => {
  await cleanup();
  setTimeout(() => process.exit(), 500).unref();
});
