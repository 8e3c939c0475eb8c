/**
 * API latency on PostgreSQL vs SQLite, in one run: `GET /api/v1/videos?limit=20` (a keyset page
 * over 500 videos) and `POST /api/v1/live-streams` (an insert), through a real `strom serve`
 * process per store, from this process over keep-alive connections at a fixed concurrency.
 * PostgreSQL is a private server on this machine with durable settings (fsync, synchronous_commit
 * and full-page writes on, as in production), SQLite is the embedded default (WAL, synchronous
 * NORMAL). Rounds alternate which store goes first. Prints p50/p99 per store and the ratio.
 *   npx tsx bench/cluster/api-store.ts [requests per op, default 2000] [concurrency, default 8] [rounds, default 3]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { resolveConfig } from '../../src/config.js';
import { signApiToken } from '../../src/auth/api-auth.js';
import { openStore } from '../../src/store/db/database.js';
import { startPostgres } from '../../test/helpers/postgres.js';
import { freePort } from '../../test/helpers/free-port.js';
import { cleanEnv, ensureDist } from '../../test/helpers/strom-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const REQUESTS = Number(process.argv[2] ?? 2000);
const CONCURRENCY = Number(process.argv[3] ?? 8);
const ROUNDS = Number(process.argv[4] ?? 3);
const JWT = 'bench-api-secret-shared-by-every-node';
const VIDEOS = 500;

interface Node {
  name: 'sqlite' | 'postgres';
  url: string;
  child: ChildProcess;
  dataDir: string;
}

async function seed(dataDir: string, url: string | null): Promise<void> {
  const store = await openStore(dataDir, { url });
  for (let i = 0; i < VIDEOS; i++) await store.videos.create({ title: `bench video ${i}`, status: 'ready' });
  await store.close();
}

async function startNode(name: Node['name'], storeUrl: string | null): Promise<Node> {
  const dataDir = mkdtempSync(path.join(tmpdir(), `strom-bench-api-${name}-`));
  await seed(dataDir, storeUrl);
  const port = await freePort();
  const args = ['bin/strom.js', 'serve', '--data', dataDir, '--port', String(port),
    '--set', 'rtmp.enabled=false', '--set', 'delivery.workers=0', '--set', 'logLevel=warn', '--set', 'jobs.enabled=false',
    '--set', `auth.jwtSecret=${JWT}`, '--set', 'rateLimit.api.perMinute=100000000', '--set', 'metrics.historyIntervalMs=0'];
  if (storeUrl) args.push('--set', `store.url=${storeUrl}`);
  const child = spawn(process.execPath, args, { cwd: root, env: cleanEnv(), stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 300) throw new Error(`${name} node did not become ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name, url, child, dataDir };
}

/** Run `n` requests at `CONCURRENCY`; returns sorted latencies in ms. */
async function measure(n: number, one: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  let left = n;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (left-- > 0) {
      const t = performance.now();
      await one();
      out.push(performance.now() - t);
    }
  }));
  return out.sort((a, b) => a - b);
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function ops(node: Node, token: string): Promise<Record<string, number[]>> {
  const auth = { authorization: `Bearer ${token}` };
  const list = async () => {
    const r = await fetch(`${node.url}/api/v1/videos?limit=20`, { headers: auth });
    if (r.status !== 200) throw new Error(`${node.name} GET videos: ${r.status}`);
    await r.arrayBuffer();
  };
  const create = async () => {
    const r = await fetch(`${node.url}/api/v1/live-streams`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"title":"bench"}' });
    if (r.status !== 201) throw new Error(`${node.name} POST live-streams: ${r.status}`);
    await r.arrayBuffer();
  };
  await measure(200, list); // warm-up: JIT, connection pools, caches
  await measure(100, create);
  return { 'GET /api/v1/videos': await measure(REQUESTS, list), 'POST /api/v1/live-streams': await measure(REQUESTS, create) };
}

await ensureDist(root);
const server = await startPostgres();
const admin = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'strom', database: 'postgres' });
await admin.connect();
// The test server trades durability for speed; a fair comparison uses production settings.
await admin.query('alter system set fsync = on');
await admin.query('alter system set synchronous_commit = on');
await admin.query('alter system set full_page_writes = on');
await admin.query('select pg_reload_conf()');
await admin.end();
const nodes = [await startNode('sqlite', null), await startNode('postgres', await server.createDatabase())];
const token = await signApiToken(resolveConfig({ 'auth.jwtSecret': JWT }), new TextEncoder().encode(JWT), { scopes: ['videos:read', 'live:write'], ttlS: 3600 });

const all: Record<string, Record<string, number[]>> = { sqlite: {}, postgres: {} };
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const node of round % 2 === 0 ? nodes : [...nodes].reverse()) {
      for (const [op, xs] of Object.entries(await ops(node, token))) (all[node.name]![op] ??= []).push(...xs);
    }
  }
  console.log(`API latency, ${ROUNDS} rounds × ${REQUESTS} requests per op at concurrency ${CONCURRENCY} (ms)`);
  console.log('| operation | SQLite p50 | SQLite p99 | PostgreSQL p50 | PostgreSQL p99 | PG/SQLite p50 | PG/SQLite p99 |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const op of Object.keys(all.sqlite!)) {
    const s = all.sqlite![op]!.sort((a, b) => a - b);
    const p = all.postgres![op]!.sort((a, b) => a - b);
    console.log(`| ${op} | ${pct(s, 50).toFixed(2)} | ${pct(s, 99).toFixed(2)} | ${pct(p, 50).toFixed(2)} | ${pct(p, 99).toFixed(2)} | ${(pct(p, 50) / pct(s, 50)).toFixed(2)}× | ${(pct(p, 99) / pct(s, 99)).toFixed(2)}× |`);
  }
} finally {
  for (const n of nodes) {
    n.child.kill('SIGTERM');
    await new Promise((r) => n.child.once('exit', r));
    rmSync(n.dataDir, { recursive: true, force: true });
  }
  await server.stop();
}
