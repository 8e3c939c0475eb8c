/**
 * Live join time to first frame (TTFF) in headless Chromium: from the moment the page asks for a
 * live stream until the first video frame is presented, for the four players/protocols Strom
 * serves live, with the latency the viewer starts at and where the milliseconds go.
 *
 *   npx tsx bench/startup/live.ts [--rounds 7] [--network loopback|emulated|both] [--only ll-hls,ll-dash,http-flv,whep] [--timeline] [--publisher copy|encode]
 *
 * Strom: `strom serve` as a child process (the working tree's src/ through tsx) on a temp data dir
 * with the shipped defaults (LL-HLS 500 ms parts / 2 s segments, WebRTC on, audio bridge on) plus
 * an RTMP port and `live.staticKeys=cam1:secret`. ffmpeg publishes one stream over RTMP in real
 * time: lavfi testsrc2 1280×720 30 fps + sine, libx264 veryfast zerolatency, a keyframe every
 * 2 s (-g 60 -keyint_min 60 -sc_threshold 0, OBS's default interval), AAC 128k. By default
 * (`--publisher copy`) that encode is made beforehand (60 s, looped with -stream_loop and sent
 * with -c copy), because a real encoder runs on the publisher's machine, not on the server's two
 * cores; `--publisher encode` encodes live beside Strom and Chromium as earlier runs did. Measuring starts
 * once the LL-HLS playlist lists 3 complete segments; a background request for the playlist every
 * 5 s keeps the stream's LL-HLS muxer running (as any other HLS/DASH viewer would).
 * Cases (bench/startup/live-page.ts): LL-HLS with hls.js (lowLatencyMode, otherwise the web UI's
 * config: enableWorker false, CMCD), /live/cam1/index.m3u8; LL-DASH with dash.js (liveDelay 2 s,
 * catch-up on), /live/cam1/manifest.mpd; HTTP-FLV with mpegts.js (the web UI's config),
 * /live/cam1.flv; WHEP with Chromium's RTCPeerConnection as web/src/whep-player.ts does it.
 *
 * Each play: a fresh browser context, the page (player library already loaded) from its own
 * loopback origin, TTFF from the performance.now() mark right before the player is created (WHEP:
 * before new RTCPeerConnection) to the first requestVideoFrameCallback presentationTime. Before
 * each play a random 0–2 s pause, so joins land anywhere in the 2 s GOP; the case order rotates
 * every round. One unmeasured warm-up play per case first. Networks: loopback as is, and
 * emulated with CDP Network.emulateNetworkConditionsByRule: 40 ms round trips and 20 Mbit/s each
 * way for HTTP and for WebRTC's UDP alike (player-page.ts emulateLink; ICE's measured RTT is
 * recorded per WHEP play).
 * Latency at the first frame, seconds: LL-HLS now − PROGRAM-DATE-TIME of the frame presented
 * (hls.latency 250 ms later too); LL-DASH dash.js getCurrentLiveLatency() (clock from /live/time); HTTP-FLV
 * now − the frame's FLV dts put on the wall clock with Strom's own PDT mapping (a segment's PDT −
 * its tfdt); WHEP the first frame's RTP timestamp against the newest packet's 1.5 s later (by then
 * live). All from Strom's arrival of the frame on: encoder and RTMP hop are not included. Each
 * join's position in the GOP (time since the last keyframe, from the same mapping) is recorded.
 *
 * Prints per network: TTFF p50 and p90 (nearest rank), latency at the first frame p50, requests
 * and bytes before the first frame p50, and the product target (for the median on the emulated
 * link); with --timeline the requests and player events of each case's median play. Raw results:
 * bench/results/live-join-<timestamp>.json.
 *
 * BENCH_SET='key=value …' adds Strom settings (e.g. `webrtc.fanoutIdleMs=0`: every WHEP join starts a cold fan-out).
 *
 * Caveats: CDP emulation delays HTTP requests (the WHEP POST; its CORS preflight shows no added
 * delay) and WebRTC datagrams, and models no TCP handshake cost. Strom, Chromium (decoding 720p), the
 * audio bridge and the publishing ffmpeg share 2 cores: compare cases of one run, not absolute figures across machines.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchWebRtcBrowser } from '../../test/helpers/webrtc.js';
import { cleanEnv } from '../../test/helpers/strom-process.js';
import { freePort } from '../../test/helpers/free-port.js';
import { terminate, waitPort } from '../../test/helpers/child-process.js';
import { checkoutCode, ROOT } from './strom-server.js';
import { CASES, LivePageHost, type CaseName, type LivePlay } from './live-page.js';

const { values: opt } = parseArgs({ options: {
  rounds: { type: 'string', default: '7' },
  network: { type: 'string', default: 'both' },
  only: { type: 'string' },
  timeline: { type: 'boolean', default: false },
  publisher: { type: 'string', default: 'copy' },
} });
const ROUNDS = Number(opt.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds expects a positive integer, got ${opt.rounds}`);
if (!['loopback', 'emulated', 'both'].includes(opt.network)) throw new Error(`--network expects loopback, emulated or both, got ${opt.network}`);
const NETWORKS = opt.network === 'both' ? ['loopback', 'emulated'] as const : [opt.network as 'loopback' | 'emulated'];
type Net = (typeof NETWORKS)[number];
if (!['copy', 'encode'].includes(opt.publisher)) throw new Error(`--publisher expects copy or encode, got ${opt.publisher}`);
const ONLY = opt.only?.split(',').map((s) => s.trim()) ?? [...CASES];
for (const c of ONLY) if (!(CASES as readonly string[]).includes(c)) throw new Error(`--only: unknown case ${c} (cases: ${CASES.join(', ')})`);
const RUN = CASES.filter((c) => ONLY.includes(c));
/** Product targets for the TTFF median on the emulated link, ms. */
const TARGET: Record<CaseName, number | null> = { 'll-hls': 1500, 'll-dash': null, 'http-flv': 400, whep: 600 };
/** The latency figure shown in the table per case (live-page.ts records it at the first frame). */
const LATENCY_KEY: Record<CaseName, string> = { 'll-hls': 'now − PDT', 'll-dash': 'getCurrentLiveLatency', 'http-flv': 'now − PDT', whep: 'behind live' };
const GOP_MS = 2000; // -g 60 at 30 fps
const LAVFI = ['-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'];
const ENCODE = ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k'];
/** Seconds of the pre-encoded loop; a whole number of GOPs so the loop point is a keyframe on the 2 s grid. */
const LOOP_S = 60;

