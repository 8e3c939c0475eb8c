/**
 * What the internal live relay adds: HTTP-FLV viewers on node B of a stream published to node A,
 * against the same viewers on node A, measured at the same time in one run.
 *
 *   npx tsx bench/cluster/cross-node-latency.ts [--viewers 100] [--seconds 20] [--rounds 3] [--edge]
 *
 * With `--edge`, B is a `strom edge` (dist/main.js, built by `npm run build`) in front of node A
 * instead of a second cluster node: the latency the edge tier adds to HTTP-FLV.
 *
 * Two cluster nodes in child processes (bench/cluster/cluster-node.ts) share a private
 * redis-server. A 3 Mbps 720p30 H.264/AAC FLV (made once with ffmpeg, shared with bench/live) is
 * published in real time over RTMP to node A by bench/live's publisher, which records when each
 * video frame was sent. One viewer process (pair-viewers.ts) opens N HTTP-FLV viewers on A and N on
 * B and records when each frame arrived, so both nodes' arrivals are timed by the same event loop
 * (its scheduling delays hit both alike); B pulls the stream from A once.
 * Over frames sent after every viewer joined it reports p50/p99 of (arrival − send) on A and on
 * B, and the latency B adds per frame: the median arrival among B's viewers minus the median
 * among A's, p50/p99 over frames. Targets: added ≤ 15 ms at p50, ≤ 40 ms at p99. Each round starts
 * fresh nodes; the summary is the median of the rounds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { publishFlv, readFlv } from '../live/publisher.js';
import type { ViewerStats } from '../live/flv-viewer-scan.js';
import { cleanup, cleanups } from '../live/cleanup-stack.js';
import { freePort, pairViewers, sourceFlv, waitLine } from '../live/bench-process.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: {
  viewers: { type: 'string', default: '100' },
  seconds: { type: 'string', default: '20' },
  rounds: { type: 'string', default: '3' },
  edge: { type: 'boolean', default: false },
} });
const EDGE = values.edge;
const VIEWERS = Number(values.viewers);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

async function startRedis(): Promise<string> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
  cleanups.push(() => stop(child));
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => (c.destroy(), resolve(true)));
      c.once('error', () => resolve(false));
    });
    if (ok) return `redis://127.0.0.1:${port}`;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('redis-server did not start');
}

async function startNode(redisUrl: string, nodeId: string): Promise<{ http: number; rtmp: number }> {
  const [http, rtmp] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'cluster-node.ts'), String(http), String(rtmp), redisUrl, nodeId], { stdio: ['ignore', 'ignore', 'pipe'] });
  cleanups.push(() => stop(child));
  await waitLine(child, 'ready');
  return { http, rtmp };
}

/** A `strom edge` in front of node A (same cluster secret as bench/cluster/cluster-node.ts). */
async function startEdge(originHttp: number): Promise<{ http: number }> {
  const http = await freePort();
  const child = spawn(process.execPath, [path.join(here, '..', '..', 'dist', 'main.js'), 'edge', '--origin', `http://127.0.0.1:${originHttp}`, '--port', String(http),
    '--secret', 'bench-cluster-secret-0123456789', '--set', 'rtmp.enabled=false', '--set', 'logLevel=warn', '--set', 'timeouts.idleMs=10m', '--set', 'cluster.relayIdleMs=1m'], { stdio: ['ignore', 'ignore', 'inherit'] });
  cleanups.push(() => stop(child));
  for (let i = 0; i < 300; i++) {
    const ready = await fetch(`http://127.0.0.1:${http}/readyz`).then((r) => r.status === 200, () => false);
    if (ready) return { http };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('strom edge did not become ready');
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const median = (xs: number[]) => pct([...xs].sort((a, b) => a - b), 50);

interface Round { a: { p50: number; p99: number; answered: number }; b: { p50: number; p99: number; answered: number }; added: { p50: number; p99: number; frames: number } }

async function round(file: string): Promise<Round> {
  const mark = cleanups.length;
  try {
    const redisUrl = await startRedis();
    const a = await startNode(redisUrl, 'node-a');
    const b = EDGE ? await startEdge(a.http) : await startNode(redisUrl, 'node-b');
    const tags = readFlv(file);
    let started = false;
    const publishing = publishFlv(tags, '127.0.0.1', a.rtmp, 'bench', () => (started = true));
    while (!started) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 1500)); // the origin map entry and a GOP in the cache
    const v = pairViewers(`http://127.0.0.1:${a.http}/live/bench.flv`, `http://127.0.0.1:${b.http}/live/bench.flv`, VIEWERS);
    const readyAt = await v.ready;
    const sent = await publishing;
    await new Promise((r) => setTimeout(r, 1000));
    const { a: sa, b: sb } = await v.stop();
    // Per frame: arrival − send for every viewer, and the median arrival per node.
    const lat = (stats: ViewerStats[]) => {
      const all: number[] = [];
      const byFrame = new Map<number, number[]>();
      for (const v of stats) for (const [dts, at] of v.samples ?? []) {
        const s = sent.get(dts);
        if (s === undefined || s <= readyAt + 1000) continue;
        all.push(at - s);
        let list = byFrame.get(dts);
        if (list === undefined) byFrame.set(dts, (list = []));
        list.push(at);
      }
      all.sort((x, y) => x - y);
      return { all, byFrame };
    };
    const la = lat(sa);
    const lb = lat(sb);
    const added: number[] = [];
    for (const [dts, arrivals] of lb.byFrame) {
      const onA = la.byFrame.get(dts);
      if (onA !== undefined) added.push(median(arrivals) - median(onA));
    }
    added.sort((x, y) => x - y);
    const answered = (s: ViewerStats[]) => s.filter((v) => v.status === 200).length;
    return {
      a: { p50: pct(la.all, 50), p99: pct(la.all, 99), answered: answered(sa) },
      b: { p50: pct(lb.all, 50), p99: pct(lb.all, 99), answered: answered(sb) },
      added: { p50: pct(added, 50), p99: pct(added, 99), frames: added.length },
    };
  } finally {
    for (const c of cleanups.splice(mark).reverse()) await c();
  }
}

