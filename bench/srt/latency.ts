/**
 * bench/srt: what SRT ingest adds to live latency, beside RTMP ingest, in one run with the same
 * kind of viewers.
 *
 *   npx tsx bench/srt/latency.ts [--seconds 20] [--viewers 20] [--latency 120] [--loss 0.02] [--only clean|loss] [--seed 1]
 *
 * One Strom (bench/live/strom-server.ts with the SRT listener on, `srt.latencyMs` = --latency) gets
 * bench/live's 720p30 3 Mbps H.264/AAC source twice at once, in real time from this process: over
 * RTMP by bench/live's publisher to stream `bench`, and over SRT to stream `srt` — the FLV tags
 * become MediaUnits (videoToUnit/audioToUnit), Strom's TsMuxer turns them into ≤ 1316-byte MPEG-TS
 * chunks and Strom's SRT caller sends them (`#!::r=srt,m=publish`, --latency ms asked for too).
 * Each publisher records when it handed each video frame on. Each stream has --viewers HTTP-FLV
 * viewers, all in one child process (bench/cluster/pair-viewers.ts) so both streams' arrivals are
 * timed by the same clock and event loop, recording when each frame arrived.
 * Reported per ingest: p50/p95/p99 of (arrival − send) over frames sent ≥ 1 s after every viewer
 * joined, the SRT − RTMP differences (of the percentiles, and per frame of the viewers' median
 * arrivals), and per viewer the video frames received against those sent since its first frame.
 *
 * Two phases, each on a fresh Strom: `clean` (SRT straight to the listener) and `loss` (SRT through
 * bench/netem's UDP relay, which drops --loss of the data packets towards Strom, retransmissions
 * included; control packets pass). Targets: SRT p50 ≤ window + 20 ms; under loss, no video frame
 * missing at any viewer. Each phase prints Strom's SRT packet counters (GET /metrics, else the SRT
 * service's own, which bench/live/strom-server.ts prints on exit), the caller's retransmissions,
 * the relay's drops and the machine's kernel UDP receive-buffer drops.
 *
 * Timestamps: the TS muxer shifts its timeline so that no PCR is negative (by its PCR delay minus
 * the first unit's dts), and the SRT stream keeps the TS timeline, so its viewers see every dts
 * moved by that shift. The script maps them back and refuses to report unless every viewer's first
 * frame lands on a source keyframe (the GOP cache starts each viewer on one) and every frame a
 * viewer got maps to a frame that was sent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { FlvTag } from '../../src/live/formats/flv/flv-demuxer.js';
import { audioToUnit, TAG, videoToUnit } from '../../src/live/formats/flv/flv-tags.js';
import { TsMuxer } from '../../src/live/formats/ts/ts-muxer.js';
import { callSrt } from '../../src/live/srt/protocol/caller.js';
import type { SenderStats } from '../../src/live/srt/protocol/sender.js';
import type { SrtStats } from '../../src/live/srt/srt-stats.js';
import { freePort, pairViewers, sourceFlv, waitLine } from '../live/bench-process.js';
import { cleanup, cleanups } from '../live/cleanup-stack.js';
import { wallMs, type ViewerStats } from '../live/flv-viewer-scan.js';
import { publishFlv, readFlv } from '../live/publisher.js';
import { srtDataOnly, startUdpRelay, type UdpRelay } from '../netem/udp-relay.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: {
  seconds: { type: 'string', default: '20' },
  viewers: { type: 'string', default: '20' },
  latency: { type: 'string', default: '120' },
  loss: { type: 'string', default: '0.02' },
  only: { type: 'string' },
  seed: { type: 'string', default: '1' },
} });
const SECONDS = Number(values.seconds);
const VIEWERS = Number(values.viewers);
const WINDOW_MS = Number(values.latency);
const LOSS = Number(values.loss);
/** The TS muxer's PCR delay, set explicitly so the dts shift it causes is known here. */
const PCR_DELAY_MS = 200;

