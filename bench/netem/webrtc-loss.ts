/**
 * WebRTC playback quality under packet loss, through the port-range relay (bench/netem) with
 * 50 ms each way (100 ms RTT): Strom binds 127.0.0.1 and announces 127.0.0.2, so every packet
 * between Chromium and Strom crosses the relay. Two paths:
 *   rtmp — ffmpeg publishes over RTMP (not impaired), a Chromium page plays over WHEP (impaired);
 *   whip — a Chromium page publishes a canvas over WHIP (impaired), another page plays over WHEP (impaired).
 * Loss cases: 0, 1, 5, 10 % random and 5 % bursty (Gilbert-Elliott, mean burst 3 packets), each
 * way. After `--settle` seconds, `--seconds` of playback are measured from Chromium getStats
 * deltas: freezes (count, share of the time frozen), frames decoded per second, audio concealed /
 * received samples, NACKs and PLIs sent; for whip also glass-to-glass latency p50 (the barcode of
 * bench/live/webrtc-g2g.ts; both pages share one clock). Measures and prints; asserts nothing.
 *   npx tsx bench/netem/webrtc-loss.ts [--seconds 20] [--settle 5] [--only rtmp|whip] [--loss 0,1,5,10,5b]
 *     [--set key=value ...] [--variant name:key=value,key=value ...] [--repeat 1]
 * `--set` applies to every run; each `--variant` (default one, "base", with no settings) runs every
 * case with its settings, so before/after of a setting compare in one run. `--repeat N` runs the
 * whole set N times (variants interleaved, so drift in the machine's load hits them alike) and adds
 * a pooled table: freezes and frozen time summed over the runs, the longest freeze of any run, the
 * median of the runs' glass-to-glass p50s. A single 15 s run at 5 % loss holds 1–3 freezes: one
 * run per case decides nothing.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { ffmpegPublish, startLive } from '../../test/helpers/live-fixtures.js';
import { relayedWebRtc } from '../../test/helpers/netem.js';
import { launchWebRtcBrowser } from '../../test/helpers/webrtc.js';
import { cleanups, runBench, servePage } from '../live/cleanup-stack.js';
import { BARCODE_JS } from '../live/g2g-barcode.js';
import { burstLoss, type Impairment } from './model.js';
import { pageScript, type PublisherSnapshot, type Snapshot } from './webrtc-loss-page.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' }, settle: { type: 'string', default: '5' }, only: { type: 'string' },
    loss: { type: 'string', default: '0,1,5,10,5b' }, set: { type: 'string', multiple: true, default: [] }, variant: { type: 'string', multiple: true, default: [] },
    repeat: { type: 'string', default: '1' },
  },
});
const SECONDS = Number(values.seconds);
const SETTLE = Number(values.settle);

const pairs = (s: string) => Object.fromEntries(s.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const common = pairs(values.set.join(','));
const variants = (values.variant.length > 0 ? values.variant : ['base:']).map((v) => ({ name: v.slice(0, v.indexOf(':')), settings: { ...common, ...pairs(v.slice(v.indexOf(':') + 1)) } }));
const cases = values.loss.split(',').map((c) => {
  const burst = c.endsWith('b');
  const loss = Number(burst ? c.slice(0, -1) : c) / 100;
  const imp: Impairment = { delayMs: 50, ...(loss === 0 ? {} : burst ? { gilbert: burstLoss(loss, 3) } : { loss }) };
  return { label: `${(loss * 100).toFixed(0)} %${burst ? ' bursty' : ''}`, imp };
});
const paths = (values.only ? [values.only] : ['rtmp', 'whip']) as ('rtmp' | 'whip')[];

interface Row {
  variant: string; path: string; loss: string; freezes: number; frozenShare: number; longestGapMs: number; fps: number; concealed: number; nack: number; pli: number; g2gP50: number | null; relayDropped: number; states: string;
  /** whip: the publisher's side (frames encoded per second, its target bitrate and why it is limited, NACKs/PLIs it got, packets it resent). */
  publisher?: { fps: number; keyframes: number; kbps: number; limit: string; nacks: number; plis: number; resent: number; width: number; reportedLoss: number; reportedAudioLoss: number; reportedLost: number; rttMs: number; rtx: boolean };
  /** whip: Strom's ingest over the measured time (gaps repaired/lost, frames dropped, NACK requests, PLIs sent). */
  ingest?: { repaired: number; lost: number; framesDropped: number; nackRequests: number; plis: number };
}