const cleanups: Array<() => Promise<unknown> | unknown> = [];
async function cleanup(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch((e: unknown) => console.error('cleanup:', e));
}
const HARD_LIMIT_MS = 120_000 + ROUNDS * NETWORKS.length * RUN.length * 8_000; // 9.5 min at the defaults
const watchdog = setTimeout(() => {
  console.error(`hard limit ${HARD_LIMIT_MS / 1000} s reached; cleaning up`);
  void cleanup().finally(() => process.exit(2));
}, HARD_LIMIT_MS);

/** Nearest-rank percentile. */
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;
const ms = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(0));
const sec = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '—' : `${x.toFixed(2)} s`);
/** Pearson correlation of (x, y) pairs. */
function pearson(xy: Array<[number, number]>): number {
  const [mx, my] = [0, 1].map((i) => xy.reduce((s, p) => s + p[i]!, 0) / xy.length) as [number, number];
  const [sxy, sxx, syy] = xy.reduce(([a, b, c], [x, y]) => [a + (x - mx) * (y - my), b + (x - mx) ** 2, c + (y - my) ** 2], [0, 0, 0]);
  return sxy / Math.sqrt(sxx * syy);
}
const before = (p: LivePlay) => (p.ttffMs === null ? [] : p.requests.filter((r) => r.startMs < p.ttffMs!));