const isVideoFrame = (t: FlvTag) => t.type === TAG.VIDEO && t.body[1] === 1;

/**
 * Publish `tags` over SRT as MPEG-TS in real time; returns dts → wall time each video frame's last
 * chunk was handed to the connection, the dts shift the muxer applied, and the sender's counters.
 */
async function publishSrt(tags: readonly FlvTag[], port: number, key: string, onStart: () => void): Promise<{ sent: Map<number, number>; shiftMs: number; sender: SenderStats }> {
  const { conn } = await callSrt({ host: '127.0.0.1', port, streamId: `#!::r=${key},m=publish`, latencyMs: WINDOW_MS });
  cleanups.push(() => conn.close('bench ended'));
  const muxer = new TsMuxer({ pcrDelayMs: PCR_DELAY_MS });
  const sent = new Map<number, number>();
  let shiftMs: number | null = null;
  const t0 = wallMs();
  onStart();
  for (const tag of tags) {
    const wait = t0 + tag.timestamp - wallMs();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const u = tag.type === TAG.VIDEO ? videoToUnit(tag.body, tag.timestamp) : tag.type === TAG.AUDIO ? audioToUnit(tag.body, tag.timestamp) : null;
    if (u === null) continue;
    if (!u.config) shiftMs ??= Math.max(0, PCR_DELAY_MS - u.dts); // TsMuxer: the first unit fixes the shift
    for (const chunk of muxer.push(u)) conn.send(chunk);
    if (conn.closed) throw new Error(`SRT connection closed while publishing: ${conn.closeReason}`);
    if (isVideoFrame(tag)) sent.set(tag.timestamp, wallMs());
  }
  await new Promise((r) => setTimeout(r, 500));
  conn.close('end of source');
  return { sent, shiftMs: shiftMs ?? 0, sender: { ...conn.sender.stats } };
}

/** SIGTERM a Strom child and return its diagnostics line (event-loop delay, GC). */
async function stopStrom(child: ChildProcess): Promise<string> {
  if (child.exitCode !== null || child.signalCode !== null) return '';
  let diag = '';
  child.stderr!.on('data', (d: Buffer) => (diag += d.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
  return diag.split('\n').find((l) => l.startsWith('diag'))?.slice(5) ?? '';
}

/** The machine's UDP receive-buffer overflows so far (/proc/net/snmp, all sockets). */
function udpRcvbufErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, nums] = lines.map((l) => l.split(/\s+/));
  const i = names?.indexOf('RcvbufErrors') ?? -1;
  return i < 0 ? NaN : Number(nums?.[i]);
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const median = (xs: number[]) => pct([...xs].sort((a, b) => a - b), 50);

interface IngestResult {
  ingest: 'rtmp' | 'srt';
  viewersAnswered: number;
  framesSent: number;
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Video frames sent after a viewer's first frame that it never got, summed over viewers. */
  framesMissing: number;
  viewersMissingFrames: number;
  framesPerViewer: { min: number; max: number };
  /** Frame dts → median arrival over the viewers, for the per-frame SRT − RTMP difference. */
  medianArrival: Map<number, number>;
  /** Per-frame latency p50/p99 of keyframes alone. */
  keyframes: { p50: number; p99: number };
}

/** Latency and completeness of one stream's viewers; `shiftMs` maps viewer dts back to source dts. */
function analyse(ingest: 'rtmp' | 'srt', stats: ViewerStats[], sent: Map<number, number>, shiftMs: number, keyframeDts: Set<number>, readyAt: number): IngestResult {
  const sentDts = [...sent.keys()].sort((a, b) => a - b);
  const lat: number[] = [];
  const keyLat: number[] = [];
  const arrivals = new Map<number, number[]>();
  let framesMissing = 0;
  let viewersMissingFrames = 0;
  const perViewer: number[] = [];
  for (const [i, v] of stats.entries()) {
    const samples = v.samples ?? [];
    if (samples.length === 0) throw new Error(`${ingest} viewer ${i}: no frames (HTTP ${v.status})`);
    const got = new Set<number>();
    for (const [dts, at] of samples) {
      const d = dts - shiftMs;
      const s = sent.get(d);
      if (s === undefined) throw new Error(`${ingest} viewer ${i}: frame dts ${dts} maps to ${d}, which was never sent (shift ${shiftMs} ms)`);
      got.add(d);
      if (s <= readyAt + 1000) continue;
      lat.push(at - s);
      if (keyframeDts.has(d)) keyLat.push(at - s);
      let list = arrivals.get(d);
      if (list === undefined) arrivals.set(d, (list = []));
      list.push(at);
    }
    const first = samples[0]![0] - shiftMs;
    if (!keyframeDts.has(first)) throw new Error(`${ingest} viewer ${i}: first frame maps to dts ${first}, not a source keyframe (shift ${shiftMs} ms): the dts mapping is wrong`);
    const missing = sentDts.filter((d) => d >= first && !got.has(d)).length;
    framesMissing += missing;
    if (missing > 0) viewersMissingFrames++;
    perViewer.push(got.size);
  }
  lat.sort((a, b) => a - b);
  keyLat.sort((a, b) => a - b);
  return {
    ingest, viewersAnswered: stats.filter((v) => v.status === 200).length, framesSent: sent.size, samples: lat.length,
    p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99), max: lat.at(-1) ?? NaN,
    framesMissing, viewersMissingFrames, framesPerViewer: { min: Math.min(...perViewer), max: Math.max(...perViewer) },
    medianArrival: new Map([...arrivals].map(([d, xs]) => [d, median(xs)])),
    keyframes: { p50: pct(keyLat, 50), p99: pct(keyLat, 99) },
  };
}

