/**
 * What the live benches share: the 720p30 3 Mbps H.264/AAC source FLV (encoded once by ffmpeg into
 * /tmp/strom-bench-live and reused), free ports, waiting for a child's "ready" line on stderr, and
 * the paired viewer process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanups } from './cleanup-stack.js';
import type { ViewerStats } from './flv-viewer-scan.js';

/** Where the live benches keep what they make once (source FLVs, node-media-server). */
export const BENCH_CACHE = '/tmp/strom-bench-live';

/** The `seconds`-long source FLV: 1280×720 30 fps testsrc2 + noise, x264 2.9 Mbit/s GOP 2 s, AAC 96 kbit/s. */
export function sourceFlv(seconds: number): string {
  mkdirSync(BENCH_CACHE, { recursive: true });
  const file = path.join(BENCH_CACHE, `source-${seconds}s.flv`);
  if (existsSync(file)) return file;
  console.log(`encoding ${seconds}s 720p30 3 Mbps test source…`);
  const r = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=30:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`,
    '-vf', 'noise=alls=12:allf=t', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '2900k', '-maxrate', '3000k', '-bufsize', '3000k', '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '96k', '-y', file], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('ffmpeg failed');
  return file;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Resolve with the first stderr line of `child` that starts with `word`; reject if it exits first. */
export function waitLine(child: ChildProcess, word: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.startsWith(word));
      if (line) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`child exited ${code}: ${buf.slice(-500)}`)));
  });
}

/**
 * bench/cluster/pair-viewers.ts in a child process: `n` HTTP-FLV viewers on each of two URLs, every
 * frame sampled, both timed by the one clock and event loop. `ready` is the wall time all had
 * connected; `stop` ends the process and returns its stats. A kill joins `cleanups`.
 */
export function pairViewers(urlA: string, urlB: string, n: number): { ready: Promise<number>; stop(): Promise<{ a: ViewerStats[]; b: ViewerStats[] }> } {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'cluster', 'pair-viewers.ts');
  const p = spawn(process.execPath, ['--import', 'tsx', script, urlA, urlB, String(n)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  cleanups.push(() => p.kill('SIGKILL'));
  return {
    ready: waitLine(p, 'ready').then((l) => Number(l.split(' ')[1])),
    async stop() {
      p.kill('SIGTERM');
      await exited;
      return out.trim() === '' ? { a: [], b: [] } : (JSON.parse(out) as { a: ViewerStats[]; b: ViewerStats[] });
    },
  };
}
