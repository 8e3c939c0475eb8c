/**
 * The soak harness from the command line: one `strom serve` under mixed live, VOD, upload and API
 * load for `--minutes` (default 60), sampled every 10 s, then a verdict against the targets
 * (RSS and fds flat after the warm-up, event-loop delay p99, no unexpected disconnect, no error
 * line, every upload ready). Writes soak.csv, soak.png, verdict.json and strom.log to `--out`.
 *   npx tsx bench/soak/run.ts [--minutes 60] [--viewers 1000] [--whep 20] [--no-whip]
 *     [--upload-every 120] [--sse 5] [--warmup 300] [--out DIR] [--set key=value …] [--clients-nice 10]
 * The load generator runs `--clients-nice` below Strom's priority (0: same priority), so on a
 * 2-core machine the figures are Strom's own, as on a server that does not host its viewers.
 * Exit code 0 when every target is met, 1 otherwise.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { runSoak } from './soak.js';

const { values: a } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' },
    viewers: { type: 'string', default: '1000' },
    whep: { type: 'string', default: '20' },
    'no-whip': { type: 'boolean', default: false },
    'upload-every': { type: 'string', default: '120' },
    sse: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '300' },
    'sample-every': { type: 'string', default: '10' },
    'publisher-up': { type: 'string', default: '120-300' },
    'viewer-life': { type: 'string', default: '30-300' },
    ramp: { type: 'string', default: '60' },
    out: { type: 'string' },
    set: { type: 'string', multiple: true, default: [] },
    'clients-nice': { type: 'string', default: '10' },
  },
});
/** `--set key=value` (repeatable): extra Strom settings, e.g. to compare a setting's effect. */
const settings = Object.fromEntries(a.set.map((kv) => {
  const at = kv.indexOf('=');
  if (at <= 0) throw new Error(`--set expects key=value, got ${kv}`);
  return [kv.slice(0, at), kv.slice(at + 1)];
}));
const range = (s: string): [number, number] => {
  const [lo, hi] = s.split('-').map(Number);
  return [lo!, hi ?? lo!];
};
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = a.out ?? path.join(root, 'bench', 'soak', 'out', new Date().toISOString().replace(/[:.]/g, '-'));
const started = Date.now();
const r = await runSoak({
  root, outDir, settings, clientsNice: Number(a['clients-nice']), minutes: Number(a.minutes), viewers: Number(a.viewers), whep: Number(a.whep), whip: !a['no-whip'],
  uploadEveryS: Number(a['upload-every']), sse: Number(a.sse), sampleS: Number(a['sample-every']),
  publisherUpS: range(a['publisher-up']), viewerLifeS: range(a['viewer-life']), rampS: Number(a.ramp),
  targets: { warmupS: Number(a.warmup), slopePctPerHour: 5, loopP99Ms: 50 },
  onSample: (s) => console.log(`t=${s.t}s rss=${s.rssMiB}MiB (main ${s.mainRssMiB}, ${s.workers} workers) heap=${s.heapMiB}MiB fds=${s.fds} handles=${s.handles} loopP99=${s.loopP99Ms}ms viewers=${s.clientViewers}/${s.serverViewers} drops=${s.drops} unexpected=${s.unexpected} errors=${s.errorLines} uploadsReady=${s.uploadsReady}`),
});
const t = r.tally;
console.log(`\nsoak of ${((Date.now() - started) / 60_000).toFixed(1)} min: ${t.joins} viewer joins, ${t.leaves} planned leaves, ${t.expectedEnds} ends by a planned publisher gap, ${t.publisherReconnects} publisher reconnects (${t.publisherFailures} failures), ${t.vodRequests} VOD range requests, ${t.apiRequests} API requests, ${t.sseEvents} SSE events`);
console.log(`peak viewers ${Math.max(...r.samples.map((s) => s.clientViewers))}; CSV ${r.csv}; plot ${r.png}\n`);
for (const c of r.checks) console.log(`${c.ok ? 'PASS' : 'FAIL'}  ${c.name}: ${c.figure}`);
if (r.errorLines.length) console.log(`\nlast error lines:\n${r.errorLines.join('\n')}`);
process.exit(r.checks.every((c) => c.ok) ? 0 : 1);
