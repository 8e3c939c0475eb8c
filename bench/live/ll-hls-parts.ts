/**
 * LL-HLS part availability latency: how long after the unit that completes a part is pushed into
 * the muxer does a blocked `_HLS_msn/_HLS_part` request (and the preload-hinted part request)
 * finish? Both run in this process against a real Strom over HTTP, with a synthetic RTMP publisher
 * sending 30 fps video + AAC in real time. Prints p50/p99 in ms; measures, asserts nothing.
 *   npx tsx bench/live/ll-hls-parts.ts [seconds=20] [partTargetMs=500]
 * Note: a part is closed by the first frame past its boundary, so from the *previous* frame's
 * arrival add one frame interval (33 ms) to get the end-to-end figure.
 */
import http from 'node:http';
import os from 'node:os';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { pino } from 'pino';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { partName } from '../../src/live/formats/hls/live-media-names.js';

const seconds = Number(process.argv[2] ?? 20);
const partTargetMs = Number(process.argv[3] ?? 500);

function body(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now()));
    }).on('error', reject);
  });
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

const strom = await buildStrom(testConfig({ 'live.staticKeys': 'cam1:secret', 'llhls.partTargetMs': partTargetMs, 'llhls.segmentTargetMs': 2000 }), pino({ level: 'silent' }));
const { url } = await strom.listen();
const c = await RtmpClient.connect('127.0.0.1', strom.live.rtmp.port()!, 'live');
await c.publish('secret');
c.send(9, 0, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 2, 0x68, 0xee]));
c.send(8, 0, Buffer.from([0xaf, 0, 0x12, 0x10]));
const frame = (i: number) => {
  const v = Buffer.alloc(5 + 4000, 0x11);
  v[0] = i % 60 === 0 ? 0x17 : 0x27;
  v[1] = 1;
  c.send(9, Math.round(i * 33.333), v);
  c.send(8, Math.round(i * 33.333), Buffer.from([0xaf, 1, ...Buffer.alloc(300, 0x22)]));
};
frame(0);
await new Promise((r) => setTimeout(r, 50));
const mux = strom.live.llhls.muxer('cam1');
const completedAt = new Map<number, number>();
const push = mux.push.bind(mux);
mux.push = (u) => {
  const t = performance.now();
  const before = mux.nextPartSeq;
  push(u);
  if (mux.nextPartSeq > before) completedAt.set(before, t);
};
const t0 = performance.now();
let i = 1;
const pub = setInterval(() => {
  while (i * 33.333 <= performance.now() - t0) frame(i++);
}, 5);
// Tail attribution: GC pauses (start, duration) seen during the run, to tell GC from other causes.
const gcs: Array<[number, number]> = [];
const gcObs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push([e.startTime, e.duration]);
});
gcObs.observe({ entryTypes: ['gc'] });
const windows: Array<[number, number]> = [];
const playlistLat: number[] = [];
const hintLat: number[] = [];
const base = `${url}/live/cam1`;
await body(`${base}/index.m3u8`);
while (performance.now() - t0 < seconds * 1000) {
  const seq = mux.nextPartSeq;
  const pos = mux.position();
  const [pEnd, hEnd] = await Promise.all([body(`${base}/index.m3u8?_HLS_msn=${pos.msn}&_HLS_part=${pos.parts}`), body(`${base}/${partName(mux.run, seq)}`)]);
  const done = completedAt.get(seq);
  if (done === undefined) continue;
  playlistLat.push(pEnd - done);
  hintLat.push(hEnd - done);
  windows.push([done, Math.max(pEnd, hEnd)]);
}
clearInterval(pub);
const show = (name: string, xs: number[]) => console.log(`${name}: n=${xs.length} p50=${pct(xs, 50).toFixed(2)} ms p90=${pct(xs, 90).toFixed(2)} ms p99=${pct(xs, 99).toFixed(2)} ms max=${Math.max(...xs).toFixed(2)} ms`);
console.log(`part target ${partTargetMs} ms, ${seconds} s run, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
show('blocking playlist reload (part complete → response end)', playlistLat);
show('preload-hinted part        (part complete → response end)', hintLat);
gcObs.disconnect();
const slow = windows.map(([a, b], k) => ({ ms: b - a, gc: gcs.filter(([t, d]) => t < b && t + d > a).reduce((n, [, d]) => n + d, 0), k })).sort((x, y) => y.ms - x.ms).slice(0, 5);
console.log(`GC pauses during the run: ${gcs.length}, total ${gcs.reduce((n, [, d]) => n + d, 0).toFixed(1)} ms, longest ${Math.max(0, ...gcs.map(([, d]) => d)).toFixed(2)} ms`);
console.log(`slowest 5 samples (ms/GC ms inside the window@sample index): ${slow.map((x) => `${x.ms.toFixed(2)}/${x.gc.toFixed(2)}@#${x.k}`).join(' ')}`);
c.destroy();
await strom.close();