async function pageOn(browser: Browser, origin: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(origin);
  return page;
}

/** The longest time between two presented frames inside [from, to] (a freeze's length; 40 ms is 25 fps). */
function longestGap(presented: number[], from: number, to: number): number {
  let last = from;
  let longest = 0;
  for (const t of presented) {
    if (t < from || t > to) continue;
    longest = Math.max(longest, t - last);
    last = t;
  }
  return Math.max(longest, to - last);
}
const snap = (p: Page) => p.evaluate(() => (window as unknown as { snapshot: () => Promise<Snapshot> }).snapshot());
const pubSnap = (p: Page) => p.evaluate(() => (window as unknown as { pubSnapshot: () => Promise<PublisherSnapshot> }).pubSnapshot());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => (xs.length === 0 ? null : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!);

async function runCase(browser: Browser, origin: string, variant: (typeof variants)[number], path: 'rtmp' | 'whip', c: (typeof cases)[number]): Promise<Row> {
  console.error(`${variant.name} ${path} ${c.label}: starting`);
  const mark = cleanups.length;
  try {
    const { relay, settings } = await relayedWebRtc(c.imp, c.imp, 20, 7);
    let pub: Page | null = null;
    cleanups.push(() => relay.close());
    const h = await startLive({ ...settings, 'webrtc.sessionTimeoutMs': '30s', ...variant.settings });
    cleanups.push(() => h.close());
    if (path === 'rtmp') {
      const pub = ffmpegPublish(h.rtmpPort, 'secret', SETTLE + SECONDS + 40, ['-b:v', '800k']);
      cleanups.push(() => pub.child.kill('SIGKILL'));
    } else {
      pub = await pageOn(browser, origin);
      const page = pub;
      cleanups.push(() => page.close());
      await pub.evaluate((u) => (window as unknown as { publish: (u: string) => Promise<void> }).publish(u), h.httpUrl);
    }
    for (let i = 0; i < 200 && h.strom.live.status('cam1').video === null; i++) await sleep(100);
    if (h.strom.live.status('cam1').video === null) throw new Error(`${path}: no video reached Strom in 20 s`);
    const viewer = await pageOn(browser, origin);
    cleanups.push(() => viewer.close());
    await viewer.evaluate(([u, barcode]) => (window as unknown as { play: (u: string, b: boolean) => Promise<void> }).play(u, barcode), [`${h.httpUrl}/live/cam1/whep`, path === 'whip'] as const);
    await sleep(SETTLE * 1000);
    const st = h.strom.live.webrtc.metrics.stats;
    const ingestAt = () => ({ repaired: st.ingestGapsRepaired, lost: st.ingestPacketsLost, framesDropped: st.framesDropped, nackRequests: st.ingestNackRequests, plis: st.plisSent });
    const i0 = ingestAt();
    const p0 = pub ? await pubSnap(pub) : null;
    const a = await snap(viewer);
    await sleep(SECONDS * 1000);
    const b = await snap(viewer);
    const p1 = pub ? await pubSnap(pub) : null;
    const i1 = ingestAt();
    const secs = (b.at - a.at) / 1000;
    const samples = b.samples.slice(a.samples.length);
    return {
      variant: variant.name, path, loss: c.label,
      freezes: b.freezeCount - a.freezeCount,
      frozenShare: (b.totalFreezesDuration - a.totalFreezesDuration) / secs,
      longestGapMs: longestGap(b.presented, a.at, b.at),
      fps: (b.framesDecoded - a.framesDecoded) / secs,
      concealed: (b.concealedSamples - a.concealedSamples) / Math.max(1, b.totalSamplesReceived - a.totalSamplesReceived),
      nack: b.nackCount - a.nackCount, pli: b.pliCount - a.pliCount,
      g2gP50: path === 'whip' ? pct(samples, 50) : null,
      relayDropped: relay.stats.down.dropped + relay.stats.up.dropped,
      states: b.states.join('→'),
      ...(p0 && p1 ? {
        publisher: {
          fps: (p1.framesEncoded - p0.framesEncoded) / ((p1.at - p0.at) / 1000), keyframes: p1.keyFramesEncoded - p0.keyFramesEncoded, kbps: Math.round(p1.targetBitrate / 1000),
          limit: p1.qualityLimitationReason, nacks: p1.nackCount - p0.nackCount, plis: p1.pliCount - p0.pliCount, resent: p1.retransmittedPacketsSent - p0.retransmittedPacketsSent, width: p1.frameWidth,
          reportedLoss: p1.reportedFractionLost, reportedAudioLoss: p1.reportedAudioFractionLost, reportedLost: p1.reportedPacketsLost - p0.reportedPacketsLost, rttMs: Math.round(p1.roundTripTime * 1000), rtx: p1.rtxSsrc !== 0,
        },
        ingest: { repaired: i1.repaired - i0.repaired, lost: i1.lost - i0.lost, framesDropped: i1.framesDropped - i0.framesDropped, nackRequests: i1.nackRequests - i0.nackRequests, plis: i1.plis - i0.plis },
      } : {}),
    };
  } finally {
    for (const f of cleanups.splice(mark).reverse()) await Promise.resolve(f()).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg().map((x) => x.toFixed(2)).join(' ');
  const origin = await servePage(`<!doctype html><html><body><script>${BARCODE_JS}${pageScript}</script></body></html>`);
  const browser = await launchWebRtcBrowser();
  cleanups.push(() => browser.close());
  const rows: Row[] = [];
  for (let run = 0; run < Number(values.repeat); run++) {
    for (const v of variants) {
      for (const p of paths) {
        for (const c of cases) {
          const row = await runCase(browser, origin, v, p, c);
          console.log(JSON.stringify(row));
          rows.push(row);
        }
      }
    }
  }
  const f = (x: number | null, d = 1) => (x === null ? '—' : x.toFixed(d));
  console.log(`\n${SECONDS} s measured per case after ${SETTLE} s, 50 ms each way; load before ${loadBefore}, after ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log('| variant | path | loss each way | freezes | time frozen | longest freeze ms | frames/s | audio concealed | NACKs | PLIs | g2g p50 ms | relay drops | states |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.variant} | ${r.path} | ${r.loss} | ${r.freezes} | ${f(r.frozenShare * 100)} % | ${r.longestGapMs} | ${f(r.fps)} | ${f(r.concealed * 100)} % | ${r.nack} | ${r.pli} | ${f(r.g2gP50, 0)} | ${r.relayDropped} | ${r.states} |`);
  }
  if (Number(values.repeat) > 1) printPooled(rows, f);
}

