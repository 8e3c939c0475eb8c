/**
 * Viewers per core, WHEP vs HTTP-FLV: Strom runs in this process; ffmpeg publishes one
 * 640x360@30 H.264 stream over RTMP (video only, ~1 Mbit/s, so both outputs fan out the same bytes
 * and no audio bridge runs); viewer clients run in child processes (bench/live/viewers.ts for
 * HTTP-FLV, bench/live/whep-viewers.ts — werift peers — for WHEP). Strom's own CPU time
 * (process.cpuUsage) is measured over `seconds` with no viewers, with N FLV viewers, and with M
 * WHEP viewers; per-viewer cost = (phase − idle) / viewers, viewers per core = 1 s / that cost.
 * Measures and prints; asserts nothing; cleans up every child.
 *   npx tsx bench/live/webrtc-viewers.ts [flvViewers=200] [whepViewers=20] [seconds=15]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

const flvCount = Number(process.argv[2] ?? 200);
const whepCount = Number(process.argv[3] ?? 20);
const seconds = Number(process.argv[4] ?? 15);
const here = path.dirname(fileURLToPath(import.meta.url));
const children: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function child(script: string, args: string[]): { proc: ChildProcess; ready: Promise<void>; out: Promise<string> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(here, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('ready')) resolve();
    });
    proc.once('exit', (c) => reject(new Error(`${script} exited ${c}: ${err.slice(0, 400)}`)));
  });
  const done = new Promise<string>((resolve) => proc.once('exit', () => resolve(out)));
  return { proc, ready, out: done };
}

/** Strom's CPU ms per wall second over `s` seconds. */
async function cpuRate(s: number): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(s * 1000);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-webrtc-viewers-'));
  const strom = await buildStrom(testConfig({ dataDir, 'live.staticKeys': 'cam1:secret', 'webrtc.maxSessions': whepCount + 10 }), pino({ level: 'silent' }));
  try {
    const { url } = await strom.listen();
    const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-an',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30', '-bf', '0', '-b:v', '1M', '-maxrate', '1M', '-bufsize', '1M',
      '-t', String(seconds * 3 + 90), '-f', 'flv', `rtmp://127.0.0.1:${strom.live.rtmp.port()}/live/secret`], { stdio: 'ignore' });
    children.push(ff);
    await strom.live.events.next('publish.start');
    await sleep(3000);
    const load0 = loadavg()[0]!.toFixed(2);
    const idle = await cpuRate(seconds);

    const flv = child('viewers.ts', [`${url}/live/cam1.flv`, String(flvCount), '0']);
    await flv.ready;
    await sleep(2000);
    const flvRate = await cpuRate(seconds);
    flv.proc.kill('SIGTERM');
    const flvStats = JSON.parse((await flv.out).trim().split('\n').at(-1) ?? '[]') as Array<{ frames?: number; bytes?: number }>;
    await sleep(2000);

    const whep = child('whep-viewers.ts', [`${url}/live/cam1/whep`, String(whepCount)]);
    await whep.ready;
    await sleep(2000);
    const whepRate = await cpuRate(seconds);
    const whepSessions = strom.live.webrtc.table.counts().whep;
    whep.proc.kill('SIGTERM');
    const whepStats = JSON.parse((await whep.out).trim().split('\n').at(-1) ?? '{}') as { packets?: number[] };
    const load1 = loadavg()[0]!.toFixed(2);

    const perFlv = (flvRate - idle) / flvCount;
    const perWhep = (whepRate - idle) / whepCount;
    const pkts = whepStats.packets ?? [];
    console.log(JSON.stringify({ idleCpuMsPerS: +idle.toFixed(1), flv: { viewers: flvCount, cpuMsPerS: +flvRate.toFixed(1), perViewerMsPerS: +perFlv.toFixed(3), answered: flvStats.length },
      whep: { viewers: whepCount, sessions: whepSessions, cpuMsPerS: +whepRate.toFixed(1), perViewerMsPerS: +perWhep.toFixed(3), minPackets: Math.min(...pkts), maxPackets: Math.max(...pkts) }, load: [load0, load1] }));
    console.log(`viewers per core: HTTP-FLV ${Math.round(1000 / perFlv)}, WHEP ${Math.round(1000 / perWhep)} (WHEP costs ${(perWhep / perFlv).toFixed(1)}× an FLV viewer)`);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await strom.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const watchdog = setTimeout(() => {
  for (const c of children) c.kill('SIGKILL');
  process.exit(2);
}, (seconds * 3 + 120) * 1000);
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
}).finally(() => clearTimeout(watchdog));
