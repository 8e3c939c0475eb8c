/**
 * `strom edge` against nginx `proxy_cache` (deploy/cdn/nginx.conf, the configuration we ship), both
 * in front of the same Strom origin, measured in one run.
 *
 *   npx tsx bench/edge/hot-vod.ts [--rounds 3] [--seconds 10] [--connections 64] [--cold 40] [--only playlist]
 *
 * Hot: wrk (1 thread, 64 connections) on objects both edges already hold — one media segment,
 * one variant playlist, and random segments of a 2-rendition ladder — each round alternating
 * which edge goes first; the table shows the median round. nginx runs 2 workers (one per core),
 * access log off (the edge logs no hits either), its cache directory on the same disk.
 * Cold: time to first byte of an object the edge does not hold yet (a miss the edge forwards),
 * against the same object fetched directly from the origin, the origin's own cache warm for both,
 * so the difference is what the edge's forwarding adds. p50 and p95 over `--cold` objects.
 * Targets: hot ≥ 1.0× nginx; cold overhead ≤ 5 ms at p50.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { makeFixtureAsset } from '../../test/helpers/fixture-asset.js';
import { BENCH_SECRET, benchDir, buildDist, ROOT, runBench, startNginxCdn, startStromEdge } from './bench-stack.js';

const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '3' },
  seconds: { type: 'string', default: '10' },
  connections: { type: 'string', default: '64' },
  cold: { type: 'string', default: '40' },
  only: { type: 'string' },
} });
const ID = 'edgebench';

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; ttfbMs: number; headers: http.IncomingHttpHeaders }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    http.get(url, { headers, agent: false }, (r) => {
      const ttfbMs = performance.now() - t0;
      r.resume();
      r.on('end', () => resolve({ status: r.statusCode ?? 0, ttfbMs, headers: r.headers }));
    }).on('error', reject);
  });
}

function wrk(base: string, list: string): number {
  const out = execFileSync('wrk', ['-t1', `-c${values.connections}`, `-d${values.seconds}s`, '-s', path.join(ROOT, 'bench/delivery/random-segments.lua'), base, '--', list], { encoding: 'utf8' });
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const median = (xs: number[]) => pct(xs, 50);

async function main(): Promise<void> {
  buildDist();
  const dataDir = benchDir('strom-bench-edge-');
  const cold = Number(values.cold);
  await makeFixtureAsset({ dataDir, id: ID, seconds: Math.max(30, Math.ceil(cold / 2) + 10), segmentSeconds: 1 });
  const origin = await buildStrom(testConfig({ dataDir, 'cluster.secret': BENCH_SECRET, 'rateLimit.media.perMinute': 0, 'delivery.earlyHints': false, 'rtmp.enabled': false, logLevel: 'warn' }));
  const { url: originUrl, port: originPort } = await origin.listen();
  const nginx = (await startNginxCdn(originPort, 4096)).url;
  // EDGE_NODE_ARGS: extra node flags for the edge process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
  const nodeArgs = (process.env.EDGE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const edge = (await startStromEdge(originUrl, ['--set', 'edge.prefetchSegments=0', '--cache-bytes', '512MB'], nodeArgs)).url;
  const segs = readdirSync(path.join(dataDir, 'assets', ID, 'v360')).filter((f) => f.endsWith('.m4s')).sort();
  const all = ['v360', 'v240'].flatMap((r) => readdirSync(path.join(dataDir, 'assets', ID, r)).filter((f) => f.endsWith('.m4s')).map((f) => `/v/${ID}/${r}/${f}`));

  // Cold first (objects nobody fetched through an edge yet): origin warm, edge miss vs direct.
  const coldSet = all.slice(0, cold);
  for (const p of coldSet) await get(`${originUrl}${p}`);
  const overhead: number[] = [];
  const directT: number[] = [];
  const edgeT: number[] = [];
  for (const p of coldSet) {
    const d = await get(`${originUrl}${p}`);
    const e = await get(`${edge}${p}`);
    if (!/fwd=miss/.test(String(e.headers['cache-status']))) throw new Error(`expected a miss for ${p}: ${String(e.headers['cache-status'])}`);
    directT.push(d.ttfbMs);
    edgeT.push(e.ttfbMs);
    overhead.push(e.ttfbMs - d.ttfbMs);
  }

  // Hot: every object in both edges first.
  const lists = {
    segment: [`/v/${ID}/v360/${segs[3]}`],
    playlist: [`/v/${ID}/v360/index.m3u8`],
    'random segments': all,
  };
  for (const base of [nginx, edge]) for (const p of all.concat(lists.playlist)) for (let i = 0; i < 2; i++) await get(`${base}${p}`);
  const check = await get(`${nginx}${lists.segment[0]}`);
  if (!/HIT/.test(String(check.headers['x-cache-status']))) throw new Error(`nginx does not hit: ${JSON.stringify(check.headers)}`);
  const rows: Array<{ scenario: string; edge: number; nginx: number }> = [];
  const listDir = benchDir('strom-bench-lists-');
  for (const [scenario, list] of Object.entries(lists)) {
    if (values.only !== undefined && values.only !== scenario) continue;
    const file = path.join(listDir, scenario.replace(/ /g, '-'));
    writeFileSync(file, `${list.join('\n')}\n`);
    const e: number[] = [];
    const n: number[] = [];
    for (let r = 0; r < Number(values.rounds); r++) {
      const order = r % 2 === 0 ? ['edge', 'nginx'] : ['nginx', 'edge'];
      for (const who of order) (who === 'edge' ? e : n).push(wrk(who === 'edge' ? edge : nginx, file));
    }
    rows.push({ scenario, edge: median(e), nginx: median(n) });
    console.error(`${scenario}: edge ${e.map(Math.round).join(' ')} nginx ${n.map(Math.round).join(' ')} req/s`);
  }
  console.log(`\nstrom edge vs nginx proxy_cache, hot objects (wrk -t1 -c${values.connections} -d${values.seconds}s, median of ${values.rounds} rounds)`);
  console.log('scenario          strom edge    nginx   ratio');
  for (const r of rows) console.log(`${r.scenario.padEnd(16)} ${Math.round(r.edge).toString().padStart(10)} ${Math.round(r.nginx).toString().padStart(8)}   ${(r.edge / r.nginx).toFixed(2)}×`);
  console.log(`\ncold (edge miss → origin) TTFB over ${coldSet.length} objects: direct p50 ${median(directT).toFixed(2)} ms, through edge p50 ${median(edgeT).toFixed(2)} ms; added p50 ${median(overhead).toFixed(2)} ms, p95 ${pct(overhead, 95).toFixed(2)} ms`);
  await origin.close();
}

runBench(main);
