/**
 * One soak run: a `strom serve` child under mixed load for a number of minutes — RTMP and WHIP
 * publishers that reconnect, live viewers of every protocol joining and leaving, VOD range
 * readers, tus uploads through the transcode, API reads and SSE subscribers — sampled every few
 * seconds into a CSV, drawn into a PNG and judged against the targets (verdict.ts). Used by the
 * CLI (run.ts) and by the short CI soak test.
 */
import { execFileSync } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureDist } from '../../test/helpers/strom-process.js';
import { httpFlv, llDash, llHls, whep, wsFlv, type Viewer } from './live-viewers.js';
import { pause, rtmpPublisher, viewerPool, whipPublisher } from './live-load.js';
import { plotPng } from './plot.js';
import { reniceSelf } from './nice.js';
import { Sampler, type Sample } from './sampler.js';
import { startSoakServer } from './server.js';
import { Tally, type Protocol } from './tally.js';
import { judge, type Check, type Targets } from './verdict.js';
import { apiLoad, uploadLoop, vodViewers, type Target } from './vod-load.js';

/** What a soak runs. */
export interface SoakOptions {
  root: string;
  minutes: number;
  /** Viewers of every HTTP protocol together (FLV, WS-FLV, LL-HLS, LL-DASH, VOD). */
  viewers: number;
  whep: number;
  /** Run the WHIP publisher (headless Chromium). */
  whip: boolean;
  uploadEveryS: number;
  sampleS: number;
  sse: number;
  publisherUpS: [number, number];
  viewerLifeS: [number, number];
  rampS: number;
  outDir: string;
  /** Extra Strom settings (`--set`). */
  settings?: Record<string, string>;
  /**
   * Niceness of the load generator (this process, its publishers and browsers), 0 to leave it
   * alone. Strom keeps its own: the figures are Strom's, not the 2-core machine's contention
   * between the server and the thousand clients it is given.
   */
  clientsNice?: number;
  targets: Targets;
  /** Each sample as it is taken. */
  onSample?: (s: Sample) => void;
}

/** What a soak found. */
export interface SoakResult {
  samples: Sample[];
  tally: Tally;
  checks: Check[];
  errorLines: string[];
  csv: string;
  png: string;
}

/** Share of `viewers` per protocol. */
const MIX: Array<[Protocol, Viewer | null, number]> = [['http-flv', httpFlv, 0.35], ['ws-flv', wsFlv, 0.2], ['ll-hls', llHls, 0.2], ['ll-dash', llDash, 0.1], ['vod', null, 0.15]];

/** Run a soak to the end; never throws for a failed target (see `checks`). */
export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  await ensureDist(o.root);
  mkdirSync(o.outDir, { recursive: true });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-soak-'));
  const clip = path.join(dataDir, 'clip.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15', '-f', 'lavfi', '-i', 'sine=frequency=660',
    '-t', '6', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-c:a', 'aac', '-y', clip]);
  const server = await startSoakServer(o.root, dataDir, {
    'live.staticKeys': 'soak1:k1,soak2:k2,soakw:kw',
    'rateLimit.media.perMinute': '0', // every soak client shares 127.0.0.1
    'rateLimit.api.perMinute': '100000',
    'webrtc.udpPortMin': '46000',
    'webrtc.udpPortMax': '46999',
    logLevel: 'warn',
    ...o.settings,
  });
  if (o.clientsNice) reniceSelf(o.clientsNice);
  const tally = new Tally();
  const stopper = new AbortController();
  const stop = stopper.signal;
  setMaxListeners(0, stop); // one listener per viewer and per pause
  const csv = path.join(o.outDir, 'soak.csv');
  const sampler = new Sampler(server, tally, csv);
  sampler.start(o.sampleS, (s) => o.onSample?.(s));
  const base = new URL(server.url);
  const streams = ['soak1', 'soak2', ...(o.whip ? ['soakw'] : [])];
  const cycle = { upS: o.publisherUpS, downS: 3 };
  const target: Target = { url: server.url, token: server.token, tally, stop };
  const ready: string[] = [];
  const loads: Array<Promise<void>> = [
    rtmpPublisher(server.rtmpPort, 'soak1', 'k1', cycle, tally, stop),
    rtmpPublisher(server.rtmpPort, 'soak2', 'k2', cycle, tally, stop),
    ...(o.whip ? [whipPublisher(server.url, 'soakw', 'kw', cycle, tally, stop)] : []),
    uploadLoop(target, readFileSync(clip), o.uploadEveryS, ready),
    apiLoad(target, ready, o.sse),
    viewerPool({ base, protocol: 'whep', viewer: whep, count: o.whep, streams, lifeS: o.viewerLifeS, rampS: o.rampS, tally, stop }),
  ];
  for (const [protocol, viewer, share] of MIX) {
    const count = Math.round(o.viewers * share);
    // LL-DASH's $Number$ template is exact only with a fixed GOP of llhls.segmentTargetMs: the RTMP streams (docs/LIVE.md).
    const watched = protocol === 'll-dash' ? ['soak1', 'soak2'] : streams;
    if (viewer) loads.push(viewerPool({ base, protocol, viewer, count, streams: watched, lifeS: o.viewerLifeS, rampS: o.rampS, tally, stop }));
    else loads.push(vodViewers(target, ready, count, o.viewerLifeS));
  }
  await pause(o.minutes * 60_000, new AbortController().signal);
  sampler.stop();
  await sampler.take().catch(() => undefined); // the last sample under load
  stopper.abort();
  // Uploads in flight settle (bounded); everything else ends at once.
  const settled = new AbortController();
  await Promise.race([Promise.allSettled(loads), pause(180_000, settled.signal)]);
  settled.abort(); // no timer left holding the process
  await server.stop();
  const samples = sampler.samples;
  const png = path.join(o.outDir, 'soak.png');
  const min = (s: Sample): number => s.t / 60;
  writeFileSync(png, plotPng([
    { title: 'RSS MIB', series: [{ label: 'ALL', color: [200, 40, 40], points: samples.map((s) => [min(s), s.rssMiB]) }, { label: 'MAIN', color: [40, 90, 200], points: samples.map((s) => [min(s), s.mainRssMiB]) }, { label: 'HEAP', color: [40, 160, 60], points: samples.map((s) => [min(s), s.heapMiB]) }] },
    { title: 'OPEN FDS', series: [{ label: 'FDS', color: [120, 60, 170], points: samples.map((s) => [min(s), s.fds]) }, { label: 'VIEWERS', color: [230, 140, 20], points: samples.map((s) => [min(s), s.clientViewers]) }] },
    { title: 'LOOP DELAY P99 MS', series: [{ label: 'P99', color: [20, 20, 20], points: samples.map((s) => [min(s), s.loopP99Ms]) }] },
  ]));
  const checks = judge(samples, tally, server.errors.count, o.targets);
  writeFileSync(path.join(o.outDir, 'verdict.json'), JSON.stringify({ options: { ...o, onSample: undefined }, checks, tally: { ...tally, active: Object.fromEntries(tally.active) }, errorLines: server.errors.last }, null, 2));
  copyFileSync(path.join(dataDir, 'strom.log'), path.join(o.outDir, 'strom.log'));
  rmSync(dataDir, { recursive: true, force: true });
  return { samples, tally, checks, errorLines: server.errors.last, csv, png };
}