/** One line per variant, path and loss over every run (runs are equally long, so shares average). */
function printPooled(rows: Row[], f: (x: number | null, d?: number) => string): void {
  const groups = new Map<string, Row[]>();
  for (const r of rows) groups.set(`${r.variant}|${r.path}|${r.loss}`, [...(groups.get(`${r.variant}|${r.path}|${r.loss}`) ?? []), r]);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`\npooled over ${values.repeat} runs per case:`);
  console.log('| variant | path | loss each way | runs | freezes | time frozen (each run) | longest freeze ms | frames/s | audio concealed | g2g p50 ms (median) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const [key, rs] of groups) {
    const [variant, path, loss] = key.split('|');
    const each = rs.map((r) => f(r.frozenShare * 100)).join(' / ');
    const g2g = pct(rs.map((r) => r.g2gP50).filter((x): x is number => x !== null), 50);
    console.log(`| ${variant} | ${path} | ${loss} | ${rs.length} | ${rs.reduce((a, r) => a + r.freezes, 0)} | ${f(mean(rs.map((r) => r.frozenShare)) * 100)} % (${each}) | ${Math.max(...rs.map((r) => r.longestGapMs))} | ${f(mean(rs.map((r) => r.fps)))} | ${f(mean(rs.map((r) => r.concealed)) * 100)} % | ${f(g2g, 0)} |`);
  }
}

runBench(main, 60 * 60_000);
