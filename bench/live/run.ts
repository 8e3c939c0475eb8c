/**
 * bench/live: server-added latency and fan-out capacity of HTTP-FLV, Strom vs node-media-server 4.x,
 * measured in the same run on the same machine.
 *
 *   node --import tsx bench/live/run.ts [--latency-viewers 100] [--capacity-viewers 2000] [--seconds 20] [--rounds 3] [--only latency|capacity]
 *
 * For each server: start it in a child process; publish a 3 Mbps H.264/AAC FLV (made once with
 * ffmpeg) in real time with our own RTMP publisher, recording when each video frame was sent; read
 * HTTP-FLV with N viewers in 2 child processes recording when each frame arrived. Reports p50/p99
 * of (arrival − send) over frames sent after every viewer joined, frames delivered/dropped per
 * viewer, and the server's RSS growth per viewer (/proc/<pid>/status VmRSS). Latency runs `--rounds`
 * times, alternating which server goes first, and reports medians: the machine is shared.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { publishFlv, readFlv } from './publisher.js';
import type { ViewerStats } from './flv-viewer-scan.js';
import { BENCH_CACHE, freePort, sourceFlv, waitLine } from './bench-process.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: {
  'latency-viewers': { type: 'string', default: '100' },
  'capacity-viewers': { type: 'string', default: '2000' },
  seconds: { type: 'string', default: '20' },
  only: { type: 'string' },
  rounds: { type: 'string', default: '3' },
} });
const NMS_DIR = path.join(BENCH_CACHE, 'nms');

function installNms(): void {
  if (existsSync(path.join(NMS_DIR, 'node_modules', 'node-media-server'))) return;
  console.log('installing node-media-server@4 into', NMS_DIR);
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', NMS_DIR, 'node-media-server@4'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm install node-media-server failed');
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

interface Result { server: string; viewers: number; answered: number; p50: number; p99: number; delivered: number; dropped: number; stalled: number; rssPerViewerKb: number; rssBeforeMb: number; rssAfterMb: number }

async function scenario(name: string, start: () => Promise<{ child: ChildProcess; http: number; rtmp: number; key: string; path: string }>, viewers: number, samples: number, file: string): Promise<Result> {
  const srv = await start();
  const tags = readFlv(file);
  const sourceFrames = tags.filter((t) => t.type === 9 && t.body[1] === 1).map((t) => t.timestamp);
  try {
    let publishStartedAt = 0;
    const publishing = publishFlv(tags, '127.0.0.1', srv.rtmp, srv.key, () => (publishStartedAt = Date.now()));
    while (publishStartedAt === 0) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 1500));
    global.gc?.();
    const rssBefore = rssKb(srv.child.pid!);
    const procs = [0, 1].map((i) => {
      const n = Math.floor(viewers / 2) + (i === 0 ? viewers % 2 : 0);
      return spawn(process.execPath, ['--import', 'tsx', path.join(here, 'viewers.ts'), `http://127.0.0.1:${srv.http}${srv.path}`, String(n), String(i === 0 ? samples : 0)], { stdio: ['ignore', 'pipe', 'pipe'] });
    });
    const outputs = procs.map((p) => new Promise<string>((resolve) => {
      let out = '';
      let err = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      p.on('exit', (code, signal) => {
        if (out.trim() === '') console.log(`  viewer process exited ${code ?? signal} without results: ${err.slice(-800)}`);
        resolve(out.trim() === '' ? '[]' : out);
      });
    }));
    const readyAt = Math.max(...(await Promise.all(procs.map((p) => waitLine(p, 'ready')))).map((l) => Number(l.split(' ')[1])));
    await new Promise((r) => setTimeout(r, 3000));
    const rssAfter = rssKb(srv.child.pid!);
    const sent = await publishing;
    await new Promise((r) => setTimeout(r, 1000));
    for (const p of procs) p.kill('SIGTERM');
    const stats = (await Promise.all(outputs)).flatMap((o) => JSON.parse(o) as ViewerStats[]);
    const lat: number[] = [];
    for (const v of stats) for (const [dts, at] of v.samples ?? []) {
      const s = sent.get(dts);
      if (s !== undefined && s > readyAt + 1000) lat.push(at - s);
    }
    lat.sort((a, b) => a - b);
    let delivered = 0;
    let dropped = 0;
    let stalled = 0;
    for (const v of stats) {
      const expected = v.firstDts < 0 ? sourceFrames.length : sourceFrames.filter((d) => d >= v.firstDts).length;
      delivered += v.frames;
      dropped += Math.max(0, expected - v.frames);
      if (v.frames < expected) stalled++;
    }
    const answered = stats.filter((v) => v.status === 200).length;
    return { server: name, viewers, answered, p50: pct(lat, 50), p99: pct(lat, 99), delivered, dropped, stalled, rssPerViewerKb: (rssAfter - rssBefore) / viewers, rssBeforeMb: rssBefore / 1024, rssAfterMb: rssAfter / 1024 };
  } finally {
    srv.child.stderr!.on('data', (d: Buffer) => {
      const line = d.toString().split('\n').find((l) => l.startsWith('diag'));
      if (line) console.log(`  ${name} ${line}`);
    });
    srv.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    srv.child.kill('SIGKILL');
  }
}

async function startStrom() {
  const [http, rtmp] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'strom-server.ts'), String(http), String(rtmp)], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitLine(child, 'ready');
  return { child, http, rtmp, key: 'bench', path: '/live/bench.flv' };
}

async function startNms() {
  const [http, rtmp] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'nms-runner.ts'), NMS_DIR, String(http), String(rtmp)], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitLine(child, 'ready');
  return { child, http, rtmp, key: 'bench', path: '/live/bench.flv' };
}

const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const file = sourceFlv(seconds);
installNms();
const servers: Array<[string, typeof startStrom]> = [['strom', startStrom], ['node-media-server', startNms]];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const report: Record<string, unknown> = { date: new Date().toISOString(), load: os.loadavg(), seconds, rounds };
for (const [label, viewers, samples, n] of [['latency', Number(values['latency-viewers']), 100, rounds], ['capacity', Number(values['capacity-viewers']), 20, 1]] as const) {
  if (values.only && values.only !== label) continue;
  const byServer = new Map<string, Result[]>();
  for (let round = 0; round < n; round++) {
    for (const [name, start] of round % 2 === 0 ? servers : [...servers].reverse()) {
      const r = await scenario(name, start, viewers, samples, file);
      byServer.set(name, [...(byServer.get(name) ?? []), r]);
      console.log(`${label.padEnd(8)} round ${round + 1} ${name.padEnd(18)} viewers=${r.viewers} (200 OK: ${r.answered}) p50=${r.p50.toFixed(2)}ms p99=${r.p99.toFixed(2)}ms delivered=${r.delivered} dropped=${r.dropped} stalledViewers=${r.stalled} rss ${r.rssBeforeMb.toFixed(0)}→${r.rssAfterMb.toFixed(0)} MB (${r.rssPerViewerKb.toFixed(1)} KB/viewer) load=${os.loadavg()[0]!.toFixed(1)}`);
    }
  }
  const summary = [...byServer].map(([name, rs]) => ({
    name, p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)), dropped: rs.reduce((a, r) => a + r.dropped, 0),
    stalled: rs.reduce((a, r) => a + r.stalled, 0), rssPerViewerKb: median(rs.map((r) => r.rssPerViewerKb)),
  }));
  for (const x of summary) console.log(`${label} median of ${n}: ${x.name.padEnd(18)} p50=${x.p50.toFixed(2)}ms p99=${x.p99.toFixed(2)}ms dropped=${x.dropped} stalledViewers=${x.stalled} rss/viewer=${x.rssPerViewerKb.toFixed(1)} KB`);
  const [a, b] = summary;
  if (a && b) console.log(`${label}: p99 nms/strom = ${(b.p99 / a.p99).toFixed(2)}× (>1: Strom faster)`);
  report[label] = { viewers, rounds: Object.fromEntries(byServer), summary };
}
const out = path.join(here, '..', 'results', `live-${Date.now()}.json`);
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(report, null, 2));
console.log('raw results:', out);
