/**
 * Child process for bench/live: a Strom with HTTP on argv[2], RTMP on argv[3], key `bench` → stream
 * `bench`; argv[4], when given, is a JSON object of further settings (e.g. `srt.enabled`, `srt.port`).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

const strom = await buildStrom(testConfig({
  dataDir: mkdtempSync(path.join(tmpdir(), 'strom-bench-live-')),
  port: Number(process.argv[2]),
  'rtmp.port': Number(process.argv[3]),
  'live.staticKeys': 'bench:bench',
  'timeouts.idleMs': '10m',
  ...(process.argv[4] ? JSON.parse(process.argv[4]) as Record<string, unknown> : {}),
}));
await strom.listen();
// Diagnostics for the latency tail: event-loop delay and GC pauses, printed on SIGTERM.
const eld = monitorEventLoopDelay({ resolution: 1 });
eld.enable();
let gcMax = 0;
let gcTotal = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcMax = Math.max(gcMax, e.duration);
    gcTotal += e.duration;
  }
}).observe({ entryTypes: ['gc'] });
process.stderr.write('ready\n');
process.on('SIGTERM', () => {
  const srt = strom.live.srt ? ` srt=${JSON.stringify(strom.live.srt.stats)}` : ''; // the SRT service's counters, when it runs
  process.stderr.write(`diag eventLoopDelay p99=${(eld.percentile(99) / 1e6).toFixed(1)}ms max=${(eld.max / 1e6).toFixed(1)}ms gcMax=${gcMax.toFixed(1)}ms gcTotal=${gcTotal.toFixed(0)}ms${srt}\n`);
  void strom.close().then(() => process.exit(0));
});