process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
try {
  const file = sourceFlv(SECONDS);
  const rounds: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r = await round(file);
    rounds.push(r);
    console.log(`round ${i + 1}: A p50=${r.a.p50.toFixed(2)} p99=${r.a.p99.toFixed(2)} ms (${r.a.answered}/${VIEWERS} viewers) | B p50=${r.b.p50.toFixed(2)} p99=${r.b.p99.toFixed(2)} ms (${r.b.answered}/${VIEWERS}) | added per frame p50=${r.added.p50.toFixed(2)} p99=${r.added.p99.toFixed(2)} ms over ${r.added.frames} frames | load ${os.loadavg()[0]!.toFixed(1)}`);
  }
  const m = (f: (r: Round) => number) => median(rounds.map(f));
  const summary = { aP50: m((r) => r.a.p50), aP99: m((r) => r.a.p99), bP50: m((r) => r.b.p50), bP99: m((r) => r.b.p99), addedP50: m((r) => r.added.p50), addedP99: m((r) => r.added.p99) };
  console.log(`median of ${ROUNDS}: A p50=${summary.aP50.toFixed(2)} p99=${summary.aP99.toFixed(2)} ms; B p50=${summary.bP50.toFixed(2)} p99=${summary.bP99.toFixed(2)} ms; added by ${EDGE ? 'the edge' : 'the relay'} p50=${summary.addedP50.toFixed(2)} ms (target ≤ ${EDGE ? 50 : 15}) p99=${summary.addedP99.toFixed(2)} ms (target ≤ 40)`);
  console.log(`targets: ${summary.addedP50 <= (EDGE ? 50 : 15) && summary.addedP99 <= 40 ? 'met' : 'NOT met'}`);
  const out = path.join(here, '..', 'results', `cluster-cross-node-${Date.now()}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), load: os.loadavg(), cpus: os.cpus().length, viewers: VIEWERS, seconds: SECONDS, rounds, summary }, null, 2));
  console.log('raw results:', out);
} finally {
  await cleanup();
}