/** Decode time (ms) of the video track (id 1, 90 kHz) in a CMAF segment's first moof. */
function videoDecodeMs(b: Buffer): number | null {
  const walk = (from: number, to: number, want: string): Array<[number, number]> => {
    const out: Array<[number, number]> = [];
    for (let o = from; o + 8 <= to;) {
      const size = b.readUInt32BE(o);
      if (size < 8) break;
      if (b.toString('latin1', o + 4, o + 8) === want) out.push([o + 8, o + size]);
      o += size;
    }
    return out;
  };
  const moof = walk(0, b.length, 'moof')[0];
  for (const [s, e] of moof ? walk(moof[0], moof[1], 'traf') : []) {
    const [tfhd, tfdt] = [walk(s, e, 'tfhd')[0], walk(s, e, 'tfdt')[0]];
    if (tfhd && tfdt && b.readUInt32BE(tfhd[0] + 4) === 1) return Number(b[tfdt[0]] === 1 ? b.readBigUInt64BE(tfdt[0] + 4) : BigInt(b.readUInt32BE(tfdt[0] + 4))) / 90;
  }
  return null;
}

async function startStrom(dataDir: string): Promise<{ url: string; rtmpPort: number; log: () => string }> {
  const [port, rtmpPort] = [await freePort(), await freePort()];
  let output = '';
  // STROM_NODE_ARGS: extra node flags for the server (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
  const nodeArgs = (process.env.STROM_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(ROOT, 'src', 'main.ts'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--rtmp-port', String(rtmpPort),
    '--data', dataDir, '--set', 'live.staticKeys=cam1:secret', '--set', 'logLevel=warn', ...(process.env.BENCH_SET ?? '').split(' ').filter(Boolean).flatMap((x) => ['--set', x])], { cwd: ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  for (const out of [child.stdout, child.stderr]) out.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
  // BENCH_SERVER_LOG: keep the server's stderr in that file (e.g. with DEBUG='werift-dtls*').
  if (process.env.BENCH_SERVER_LOG) child.stderr.pipe(createWriteStream(process.env.BENCH_SERVER_LOG));
  cleanups.push(() => terminate(child));
  await waitPort(port, child, 60_000, () => output);
  await waitPort(rtmpPort, child, 10_000, () => output);
  return { url: `http://127.0.0.1:${port}`, rtmpPort, log: () => output };
}

/** The publisher's ffmpeg arguments: a live encode, or the same encode made beforehand into `work` and sent as is. */
async function publisherArgs(work: string): Promise<string[]> {
  const head = ['-hide_banner', '-loglevel', 'error'];
  if (opt.publisher === 'encode') return [...head, '-re', ...LAVFI, ...ENCODE, '-f', 'flv'];
  const file = path.join(work, 'publisher-source.mp4');
  const made = spawn('ffmpeg', [...head, '-y', ...LAVFI, '-t', String(LOOP_S), ...ENCODE, file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => made.once('exit', resolve));
  if (code !== 0) throw new Error(`pre-encoding the source failed (ffmpeg exit ${code})`);
  // -stream_loop keeps timestamps rising across the loop point, so Strom sees one continuous stream.
  return [...head, '-re', '-stream_loop', '-1', '-i', file, '-c', 'copy', '-f', 'flv'];
}

function startFfmpeg(args: string[], rtmpPort: number): () => string {
  let err = '';
  const child = spawn('ffmpeg', [...args, `rtmp://127.0.0.1:${rtmpPort}/live/secret`], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  cleanups.push(() => terminate(child));
  return () => (child.exitCode !== null ? `ffmpeg exited ${child.exitCode}: ${err}` : err);
}

/** Wait until the LL-HLS playlist lists `n` complete segments; returns Strom's dts → wall-clock offset and a keyframe's dts (ms). */
async function waitStream(url: string, n: number, ffmpegErr: () => string): Promise<{ wallOffsetMs: number | null; keyDtsMs: number | null; bandwidth: string }> {
  for (const until = Date.now() + 60_000; ;) {
    const r = await fetch(`${url}/live/cam1/index.m3u8`).catch(() => null);
    const text = r?.status === 200 ? await r.text() : '';
    const segs = [...text.matchAll(/#EXT-X-PROGRAM-DATE-TIME:(\S+)\n(?:#EXT-X-PART:[^\n]*\n)*#EXTINF:[^\n]*\n(\S+)/g)];
    if (segs.length >= n) {
      const [, pdt, uri] = segs.at(-1)!;
      const seg = Buffer.from(await (await fetch(`${url}/live/cam1/${uri}`)).arrayBuffer());
      const dts = videoDecodeMs(seg);
      const master = await (await fetch(`${url}/live/cam1/master.m3u8`)).text();
      return { wallOffsetMs: dts === null ? null : Date.parse(pdt!) - dts, keyDtsMs: dts, bandwidth: /BANDWIDTH=(\d+)/.exec(master)?.[1] ?? '?' };
    }
    if (Date.now() > until || ffmpegErr().startsWith('ffmpeg exited')) throw new Error(`stream not up: playlist ${r?.status ?? 'unreachable'} with ${segs.length} segments; ${ffmpegErr()}`);
    await sleep(500);
  }
}

function summarize(c: CaseName, plays: LivePlay[]) {
  const ok = plays.filter((p) => p.ttffMs !== null);
  const ttff = ok.map((p) => p.ttffMs!);
  const lat = (k: string) => pct(ok.map((p) => p.latency[k]).filter((x): x is number => typeof x === 'number'), 50);
  const keys = [...new Set(ok.flatMap((p) => Object.keys(p.latency)))];
  return {
    plays: plays.length, failed: plays.length - ok.length, ttffP50: pct(ttff, 50), ttffP90: pct(ttff, 90), ttffMin: Math.min(...ttff), ttffMax: Math.max(...ttff),
    latencyP50: lat(LATENCY_KEY[c]), otherLatencyP50: Object.fromEntries(keys.filter((k) => k !== LATENCY_KEY[c]).map((k) => [k, lat(k)])),
    requestsBeforeP50: pct(ok.map((p) => before(p).length), 50), bytesBeforeP50: pct(ok.map((p) => before(p).reduce((s, r) => s + r.bytes, 0)), 50),
    firstFrameVia: [...new Set(ok.map((p) => p.firstFrameVia))].join(', '),
    ttffVsGopPhase: pearson(ok.filter((p) => p.gopPhaseMs !== undefined).map((p) => [p.gopPhaseMs!, p.ttffMs!])),
    errors: [...new Set(plays.flatMap((p) => p.errors))],
    median: ok.length ? [...ok].sort((a, b) => a.ttffMs! - b.ttffMs!)[Math.floor((ok.length - 1) / 2)]! : null,
  };
}
type Summary = ReturnType<typeof summarize>;

function printTable(net: Net, s: Partial<Record<CaseName, Summary>>): void {
  console.log(`\n== ${net}${net === 'emulated' ? ' (CDP: 40 ms round trips for HTTP and WebRTC, 20 Mbit/s)' : ''}: live join TTFF over ${ROUNDS} rounds`);
  const head = ['case', 'TTFF p50', 'TTFF p90', 'min–max', 'latency@FF p50', 'req<FF p50', 'bytes<FF p50', 'target (emulated p50)'];
  const rows = RUN.map((c) => {
    const [x, t] = [s[c]!, TARGET[c]];
    return [c, `${ms(x.ttffP50)} ms`, `${ms(x.ttffP90)} ms`, `${ms(x.ttffMin)}–${ms(x.ttffMax)}`, sec(x.latencyP50), String(x.requestsBeforeP50), `${(x.bytesBeforeP50 / 1000).toFixed(1)} kB`,
      t === null ? '—' : `≤ ${t} ms${net === 'emulated' ? (x.ttffP50 <= t ? ' met' : ' MISSED') : ''}`];
  });
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) console.log(r.map((x, i) => (i === 0 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('  '));
  for (const [c, x] of RUN.map((c) => [c, s[c]!] as const)) {
    const other = Object.entries(x.otherLatencyP50).map(([k, v]) => `${k} ${sec(v)}`).join(', ');
    console.log(`  ${c}: latency = ${LATENCY_KEY[c]}${other ? `; also p50 ${other}` : ''}; corr(TTFF, time since keyframe at join) ${x.ttffVsGopPhase.toFixed(2)}; first frame by ${x.firstFrameVia || '—'}${x.failed ? `; ${x.failed} play(s) without a first frame` : ''}${x.errors.length ? `; errors: ${x.errors.join(', ')}` : ''}`);
  }
}

const shortUrl = (u: string) => {
  const x = new URL(u);
  x.searchParams.delete('CMCD');
  return decodeURIComponent(x.pathname.replace(/^\/live\/cam1\/?/, '') + x.search);
};

function printTimeline(net: Net, c: CaseName, p: LivePlay): void {
  const ttff = p.ttffMs!;
  console.log(`\n-- ${c}, ${net}: median play, TTFF ${ms(ttff)} ms (${p.firstFrameVia}; 'playing' at ${ms(p.playingMs)} ms), joined ${ms(p.gopPhaseMs)} ms after a keyframe; latency at FF: ${Object.entries(p.latency).map(([k, v]) => `${k} ${sec(v)}`).join(', ')}`);
  if (Object.keys(p.info).length) console.log(`   at FF: ${Object.entries(p.info).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log('      start  headers      end   bytes<FF  conn   request');
  for (const r of before(p)) {
    console.log(`   ${ms(r.startMs).padStart(8)} ${ms(r.headersMs).padStart(8)} ${(r.endMs === null || r.endMs > ttff ? 'open' : ms(r.endMs)).padStart(8)} ${String(r.bytes).padStart(10)}  ${r.newConnection === null ? '?    ' : r.newConnection ? 'new  ' : 'reuse'}  ${r.method} ${shortUrl(r.url)}${r.status !== 200 ? ` (${r.status})` : ''}`);
  }
  console.log(`   ${ms(ttff).padStart(8)}  first frame`);
  for (const e of p.events.filter((x) => x.t <= ttff + 1)) console.log(`   ${ms(e.t).padStart(8)}  ${e.e}${e.d ? `: ${e.d}` : ''}`);
  if (p.errors.length) console.log(`   errors: ${p.errors.join(', ')}`);
}

async function main(): Promise<void> {
  const load0 = loadavg();
  const work = mkdtempSync(path.join(tmpdir(), 'strom-bench-live-join-'));
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  const code = checkoutCode(false);
  const publisher = await publisherArgs(work);
  const strom = await startStrom(work);
  const ffmpegErr = startFfmpeg(publisher, strom.rtmpPort);
  console.error(`Strom ${strom.url} (${code.label}), RTMP :${strom.rtmpPort}; waiting for 3 LL-HLS segments…`);
  const { wallOffsetMs, keyDtsMs, bandwidth } = await waitStream(strom.url, 3, ffmpegErr);
  // Segments start at keyframes, every GOP_MS of media time: where in the GOP did a join land?
  const phase = (wall: number) => (wallOffsetMs === null || keyDtsMs === null ? undefined : (((wall - wallOffsetMs - keyDtsMs) % GOP_MS) + GOP_MS) % GOP_MS);
  console.log(`Strom code: ${code.label}; stream up (peak segment bitrate ${(Number(bandwidth) / 1e6).toFixed(2)} Mbit/s), dts → wall offset ${wallOffsetMs ?? '?'} ms`);
  const warm = setInterval(() => void fetch(`${strom.url}/live/cam1/index.m3u8`).then((r) => r.arrayBuffer()).catch(() => undefined), 5_000);
  cleanups.push(() => clearInterval(warm));
  const browser = await launchWebRtcBrowser();
  cleanups.push(() => browser.close());
  const host = await LivePageHost.start();
  cleanups.push(() => host.close());
  const src: Record<CaseName, string> = { 'll-hls': `${strom.url}/live/cam1/index.m3u8`, 'll-dash': `${strom.url}/live/cam1/manifest.mpd`, 'http-flv': `${strom.url}/live/cam1.flv`, whep: `${strom.url}/live/cam1/whep` };
  const play = async (c: CaseName, net: Net) => {
    const p = await host.play(browser, c, src[c], { emulate: net === 'emulated', timeoutMs: 15_000, wallOffsetMs });
    return { ...p, gopPhaseMs: phase(p.markWallMs) };
  };
  for (const c of RUN) {
    const w = await play(c, 'loopback');
    if (w.ttffMs === null) throw new Error(`${c}: warm-up play showed no frame (errors: ${w.errors.join(', ') || 'none'})`);
  }

  const plays = Object.fromEntries(NETWORKS.map((n) => [n, Object.fromEntries(RUN.map((c) => [c, [] as LivePlay[]]))])) as Record<Net, Record<CaseName, LivePlay[]>>;
  for (let round = 0; round < ROUNDS; round++) {
    for (const net of NETWORKS) {
      const order = RUN.map((_, i) => RUN[(i + round) % RUN.length]!);
      const line: string[] = [];
      for (const c of order) {
        await sleep(Math.random() * 2000);
        const p = await play(c, net);
        plays[net][c].push(p);
        line.push(`${c} ${ms(p.ttffMs)} ms @${ms(p.gopPhaseMs)}${p.errors.length ? ` [${p.errors.join(' ')}]` : ''}`);
      }
      console.error(`round ${round + 1}/${ROUNDS} ${net}: ${line.join(', ')} (load ${loadavg()[0]!.toFixed(2)})`);
    }
  }

  const summaries = Object.fromEntries(NETWORKS.map((n) => [n, Object.fromEntries(RUN.map((c) => [c, summarize(c, plays[n][c])]))])) as Record<Net, Record<CaseName, Summary>>;
  for (const net of NETWORKS) printTable(net, summaries[net]);
  if (opt.timeline) for (const net of NETWORKS) for (const c of RUN) if (summaries[net][c].median) printTimeline(net, c, summaries[net][c].median!);
  const load1 = loadavg();
  console.log(`\nload average ${load0[0]!.toFixed(2)} at the start, ${load1[0]!.toFixed(2)} at the end (2 cores shared by Strom, Chromium${opt.publisher === 'encode' ? ' and the publisher\'s 720p encode' : ''} and the audio bridge)`);
  const warnings = strom.log().trim();
  if (warnings) console.log(`Strom warnings (last lines):\n${warnings.split('\n').slice(-5).join('\n').slice(0, 1500)}`);
  mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
  const file = path.join(ROOT, 'bench', 'results', `live-join-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.json`);
  writeFileSync(file, JSON.stringify({
    startedAt: new Date(Date.now() - performance.now()).toISOString(), code: code.label, options: opt, ffmpeg: publisher.join(' '), src, wallOffsetMs, load: { start: load0, end: load1 },
    summaries: Object.fromEntries(NETWORKS.map((n) => [n, Object.fromEntries(RUN.map((c) => [c, { ...summaries[n][c], median: undefined }]))])), plays,
  }, null, 1));
  console.log(`results: ${file}`);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().finally(() => process.exit(130)));
main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
}).finally(async () => {
  await cleanup();
  clearTimeout(watchdog);
  setTimeout(() => process.exit(), 500).unref();
});
