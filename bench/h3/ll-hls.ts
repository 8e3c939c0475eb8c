/**
 * LL-HLS over HTTP/3 against HTTP/2 through the same Caddy front (deploy/h3/Caddyfile), hls.js in
 * headless Chromium with 40 ms of added latency on both:
 *
 *   npx tsx bench/h3/ll-hls.ts [--runs 6] [--seconds 12] [--loss 2]
 *
 * Stack: a Strom child process (bench/live/strom-server.ts: shipped LL-HLS defaults, 500 ms parts,
 * 2 s segments), ffmpeg publishing 320×240 25 fps over RTMP (test/helpers/live-fixtures.ts), Caddy
 * with the shipped Caddyfile on a random port (test/helpers/caddy.ts: certificate for strom.test).
 * Two browsers: QUIC forced for the front's origin (h3), and QUIC disabled (h2 over TLS/TCP); the
 * protocol of every playlist and part response is read from CDP and a run whose responses are not
 * all the expected protocol is reported as invalid. Runs alternate which protocol goes first.
 * Per run and protocol:
 * - time to first frame: bench/startup/live-page.ts's LL-HLS join (fresh browser context, so a new
 *   connection and handshake; from the mark before the player is created to the first
 *   requestVideoFrameCallback presentationTime);
 * - part fetch times: hls.js plays in low-latency mode for --seconds; every `part_*.m4s` resource
 *   timing entry (startTime → responseEnd) counts. A part requested through its preload hint before
 *   it exists includes the wait for it, the same for both protocols.
 * Added latency: CDP Network.emulateNetworkConditions (bench/startup/player-page.ts EMULATED:
 * 40 ms, 20 Mbit/s each way). Chromium applies it per request above the transport (the throttle
 * wraps each HTTP transaction, whatever stream carries it), so it delays h3 requests exactly as
 * h2 ones — the run checks that the smallest h3 request time is ≥ the latency — but it adds no
 * round trips to a handshake or to loss recovery: QUIC's 1-RTT handshake against TCP+TLS's 2 RTT
 * does not show here. `--loss P` puts bench/netem's UDP relay (P % random loss each way) between the
 * QUIC browser and Caddy: strom.test resolves to 127.0.0.2 for it, where the relay listens on the
 * front's port and forwards to Caddy on 127.0.0.1. h2 gets no loss: a TCP relay terminates TCP on
 * both sides, so its losses would be repaired by the relay's own TCP, not the viewer's (this machine
 * has no netem qdisc to drop TCP segments).
 *
 * Prints a table: TTFF p50/p90, part fetch p50/p99 (nearest rank) and counts, with the load average.
 */
import { loadavg, tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, playInBrowser } from '../../test/helpers/browser.js';
import { quicChromiumArgs, recordProtocols, startCaddy, tcpChromiumArgs, type CaddyFront } from '../../test/helpers/caddy.js';
import { freePort } from '../../test/helpers/free-port.js';
import { terminate, waitPort } from '../../test/helpers/child-process.js';
import { cleanEnv } from '../../test/helpers/strom-process.js';
import { ffmpegPublish } from '../../test/helpers/live-fixtures.js';
import { EMULATED } from '../startup/player-page.js';
import { startUdpPortRange } from '../netem/udp-relay.js';
import { LivePageHost } from '../startup/live-page.js';
import { ROOT } from '../startup/strom-server.js';