interface PhaseResult {
  phase: 'clean' | 'loss';
  loss: number;
  load: number;
  rtmp: Omit<IngestResult, 'medianArrival'>;
  srt: Omit<IngestResult, 'medianArrival'>;
  /** Per frame: median SRT arrival latency − median RTMP arrival latency. */
  perFrameDiff: { p50: number; p99: number; frames: number };
  /** What the SRT viewers' dts were moved by (the TS muxer's shift), verified frame by frame. */
  srtDtsShiftMs: number;
  srtMetrics: Record<string, number>;
  srtCounters: { source: string; recovered: number; lost: number; tsProblems: Record<string, number> };
  sender: SenderStats;
  relay: UdpRelay['stats'] | null;
  kernelUdpRcvbufErrors: number;
  stromDiag: string;
}

async function phase(name: 'clean' | 'loss', tags: readonly FlvTag[]): Promise<PhaseResult> {
  const mark = cleanups.length;
  try {
    const [http, rtmp, srt] = [await freePort(), await freePort(), await freePort()];
    const settings = { 'srt.enabled': true, 'srt.port': srt, 'srt.latencyMs': WINDOW_MS, 'live.staticKeys': 'bench:bench,srt:srt' };
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, '..', 'live', 'strom-server.ts'), String(http), String(rtmp), JSON.stringify(settings)], { stdio: ['ignore', 'ignore', 'pipe'] });
    cleanups.push(() => child.kill('SIGKILL'));
    await waitLine(child, 'ready');
    const loss = name === 'loss' ? LOSS : 0;
    const relay = name === 'loss' ? await startUdpRelay({ targetHost: '127.0.0.1', targetPort: srt, up: { loss }, seed: Number(values.seed), droppable: srtDataOnly }) : null;
    if (relay) cleanups.push(() => relay.close());
    const udpBefore = udpRcvbufErrors();
    let started = 0;
    const rtmpPublishing = publishFlv(tags, '127.0.0.1', rtmp, 'bench', () => started++);
    const srtPublishing = publishSrt(tags, relay ? relay.port : srt, 'srt', () => started++);
    while (started < 2) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 1500)); // a GOP in each stream's cache
    const viewers = pairViewers(`http://127.0.0.1:${http}/live/bench.flv`, `http://127.0.0.1:${http}/live/srt.flv`, VIEWERS);
    const readyAt = await viewers.ready;
    const [rtmpSent, srtPub] = await Promise.all([rtmpPublishing, srtPublishing]);
    await new Promise((r) => setTimeout(r, 1000));
    const { a: statsR, b: statsS } = await viewers.stop();
    if (statsR.length !== VIEWERS || statsS.length !== VIEWERS) throw new Error(`the viewer process returned ${statsR.length} + ${statsS.length} viewers, not ${VIEWERS} + ${VIEWERS}`);
    const metricsText = await fetch(`http://127.0.0.1:${http}/metrics`).then((r) => r.text());
    const srtMetrics: Record<string, number> = {};
    for (const m of metricsText.matchAll(/^(strom_srt_\w+)(\{[^}]*\})? (\S+)$/gm)) srtMetrics[m[1]! + (m[2] ?? '')] = Number(m[3]);
    const kernelUdpRcvbufErrors = udpRcvbufErrors() - udpBefore;
    const diag = await stopStrom(child);
    const stromDiag = diag.replace(/ srt=.*$/, '');
    const service = JSON.parse(/ srt=(.*)$/.exec(diag)?.[1] ?? 'null') as SrtStats | null;
    // /metrics first (what an operator sees); the service's own counters when it lacks the series.
    const fromMetrics = 'strom_srt_packets_total{result="recovered"}' in srtMetrics;
    const srtCounters = {
      source: fromMetrics ? '/metrics' : 'service counters (no strom_srt_* series in /metrics)',
      recovered: fromMetrics ? srtMetrics['strom_srt_packets_total{result="recovered"}']! : service?.recovered ?? NaN,
      lost: fromMetrics ? srtMetrics['strom_srt_packets_total{result="lost"}']! : service?.lost ?? NaN,
      tsProblems: service?.tsWarnings ?? {},
    };
    const keyframeDts = new Set(tags.filter((t) => isVideoFrame(t) && t.body[0]! >> 4 === 1).map((t) => t.timestamp));
    const r = analyse('rtmp', statsR, rtmpSent, 0, keyframeDts, readyAt);
    const s = analyse('srt', statsS, srtPub.sent, srtPub.shiftMs, keyframeDts, readyAt);
    const diffs: number[] = [];
    for (const [d, at] of s.medianArrival) {
      const onR = r.medianArrival.get(d);
      if (onR !== undefined) diffs.push((at - srtPub.sent.get(d)!) - (onR - rtmpSent.get(d)!));
    }
    diffs.sort((a, b) => a - b);
    const strip = ({ medianArrival: _, ...rest }: IngestResult) => rest;
    return {
      phase: name, loss, load: os.loadavg()[0]!, rtmp: strip(r), srt: strip(s),
      perFrameDiff: { p50: pct(diffs, 50), p99: pct(diffs, 99), frames: diffs.length },
      srtDtsShiftMs: srtPub.shiftMs, srtMetrics, srtCounters, sender: srtPub.sender, relay: relay ? { up: { ...relay.stats.up }, down: { ...relay.stats.down } } : null, kernelUdpRcvbufErrors, stromDiag,
    };
  } finally {
    for (const c of cleanups.splice(mark).reverse()) {
      try {
        await c();
      } catch (e) {
        console.error('cleanup:', (e as Error).message);
      }
    }
  }
}

