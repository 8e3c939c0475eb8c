/**
 * Live nodes of a test cluster on one private Redis (the cluster settings of ./cluster.ts):
 * `startNode` builds a Strom in this process (its own data directory, RTMP on, the same
 * `live.staticKeys` on every node so a key resolves anywhere without a shared database);
 * `spawnNode` runs one in a child process (test/helpers/cluster-node-main.ts) so a test can
 * SIGKILL it like a crashed machine, and `spawnStrom` runs any Strom that way.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import type { RawSettings } from '../../src/config.js';
import { startApi, type ApiServer } from './api-server.js';
import { CLUSTER_SETTINGS } from './cluster.js';

/** The cluster secret every test node shares. */
export const CLUSTER_SECRET = String(CLUSTER_SETTINGS['cluster.secret']);

const here = path.dirname(fileURLToPath(import.meta.url));

/** Settings of node `nodeId` on `redisUrl`, over `extra`. */
function nodeSettings(redisUrl: string, nodeId: string, extra: RawSettings): RawSettings {
  return {
    'rtmp.enabled': true,
    'live.staticKeys': 'cam1:secret',
    ...CLUSTER_SETTINGS,
    'cluster.redisUrl': redisUrl,
    'cluster.nodeId': nodeId,
    ...extra,
  };
}

/** A node built in this process: a test API server with its RTMP port. */
export interface TestNode extends ApiServer {
  rtmpPort: number;
}

/** Build and start node `nodeId` in this process; closed after the test. */
export async function startNode(t: TestContext, redisUrl: string, nodeId: string, extra: RawSettings = {}): Promise<TestNode> {
  const api = await startApi(t, nodeSettings(redisUrl, nodeId, extra));
  return Object.assign(api, { rtmpPort: api.strom.live.rtmp.port()! });
}

/** Start nodes `node-1` … `node-<count>` in this process, one after the other. */
export async function startNodes(t: TestContext, redisUrl: string, count: number, extra: RawSettings = {}): Promise<TestNode[]> {
  const nodes: TestNode[] = [];
  for (let i = 1; i <= count; i++) nodes.push(await startNode(t, redisUrl, `node-${i}`, extra));
  return nodes;
}

/** A node in a child process. */
export interface SpawnedNode {
  url: string;
  rtmpPort: number;
  /** SIGKILL: the node dies without closing anything (its origin-map entry stays until the TTL). */
  kill(): Promise<void>;
}

/** Start node `nodeId` in a child process; killed after the test if still running. */
export function spawnNode(t: TestContext, redisUrl: string, nodeId: string, extra: RawSettings = {}): Promise<SpawnedNode> {
  return spawnStrom(t, nodeId, nodeSettings(redisUrl, nodeId, extra));
}

/** Start a Strom with `settings` (over the test defaults, in a fresh data directory) in a child process; killed after the test if still running. */
export async function spawnStrom(t: TestContext, name: string, settings: RawSettings): Promise<SpawnedNode> {
  const dataDir = mkdtempSync(path.join(tmpdir(), `strom-${name}-`));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'cluster-node-main.ts'), JSON.stringify({ dataDir, ...settings })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  };
  t.after(kill);
  const ready = await new Promise<{ url: string; rtmpPort: number }>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /ready (\S+) (\d+)/.exec(out);
      if (m) resolve({ url: m[1]!, rtmpPort: Number(m[2]) });
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready`)));
  });
  return { ...ready, kill };
}