const { values: opt } = parseArgs({ options: { runs: { type: 'string', default: '6' }, seconds: { type: 'string', default: '12' }, loss: { type: 'string', default: '0' } } });
const RUNS = Number(opt.runs);
const LOSS = Number(opt.loss) / 100;
if (!(LOSS >= 0 && LOSS < 1)) throw new Error(`--loss expects a percentage in 0..99, got ${opt.loss}`);
const SECONDS = Number(opt.seconds);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs expects a positive integer, got ${opt.runs}`);
if (!(SECONDS >= 3)) throw new Error(`--seconds expects at least 3, got ${opt.seconds}`);

type Proto = 'h3' | 'h2';
const cleanups: Array<() => Promise<unknown> | unknown> = [];
async function cleanup(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch((e: unknown) => console.error('cleanup:', e));
}
const watchdog = setTimeout(() => {
  console.error('hard limit reached; cleaning up');
  void cleanup().finally(() => process.exit(2));
}, 90_000 + RUNS * 2 * (SECONDS + 25) * 1000);

/** Nearest-rank percentile. */
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;
const ms = (x: number) => (Number.isNaN(x) ? '—' : x.toFixed(0));

async function startStack(): Promise<{ front: CaddyFront; src: Record<Proto, string> }> {
  const [port, rtmpPort] = [await freePort(), await freePort()];
  let out = '';
  const strom = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'live', 'strom-server.ts'), String(port), String(rtmpPort),
    JSON.stringify({ dataDir: mkdtempSync(path.join(tmpdir(), 'strom-bench-h3-')), 'rateLimit.media.perMinute': 0 })], { cwd: ROOT, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  strom.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
  cleanups.push(() => terminate(strom));
  await waitPort(port, strom, 60_000, () => out);
  const pub = ffmpegPublish(rtmpPort, 'bench', 3600);
  cleanups.push(() => terminate(pub.child));
  const front = await startCaddy(port);
  cleanups.push(() => front.stop());
  // Measuring starts once the playlist lists 3 complete segments.
  for (let i = 0; ; i++) {
    const r = await fetch(`http://127.0.0.1:${port}/live/bench/index.m3u8`).catch(() => null);
    if (r?.status === 200 && ((await r.text()).match(/^#EXTINF/gm)?.length ?? 0) >= 3) break;
    if (i > 300) throw new Error(`the live playlist did not fill: ${out}`);
    await sleep(100);
  }
  return { front, src: { h3: `${front.url}/live/bench/index.m3u8`, h2: `${front.url}/live/bench/index.m3u8` } };
}

/** One run of one protocol: a measured join, then a steady play with its part fetch times and protocols. */
async function measure(browser: Browser, host: LivePageHost, src: string) {
  const join = await host.play(browser, 'll-hls', src, { emulate: true, timeoutMs: 20_000, wallOffsetMs: null });
  let protocols = new Map<string, string>();
  const steady = await playInBrowser(browser, {
    // A live currentTime starts at the stream's position: play for --seconds of wall time instead.
    player: 'hls', src, hlsConfig: { lowLatencyMode: true }, untilTime: Number.MAX_SAFE_INTEGER, timeoutMs: SECONDS * 1000,
    onPage: async (page: Page) => {
      protocols = await recordProtocols(page);
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', EMULATED);
      // Resource timing of every Strom request, into window.__info (returned by playInBrowser).
      await page.addInitScript(() => {
        performance.setResourceTimingBufferSize(10_000);
        new PerformanceObserver((l) => {
          const info = (window as unknown as { __info?: Record<string, number[]> }).__info;
          if (info === undefined) return;
          for (const e of l.getEntries()) {
            const kind = /\/part_[^/]*\.m4s/.test(e.name) ? 'partMs' : /\.m3u8/.test(e.name) ? 'playlistMs' : null;
            if (kind !== null) (info[kind] ??= []).push(e.duration);
          }
        }).observe({ type: 'resource' });
      });
    },
  });
  const media = [...protocols].filter(([u]) => /\.m3u8|part_/.test(u)).map(([, p]) => p);
  const info = steady.info as { partMs?: number[]; playlistMs?: number[] };
  return { ttff: join.ttffMs, parts: info.partMs ?? [], playlists: info.playlistMs ?? [], protocols: [...new Set(media)], errors: [...join.errors, ...steady.errors].filter((e) => e.includes('fatal') || e.startsWith('media/')) };
}

try {
  const { front, src } = await startStack();
  const host = await LivePageHost.start();
  cleanups.push(() => host.close());
  let quicAddress = '127.0.0.1';
  if (LOSS > 0) {
    const relay = await startUdpPortRange({ listenHost: '127.0.0.2', targetHost: '127.0.0.1', portMin: front.port, portMax: front.port, up: { loss: LOSS }, down: { loss: LOSS }, seed: 3 });
    cleanups.push(() => relay.close());
    quicAddress = '127.0.0.2';
    cleanups.push(() => console.log(`relay: ${JSON.stringify(relay.stats)}`));
  }
  const browsers: Record<Proto, Browser> = { h3: await launchBrowser(quicChromiumArgs(front, quicAddress)), h2: await launchBrowser(tcpChromiumArgs(front)) };
  cleanups.push(() => Promise.all([browsers.h3.close(), browsers.h2.close()]));
  const load0 = loadavg()[0]!;
  const got: Record<Proto, { ttff: number[]; parts: number[]; minRequest: number; invalid: string[] }> = {
    h3: { ttff: [], parts: [], minRequest: Infinity, invalid: [] }, h2: { ttff: [], parts: [], minRequest: Infinity, invalid: [] },
  };
  for (let run = 0; run < RUNS; run++) {
    for (const p of (run % 2 === 0 ? ['h3', 'h2'] : ['h2', 'h3']) as Proto[]) {
      const m = await measure(browsers[p], host, src[p]);
      if (m.errors.length > 0 || m.protocols.join() !== p) {
        got[p].invalid.push(`run ${run + 1}: protocols ${m.protocols.join('/')}, errors ${m.errors.join(', ')}`);
        continue;
      }
      if (m.ttff !== null) got[p].ttff.push(m.ttff);
      got[p].parts.push(...m.parts);
      got[p].minRequest = Math.min(got[p].minRequest, ...m.parts, ...m.playlists);
      console.error(`run ${run + 1} ${p}: TTFF ${m.ttff === null ? '—' : m.ttff.toFixed(0)} ms, ${m.parts.length} parts, part p99 ${ms(pct(m.parts, 99))} ms`);
    }
  }
  console.log(`\nLL-HLS through Caddy ${front.url.replace(/:\d+$/, '')}${LOSS > 0 ? `, h3 through a UDP relay with ${opt.loss} % loss each way (h2: none)` : ''}, CDP latency ${EMULATED.latency} ms + ${(EMULATED.downloadThroughput * 8) / 1e6} Mbit/s, ${RUNS} runs × ${SECONDS} s, load average ${load0.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`);
  console.log('| protocol | TTFF p50 | TTFF p90 | part fetch p50 | part fetch p99 | parts | fastest request | invalid runs |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const p of ['h3', 'h2'] as Proto[]) {
    const g = got[p];
    console.log(`| ${p} | ${ms(pct(g.ttff, 50))} ms | ${ms(pct(g.ttff, 90))} ms | ${ms(pct(g.parts, 50))} ms | ${ms(pct(g.parts, 99))} ms | ${g.parts.length} | ${ms(g.minRequest)} ms | ${g.invalid.length} |`);
  }
  for (const p of ['h3', 'h2'] as Proto[]) for (const i of got[p].invalid) console.log(`invalid ${p} ${i}`);
  if (got.h3.minRequest < EMULATED.latency) console.log(`note: an h3 request took ${ms(got.h3.minRequest)} ms, under the emulated ${EMULATED.latency} ms: CDP emulation did not apply to it`);
} finally {
  clearTimeout(watchdog);
  await cleanup();
}
