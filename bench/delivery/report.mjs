// Turn run.sh's per-measurement JSON lines into the results table (stdout, Markdown) and
// bench/results/delivery-<timestamp>.json. Settings and machine facts come from the environment.
//   node bench/delivery/report.mjs <runs.jsonl> <out.json>
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';

const [runsFile, outFile] = process.argv.slice(2);
if (!runsFile || !outFile) {
  console.error('usage: report.mjs <runs.jsonl> <out.json>');
  process.exit(2);
}
const env = process.env;
const runs = readFileSync(runsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

const SCENARIOS = {
  a: { title: '(a) random segments, working set in Strom cache', target: 1.0 },
  b: { title: '(b) random segments, working set 4x Strom cache', target: 0.5 },
  c: { title: '(c) one small playlist (index.m3u8)', target: 0.9 },
};
const SERVERS = ['nginx', 'strom', 'fastify-static'];

function rate(r) {
  const s = r.wrk.durationUs / 1e6;
  const errors = Object.values(r.wrk.errors).reduce((a, b) => a + b, 0);
  return {
    rps: r.wrk.requests / s,
    gbps: r.wrk.bytes / s / 1e9,
    p50ms: r.wrk.latencyUs.p50 / 1000,
    p99ms: r.wrk.latencyUs.p99 / 1000,
    errors,
    loadAfter: r.loadAfter,
    stromCacheBytes: r.stromCacheBytes,
  };
}

/** The median round (by req/s) of one scenario × server cell. */
function cell(scenario, server) {
  const rs = runs.filter((r) => r.scenario === scenario && r.server === server).map(rate);
  if (rs.length === 0) return null;
  rs.sort((x, y) => x.rps - y.rps);
  const med = rs[(rs.length - 1) >> 1];
  return { ...med, rounds: rs.length, rpsAll: rs.map((x) => Math.round(x.rps)) };
}

const rows = [];
for (const [id, sc] of Object.entries(SCENARIOS)) {
  const base = cell(id, 'nginx');
  for (const server of SERVERS) {
    const c = cell(id, server);
    if (!c) continue;
    const ratio = base ? c.rps / base.rps : null;
    const isStrom = server === 'strom';
    rows.push({
      scenario: id, title: sc.title, server, ...c,
      ratioToNginx: ratio,
      target: isStrom ? sc.target : null,
      meetsTarget: isStrom && ratio !== null ? ratio >= sc.target : null,
    });
  }
}

const sh = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    return String(e.stderr ?? '').trim() || 'unknown';
  }
};
const nginxVersion = sh('sh', ['-c', 'nginx -v 2>&1']).replace(/^nginx version: /, '');
const machine = {
  nproc: os.availableParallelism?.() ?? os.cpus().length,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  memGiB: Math.round(os.totalmem() / 2 ** 30),
  kernel: os.release(),
  node: process.version,
  nginx: nginxVersion,
  wrk: sh('sh', ['-c', 'wrk -v 2>&1 | head -1']).split(' Copyright')[0],
};
const settings = {
  command: env.COMMAND_LINE,
  wrk: `wrk -t${env.THREADS} -c${env.CONNECTIONS} -d${env.DURATION} (warm-up ${env.WARMUP}) -s bench/delivery/random-segments.lua`,
  rounds: Number(env.ROUNDS),
  stromCacheBytes: { a: Number(env.CACHE_A), b: Number(env.CACHE_B), c: Number(env.CACHE_A) },
  data: {
    dir: env.DATA_DIR,
    segments: Number(env.SEGMENT_COUNT),
    segmentBytes: Number(env.SEGMENT_BYTES),
    meanSegmentBytes: Number(env.MEAN_SEGMENT_BYTES),
    minSegmentBytes: Number(env.MIN_SEGMENT_BYTES),
    maxSegmentBytes: Number(env.MAX_SEGMENT_BYTES),
    playlist: env.PLAYLIST_URL,
    playlistBytes: Number(env.PLAYLIST_BYTES),
  },
  stromBuild: env.BUILD_STATUS,
  stromDeliveryWorkers: Number(env.STROM_WORKERS_EFFECTIVE ?? 0),
  gitCommit: sh('git', ['-C', env.ROOT ?? '.', 'rev-parse', '--short', env.STROM_REF || 'HEAD']),
  stromRef: env.STROM_REF || 'working tree',
  srcFilesChangedSinceCommit: sh('git', ['-C', env.ROOT ?? '.', 'status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length,
};
const load = { start: env.UPTIME_START, end: env.UPTIME_END };
const date = new Date().toISOString();

const fmt = (n, d) => (n === null || n === undefined ? '—' : n.toFixed(d));
const lines = [];
lines.push('| scenario | server | req/s | GB/s | p50 ms | p99 ms | × nginx (req/s) | target | errors |');
lines.push('|---|---|---:|---:|---:|---:|---:|---|---:|');
for (const r of rows) {
  const target = r.target === null ? '' : `≥ ${r.target.toFixed(1)}× ${r.meetsTarget ? 'met' : 'MISSED'}`;
  const rounds = r.rounds > 1 ? ` (median of ${r.rpsAll.join(', ')})` : '';
  const server = r.server === 'strom' ? `strom (cache ${(r.stromCacheBytes / 2 ** 20).toFixed(0)} MiB)` : r.server;
  lines.push(`| ${r.scenario} | ${server} | ${Math.round(r.rps)}${rounds} | ${fmt(r.gbps, 2)} | ${fmt(r.p50ms, 2)} | ${fmt(r.p99ms, 2)} | ${fmt(r.ratioToNginx, 2)}× | ${target} | ${r.errors} |`);
}
const table = lines.join('\n');

console.log('');
console.log(`Delivery benchmark, ${date}`);
console.log(`command: ${settings.command}`);
console.log(`machine: nproc ${machine.nproc} (${machine.cpu}), ${machine.memGiB} GiB, Linux ${machine.kernel}, node ${machine.node}, nginx ${machine.nginx}, ${machine.wrk}`);
console.log(`load:    start: ${load.start.trim()}`);
console.log(`         end:   ${load.end.trim()}`);
console.log(`data:    ${settings.data.segments} segments, ${(settings.data.segmentBytes / 1e6).toFixed(1)} MB (mean ${(settings.data.meanSegmentBytes / 1e3).toFixed(0)} kB), playlist ${settings.data.playlistBytes} B`);
console.log(`strom:   ${settings.stromRef} (git ${settings.gitCommit}${settings.stromRef === 'working tree' ? `, ${settings.srcFilesChangedSinceCommit} uncommitted src/ change(s)` : ''}), build ${settings.stromBuild}, delivery.workers ${settings.stromDeliveryWorkers}`);
console.log(`wrk:     ${settings.wrk}; Strom cache (a)/(c) ${settings.stromCacheBytes.a} B, (b) ${settings.stromCacheBytes.b} B`);
console.log('');
console.log(table);
console.log('');
console.log('GB/s = wrk bytes read (headers + bodies) / duration, 10^9 B. Ratio = Strom req/s ÷ nginx req/s in the same run and scenario.');

writeFileSync(outFile, JSON.stringify({ date, machine, load, settings, rows, table, runs }, null, 2) + '\n');
console.log(`wrote ${outFile}`);
