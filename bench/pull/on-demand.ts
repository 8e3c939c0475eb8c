/**
 * bench/pull: time from a viewer's first request to its first frame for a live stream pulled on
 * demand from an RTSP camera with a 1 s GOP (GStreamer's RTSP server library,
 * test/fixtures/rtsp-camera.py; needs python3-gi and gir1.2-gst-rtsp-server-1.0).
 *
 *   npx tsx bench/pull/on-demand.ts [--runs 7]
 *
 * One Strom (in this process, the API's defaults, `live.sourceLingerMs` 300 ms so every round
 * starts cold) has a stream whose source is the camera, on demand. Each round waits until the
 * source is released, then measures, alternating:
 * - HTTP-FLV: `GET /live/<id>.flv` → the first video keyframe tag received;
 * - LL-HLS: `GET master.m3u8` → media playlist → init segment → the first part received whole
 *   (what a low-latency HLS player needs before it can show a frame; decode time not counted);
 * - peer, in the same run: Strom's RTSP connector alone (connect → first keyframe unit), i.e. the
 *   camera's own answer time without the hub, the registry or HTTP. The ratio says what going
 *   through Strom on demand adds.
 * A background client keeps the camera's encoder running, as a real camera's never stops, so each
 * round joins mid-GOP. Printed: every round and the p50 of each, and the ratio to the peer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { FlvDemuxer } from '../../src/live/formats/flv/flv-demuxer.js';
import type { SourceSink } from '../../src/live/pull/connector/source-connector.js';
import { rtspConnector } from '../../src/live/pull/sources/rtsp-source.js';
import { camera } from '../../test/helpers/rtsp-camera.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
const RUNS = Number(values.runs);
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

const cam = await camera(['--gop', '25', '--audio', 'aac']);
const port = cam.port;
const camUrl = `rtsp://127.0.0.1:${port}/cam`;
const log = pino({ level: 'silent' });
const idle: SourceSink = { unit() {}, meta() {}, received() {} };
const opts = { timeoutMs: 10_000, maxBufferBytes: 8 << 20, log };
const warm = await rtspConnector.connect(new URL(`${camUrl}?transport=tcp`), idle, opts);

const dir = mkdtempSync(path.join(tmpdir(), 'strom-bench-pull-'));
const strom = await buildStrom(testConfig({ dataDir: dir, logLevel: process.env.STROM_LOG ?? 'silent', 'rtmp.enabled': false, 'live.sourceLingerMs': 300, 'llhls.segmentTargetMs': 1000, 'llhls.partTargetMs': 250, 'llhls.idleTimeoutMs': 1000 }));
const { url } = await strom.listen();
const row = await strom.control.store.liveStreams.create({ title: 'camera', source: camUrl });
await sleep(2000);

/** Connector alone: ms from connect() to the first keyframe unit. */
async function peer(): Promise<number> {
  const t0 = performance.now();
  let done!: (ms: number) => void;
  const first = new Promise<number>((r) => (done = r));
  const conn = await rtspConnector.connect(new URL(camUrl), { unit: (u) => { if (u.kind === 'video' && u.keyframe && !u.config) done(performance.now() - t0); }, meta() {}, received() {} }, opts);
  const ms = await first;
  conn.close('bench');
  await conn.closed;
  return ms;
}

/** HTTP-FLV: ms from the request to the first video keyframe tag. */
function flv(): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const demux = new FlvDemuxer();
    const req = http.get(`${url}/live/${row.id}.flv`, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`HTTP-FLV ${res.statusCode}`));
      res.on('data', (d: Buffer) => {
        if (demux.push(d).some((t) => t.type === 9 && t.body[1] === 1 && t.body[0]! >> 4 === 1)) {
          resolve(performance.now() - t0);
          req.destroy();
        }
      });
    });
    req.on('error', () => undefined);
  });
}

async function text(u: string): Promise<string> {
  const r = await fetch(u);
  if (!r.ok) throw new Error(`${u}: ${r.status} ${await r.text()}`);
  return r.text();
}

/** LL-HLS: ms from the master request to the first part received whole. */
async function llhls(): Promise<number> {
  const t0 = performance.now();
  const base = `${url}/live/${row.id}/`;
  const master = await text(`${base}master.m3u8`);
  const media = master.split('\n').find((l) => l !== '' && !l.startsWith('#'))!;
  const playlist = await text(new URL(media, base).href);
  const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)![1]!;
  const part = /#EXT-X-PART:[^\n]*URI="([^"]+)"/.exec(playlist)?.[1] ?? /#EXT-X-PRELOAD-HINT:[^\n]*URI="([^"]+)"/.exec(playlist)![1]!;
  await Promise.all([fetch(new URL(map, base)).then((r) => r.arrayBuffer()), fetch(new URL(part, base)).then((r) => r.arrayBuffer())]);
  return performance.now() - t0;
}

async function released(): Promise<void> {
  for (let i = 0; i < 200 && strom.live.registry.active(row.id) !== null; i++) await sleep(50);
  await sleep(300 + Math.random() * 700); // land at a different point of the GOP
}

const say = (s: string) => process.stderr.write(`${s}\n`);
const results = { peer: [] as number[], flv: [] as number[], llhls: [] as number[] };
for (let i = 0; i < RUNS; i++) {
  results.peer.push(await peer());
  await released();
  results.flv.push(await flv());
  await released();
  results.llhls.push(await llhls());
  await released();
  say(`round ${i + 1}: peer ${results.peer.at(-1)!.toFixed(0)} ms, HTTP-FLV ${results.flv.at(-1)!.toFixed(0)} ms, LL-HLS ${results.llhls.at(-1)!.toFixed(0)} ms`);
}
const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
for (const [k, xs] of Object.entries(results)) console.log(`${k.padEnd(6)} ms [${fmt(xs)}] p50 ${p50(xs).toFixed(0)}`);
console.log(`on-demand HTTP-FLV first keyframe / connector alone: ${(p50(results.flv) / p50(results.peer)).toFixed(2)}×; LL-HLS first part / connector alone: ${(p50(results.llhls) / p50(results.peer)).toFixed(2)}× (target: ≤ 1,500 ms on loopback)`);
warm.close('bench done');
await warm.closed;
await strom.close();
cam.child.kill('SIGKILL');
rmSync(dir, { recursive: true, force: true });
