/**
 * CPU cost of restreaming: one 720p30 3 Mbps stream published to Strom, forwarded (passthrough)
 * to 3 receivers — other Strom processes — versus the same stream with no outputs. The Strom
 * process's CPU (utime + stime from /proc/<pid>/stat) is sampled over the measured window after a
 * warm-up, and printed as % of one core for both runs and their difference.
 *   npx tsx bench/restream/cpu.ts [measureSeconds=30] [outputs=3]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sourceFlv, waitLine } from '../live/bench-process.js';
import { publishFlv, readFlv } from '../live/publisher.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const measureS = Number(process.argv[2] ?? 30);
const outputs = Number(process.argv[3] ?? 3);
const warmS = 5;
const TICKS = 100; // USER_HZ on Linux

/** utime + stime of `pid` in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // fields 14 and 15 of proc(5), counted after the comm field
}

/** Start a child running a TypeScript file through tsx; resolves once it printed "ready". */
async function child(file: string, args: string[]): Promise<ChildProcess> {
  const c = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  await waitLine(c, 'ready');
  return c;
}

/** Stop a child and wait for its exit. */
async function stop(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null) return;
  const done = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(t);
}

/** One run: Strom with `urls` as outputs, the source published for warm-up + window; returns % of a core and the metrics seen. */
async function run(urls: string[], tags: ReturnType<typeof readFlv>): Promise<{ pct: number; live: number; bytes: number }> {
  const [http, rtmp] = [await freePort(), await freePort()];
  const strom = await child(path.join(here, 'strom-source.ts'), [String(http), String(rtmp), ...urls]);
  try {
    let pct = 0;
    const publishing = publishFlv(tags, '127.0.0.1', rtmp, 'bench');
    await new Promise((r) => setTimeout(r, warmS * 1000));
    const t0 = cpuTicks(strom.pid!);
    const w0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, measureS * 1000));
    pct = ((cpuTicks(strom.pid!) - t0) / TICKS) / (Number(process.hrtime.bigint() - w0) / 1e9) * 100;
    const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    const live = Number(/strom_live_outputs\{state="live"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    const bytes = Number(/strom_live_output_bytes_sent_total (\d+)/.exec(metrics)?.[1] ?? 0);
    await publishing;
    return { pct, live, bytes };
  } finally {
    await stop(strom);
  }
}

const tags = readFlv(sourceFlv(warmS + measureS + 5));
const receivers: ChildProcess[] = [];
const urls: string[] = [];
try {
  for (let i = 0; i < outputs; i++) {
    const [http, rtmp] = [await freePort(), await freePort()];
    receivers.push(await child(path.join(root, 'bench/live/strom-server.ts'), [String(http), String(rtmp)]));
    urls.push(`rtmp://127.0.0.1:${rtmp}/live/bench`);
  }
  console.log(`source: 720p30 ~3 Mbps, ${warmS} s warm-up, ${measureS} s measured; ${outputs} receivers (Strom processes)`);
  const without = await run([], tags);
  console.log(`without outputs: ${without.pct.toFixed(2)} % of a core`);
  const withOut = await run(urls, tags);
  console.log(`with ${outputs} outputs: ${withOut.pct.toFixed(2)} % of a core (outputs live at the end: ${withOut.live}, bytes pushed: ${(withOut.bytes / 1e6).toFixed(1)} MB)`);
  console.log(`restreaming cost: ${(withOut.pct - without.pct).toFixed(2)} % of a core for ${outputs} outputs (${((withOut.pct - without.pct) / outputs).toFixed(2)} % each)`);
} finally {
  for (const r of receivers) await stop(r);
}