const ms = (x: number) => x.toFixed(1).padStart(7);

function print(p: PhaseResult): void {
  console.log(`\n${p.phase}${p.loss > 0 ? ` (SRT through the relay, ${(p.loss * 100).toFixed(1)} % of data packets dropped)` : ''}, ${VIEWERS} viewers per stream, SRT window ${WINDOW_MS} ms, load ${p.load.toFixed(1)}`);
  console.log('ingest  viewers  frames sent  samples      p50      p95      p99      max  keyframe p50/p99   frames per viewer  missing (viewers)');
  for (const x of [p.rtmp, p.srt]) {
    console.log(`${x.ingest.padEnd(6)}  ${String(x.viewersAnswered).padStart(7)}  ${String(x.framesSent).padStart(11)}  ${String(x.samples).padStart(7)}  ${ms(x.p50)}  ${ms(x.p95)}  ${ms(x.p99)}  ${ms(x.max)}  ${ms(x.keyframes.p50)}/${ms(x.keyframes.p99).trim().padEnd(8)}  ${`${x.framesPerViewer.min}–${x.framesPerViewer.max}`.padStart(17)}  ${x.framesMissing} (${x.viewersMissingFrames})`);
  }
  console.log(`SRT − RTMP: p50 ${(p.srt.p50 - p.rtmp.p50).toFixed(1)} ms, p95 ${(p.srt.p95 - p.rtmp.p95).toFixed(1)} ms, p99 ${(p.srt.p99 - p.rtmp.p99).toFixed(1)} ms; per frame (median viewer) p50 ${p.perFrameDiff.p50.toFixed(1)} ms, p99 ${p.perFrameDiff.p99.toFixed(1)} ms over ${p.perFrameDiff.frames} frames`);
  console.log(`dts mapping: SRT viewers' dts = source dts + ${p.srtDtsShiftMs} ms; every frame received maps to a frame sent, every viewer starts on a source keyframe`);
  const c = p.srtCounters;
  console.log(`Strom SRT packets: recovered=${c.recovered} lost=${c.lost} (${c.source}); MPEG-TS problems: ${Object.entries(c.tsProblems).map(([k, v]) => `${k}=${v}`).join(' ') || 'none'}`);
  console.log(`SRT caller: ${p.sender.packets} packets sent, ${p.sender.retransmitted} retransmitted, ${p.sender.dropped} dropped unacknowledged${p.relay ? `; relay: ${p.relay.up.received} datagrams towards Strom, ${p.relay.up.dropped} data packets dropped (${((100 * p.relay.up.dropped) / (p.sender.packets + p.sender.retransmitted)).toFixed(2)} % of the data packets sent, retransmissions included), ${p.relay.down.received} back, ${p.relay.down.dropped} dropped` : ''}`);
  console.log(`kernel UDP receive-buffer drops during the phase (whole machine): ${p.kernelUdpRcvbufErrors}; Strom ${p.stromDiag}`);
  if (p.phase === 'clean') console.log(`target SRT p50 ≤ window + 20 = ${WINDOW_MS + 20} ms: ${p.srt.p50 <= WINDOW_MS + 20 ? 'met' : 'NOT met'} (${p.srt.p50.toFixed(1)} ms)`);
  else console.log(`target no video frame missing at any viewer under loss: ${p.srt.framesMissing === 0 ? 'met' : `NOT met (${p.srt.framesMissing} missing at ${p.srt.viewersMissingFrames} viewers)`}`);
}

process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
try {
  const file = sourceFlv(SECONDS);
  const tags = readFlv(file);
  const results: PhaseResult[] = [];
  for (const name of ['clean', 'loss'] as const) {
    if (values.only && values.only !== name) continue;
    const p = await phase(name, tags);
    results.push(p);
    print(p);
  }
  const report = { date: new Date().toISOString(), cpus: os.cpus().length, seconds: SECONDS, viewers: VIEWERS, windowMs: WINDOW_MS, loss: LOSS, results };
  console.log(JSON.stringify(report));
  const out = path.join(here, '..', 'results', `srt-latency-${Date.now()}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2));
  console.log('raw results:', out);
} finally {
  await cleanup();
}
