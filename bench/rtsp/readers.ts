/**
 * bench/rtsp: what one RTSP reader (RTP interleaved over TCP) costs the server, beside one
 * HTTP-FLV viewer, in one run on one stream.
 *
 *   npx tsx bench/rtsp/readers.ts [--readers 100] [--window 10]
 *
 * One Strom child process (bench/live/strom-server.ts, RTSP on, TCP only) gets bench/live's 720p30
 * 3 Mbps H.264/AAC source over RTMP in real time. Three phases of `--window` seconds each, after a
 * 3 s settle: the publisher alone; plus `--readers` HTTP-FLV viewers (bench/live/viewers.ts, one
 * child); plus the same number of RTSP readers (bench/rtsp/rtsp-readers.ts, one child, Strom's own
 * RTSP client) instead. Measured on the server process: CPU (utime + stime from /proc/<pid>/stat
 * over the window) and RSS (VmRSS, growth from just before the readers joined). Printed: per phase, and per reader the added CPU (% of one
 * core) and RSS (KiB), with the RTSP/HTTP-FLV ratios; and the bytes every reader received (a
 * reader that got nothing makes the run invalid).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, sourceFlv, waitLine } from '../live/bench-process.js';
import { cleanup, cleanups } from '../live/cleanup-stack.js';
import { publishFlv, readFlv } from '../live/publisher.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { readers: { type: 'string', default: '100' }, window: { type: 'string', default: '10' } } });
const N = Number(values.readers);
const WINDOW_S = Number(values.window);
const TICK = 100; // USER_HZ on Linux

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
}
const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

/** CPU (% of one core) and RSS (KiB, at the end) of `pid` over the next window. */
async function measure(pid: number): Promise<{ cpu: number; rss: number }> {
  await sleep(3000);
  const t0 = performance.now();
  const c0 = cpuTicks(pid);
  await sleep(WINDOW_S * 1000);
  const cpu = ((cpuTicks(pid) - c0) / TICK) / ((performance.now() - t0) / 1000) * 100;
  return { cpu, rss: rssKiB(pid) };
}

/** A reader child process; `stop` returns what it printed (bytes per reader). */
async function readers(script: string, args: string[]): Promise<{ child: ChildProcess; stop(): Promise<unknown[]> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitLine(child, 'ready');
  return {
    child,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      return JSON.parse(out.trim().split('\n').at(-1)!) as unknown[];
    },
  };
}

process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
try {
  const seconds = 3 * (WINDOW_S + 3) + 30;
  const tags = readFlv(sourceFlv(seconds));
  const [http, rtmp, rtsp] = [await freePort(), await freePort(), await freePort()];
  const settings = { 'rtsp.enabled': true, 'rtsp.port': rtsp, 'rtsp.udp': false, 'rtsp.maxConnections': N + 10 };
  const server = spawn(process.execPath, ['--import', 'tsx', path.join(here, '..', 'live', 'strom-server.ts'), String(http), String(rtmp), JSON.stringify(settings)], { stdio: ['ignore', 'ignore', 'pipe'] });
  cleanups.push(() => server.kill('SIGKILL'));
  await waitLine(server, 'ready');
  const pid = server.pid!;
  let started = false;
  void publishFlv(tags, '127.0.0.1', rtmp, 'bench', () => (started = true));
  while (!started) await sleep(20);
  const base = await measure(pid);

  const rssBeforeFlv = rssKiB(pid);
  const flv = await readers(path.join(here, '..', 'live', 'viewers.ts'), [`http://127.0.0.1:${http}/live/bench.flv`, String(N), '0']);
  const withFlv = await measure(pid);
  const flvStats = (await flv.stop()) as Array<{ bytes?: number }>;
  await sleep(2000);

  const rssBeforeRtsp = rssKiB(pid);
  const rtspReaders = await readers(path.join(here, 'rtsp-readers.ts'), [`rtsp://127.0.0.1:${rtsp}/live/bench`, String(N)]);
  const withRtsp = await measure(pid);
  const rtspBytes = (await rtspReaders.stop()) as number[];

  // RSS per reader: growth from just before the readers joined (the heap moves between phases).
  const per = (m: { cpu: number; rss: number }, rssBefore: number) => ({ cpu: (m.cpu - base.cpu) / N, rss: (m.rss - rssBefore) / N });
  const f = per(withFlv, rssBeforeFlv);
  const r = per(withRtsp, rssBeforeRtsp);
  const flvMin = Math.min(...flvStats.map((s) => s.bytes ?? 0));
  const rtspMin = Math.min(...rtspBytes);
  console.log(`\n${N} readers of one 720p30 3 Mbps stream, ${WINDOW_S} s windows, load ${os.loadavg()[0]!.toFixed(1)} (${os.cpus().length} cores)`);
  console.log(`publisher only:         CPU ${base.cpu.toFixed(1)} %  RSS ${(base.rss / 1024).toFixed(0)} MiB`);
  console.log(`+ ${N} HTTP-FLV viewers: CPU ${withFlv.cpu.toFixed(1)} %  RSS ${(withFlv.rss / 1024).toFixed(0)} MiB  → per viewer ${f.cpu.toFixed(3)} % CPU, ${f.rss.toFixed(0)} KiB (least bytes received by one: ${flvMin})`);
  console.log(`+ ${N} RTSP readers:     CPU ${withRtsp.cpu.toFixed(1)} %  RSS ${(withRtsp.rss / 1024).toFixed(0)} MiB  → per reader ${r.cpu.toFixed(3)} % CPU, ${r.rss.toFixed(0)} KiB (least bytes received by one: ${rtspMin})`);
  console.log(`RTSP / HTTP-FLV per reader: CPU ${(r.cpu / f.cpu).toFixed(2)}×, RSS ${(r.rss / Math.max(1, f.rss)).toFixed(2)}×`);
  if (flvMin === 0 || rtspMin === 0) throw new Error('a reader received nothing: the run is invalid');
} finally {
  await cleanup();
}
