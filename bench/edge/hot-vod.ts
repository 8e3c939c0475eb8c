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
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { makeFixtureAsset } from '../../test/helpers/fixture-asset.js';
import { fillPlaceholders, findBinary, NGINX_CONF } from '../../test/helpers/cdn.js';
import { freePort } from '../../test/helpers/free-port.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '3' },
  seconds: { type: 'string', default: '10' },
  connections: { type: 'string', default: '64' },
  cold: { type: 'string', default: '40' },
  only: { type: 'string' },
} });
const SECRET = 'bench-edge-secret-0123456789';
const ID = 'edgebench';
const children: ChildProcess[] = [];
const dirs: string[] = [];

function waitPort(port: number, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tryOnce = () => http.get({ host: '127.0.0.1', port, path: '/healthz' }, (r) => (r.resume(), resolve())).on('error', () => (Date.now() > until ? reject(new Error(`port ${port} not up`)) : setTimeout(tryOnce, 100)));
    tryOnce();
  });
}

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

async function startNginx(originPort: number): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-bench-nginx-'));
  dirs.push(dir);
  mkdirSync(path.join(dir, 'cache'));
  const port = await freePort();
  writeFileSync(path.join(dir, 'strom-cdn.conf'), fillPlaceholders(readFileSync(NGINX_CONF, 'utf8'), {
    STROM_ORIGIN: `127.0.0.1:${originPort}`, CDN_LISTEN: `127.0.0.1:${port}`, CDN_CACHE_DIR: path.join(dir, 'cache'), CDN_CACHE_MAX_SIZE: '1g',
  }));
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${path.join(dir, k)};`).join('\n');
  writeFileSync(path.join(dir, 'nginx.conf'), `${process.getuid?.() === 0 ? 'user root root;\n' : ''}daemon off;
worker_processes 2;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
${temp}
  include ${path.join(dir, 'strom-cdn.conf')};
}
`);
  const child = spawn(findBinary('nginx')!, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: 'ignore' });
  children.push(child);
  await waitPort(port).catch(() => undefined);
  await sleep(300);
  return `http://127.0.0.1:${port}`;
}

async function startEdge(originUrl: string): Promise<string> {
  const port = await freePort();
  // EDGE_NODE_ARGS: extra node flags for the edge process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
  const nodeArgs = (process.env.EDGE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'dist/main.js'), 'edge', '--origin', originUrl, '--port', String(port), '--secret', SECRET,
    '--set', 'rtmp.enabled=false', '--set', 'logLevel=warn', '--set', 'rateLimit.media.perMinute=0', '--set', 'edge.prefetchSegments=0', '--cache-bytes', '512MB'], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  await waitPort(port);
  for (let i = 0; i < 100; i++) {
    if ((await get(`http://127.0.0.1:${port}/readyz`)).status === 200) break;
    await sleep(100);
  }
  return `http://127.0.0.1:${port}`;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const median = (xs: number[]) => pct(xs, 50);

async function main(): Promise<void> {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-bench-edge-'));
  dirs.push(dataDir);
  const cold = Number(values.cold);
  await makeFixtureAsset({ dataDir, id: ID, seconds: Math.max(30, Math.ceil(cold / 2) + 10), segmentSeconds: 1 });
  const origin = await buildStrom(testConfig({ dataDir, 'cluster.secret': SECRET, 'rateLimit.media.perMinute': 0, 'delivery.earlyHints': false, 'rtmp.enabled': false, logLevel: 'warn' }));
  const { url: originUrl, port: originPort } = await origin.listen();
  const nginx = await startNginx(originPort);
  const edge = await startEdge(originUrl);
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
  const listDir = mkdtempSync(path.join(tmpdir(), 'strom-bench-lists-'));
  dirs.push(listDir);
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

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
}).finally(() => {
  for (const c of children) c.kill('SIGTERM');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  setTimeout(() => process.exit(), 500).unref();
});
