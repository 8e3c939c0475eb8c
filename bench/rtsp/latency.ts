/**
 * bench/rtsp: what RTSP ingest adds to live latency, beside RTMP ingest, in one run with the same
 * kind of viewers.
 *
 *   npx tsx bench/rtsp/latency.ts [--seconds 15] [--viewers 10]
 *
 * One Strom (bench/live/strom-server.ts with the RTSP listener on, TCP) gets bench/live's 720p30
 * 3 Mbps H.264/AAC source twice at once, in real time from this process: over RTMP by bench/live's
 * publisher to stream `bench`, and over RTSP (ANNOUNCE/SETUP/RECORD, RTP interleaved, Strom's own
 * packetizers: bench/rtsp/rtsp-publisher.ts) to stream `rtsp`. Each publisher records when it
 * handed each video frame on. Each stream has --viewers HTTP-FLV viewers in one child process
 * (bench/cluster/pair-viewers.ts), recording when each frame arrived.
 *
 * Frames are matched by order, not timestamp: RTSP carries presentation times on a 90 kHz clock
 * and Strom derives decode times (src/live/rtp/dts-estimator.ts), so the RTSP stream's FLV dts are
 * not the source's. A viewer joins at the cached keyframe and then gets every frame (TCP end to
 * end, nothing is dropped on loopback), so a viewer that received n frames of N sent started at
 * frame N − n; the script refuses to report unless that frame is a source keyframe for every
 * viewer. Reported per ingest: p50/p95/p99 of (arrival − send) over frames sent ≥ 1 s after every
 * viewer joined, and the RTSP − RTMP differences.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TAG } from '../../src/live/formats/flv/flv-tags.js';
import { freePort, pairViewers, sourceFlv, waitLine } from '../live/bench-process.js';
import { cleanup, cleanups } from '../live/cleanup-stack.js';
import type { ViewerStats } from '../live/flv-viewer-scan.js';
import { publishFlv, readFlv } from '../live/publisher.js';
import { publishRtsp } from './rtsp-publisher.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '15' }, viewers: { type: 'string', default: '10' } } });
const SECONDS = Number(values.seconds);
const VIEWERS = Number(values.viewers);

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** Latency percentiles of one stream's viewers; `sent[i]` is when video frame i went out, `key[i]` whether it is a keyframe. */
function analyse(name: string, stats: ViewerStats[], sent: number[], key: boolean[], readyAt: number) {
  const lat: number[] = [];
  for (const [i, v] of stats.entries()) {
    const samples = v.samples ?? [];
    const first = sent.length - samples.length;
    if (samples.length === 0 || first < 0 || !key[first]) throw new Error(`${name} viewer ${i}: ${samples.length} of ${sent.length} frames, so it would have started at frame ${first}, which is not a keyframe: frames were lost or the order mapping is wrong`);
    samples.forEach(([, at], j) => {
      const s = sent[first + j]!;
      if (s > readyAt + 1000) lat.push(at - s);
    });
  }
  lat.sort((a, b) => a - b);
  return { ingest: name, viewers: stats.length, framesSent: sent.length, samples: lat.length, p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99), max: lat.at(-1) ?? NaN };
}

process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
try {
  const tags = readFlv(sourceFlv(SECONDS));
  const key = tags.filter((t) => t.type === TAG.VIDEO && t.body[1] === 1).map((t) => t.body[0]! >> 4 === 1);
  const [http, rtmp, rtsp] = [await freePort(), await freePort(), await freePort()];
  const settings = { 'rtsp.enabled': true, 'rtsp.port': rtsp, 'rtsp.udp': false, 'live.staticKeys': 'bench:bench,rtsp:rtsp' };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, '..', 'live', 'strom-server.ts'), String(http), String(rtmp), JSON.stringify(settings)], { stdio: ['ignore', 'ignore', 'pipe'] });
  cleanups.push(() => child.kill('SIGKILL'));
  await waitLine(child, 'ready');
  let started = 0;
  const rtmpPublishing = publishFlv(tags, '127.0.0.1', rtmp, 'bench', () => started++);
  const rtspPublishing = publishRtsp(tags, '127.0.0.1', rtsp, 'rtsp', () => started++);
  while (started < 2) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 1500)); // a GOP in each stream's cache
  const viewers = pairViewers(`http://127.0.0.1:${http}/live/bench.flv`, `http://127.0.0.1:${http}/live/rtsp.flv`, VIEWERS);
  const readyAt = await viewers.ready;
  const [rtmpSentMap, rtspSent] = await Promise.all([rtmpPublishing, rtspPublishing]);
  await new Promise((r) => setTimeout(r, 1000));
  const { a, b } = await viewers.stop();
  const rtmpSent = [...rtmpSentMap.entries()].sort((x, y) => x[0] - y[0]).map(([, at]) => at);
  const r = analyse('rtmp', a, rtmpSent, key, readyAt);
  const s = analyse('rtsp', b, rtspSent, key, readyAt);
  const ms = (x: number) => x.toFixed(1).padStart(7);
  console.log(`\n${VIEWERS} HTTP-FLV viewers per stream, ${SECONDS} s of 720p30 3 Mbps, load ${os.loadavg()[0]!.toFixed(1)}`);
  console.log('ingest  viewers  frames sent  samples      p50      p95      p99      max');
  for (const x of [r, s]) console.log(`${x.ingest.padEnd(6)}  ${String(x.viewers).padStart(7)}  ${String(x.framesSent).padStart(11)}  ${String(x.samples).padStart(7)}  ${ms(x.p50)}  ${ms(x.p95)}  ${ms(x.p99)}  ${ms(x.max)}`);
  console.log(`RTSP − RTMP: p50 ${(s.p50 - r.p50).toFixed(1)} ms, p95 ${(s.p95 - r.p95).toFixed(1)} ms, p99 ${(s.p99 - r.p99).toFixed(1)} ms`);
  console.log(JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, seconds: SECONDS, viewers: VIEWERS, rtmp: r, rtsp: s }));
} finally {
  await cleanup();
}
