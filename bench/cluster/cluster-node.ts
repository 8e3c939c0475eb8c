/**
 * Child process of bench/cluster/cross-node-latency.ts: one Strom cluster node.
 *   node --import tsx cluster-node.ts <httpPort> <rtmpPort> <redisUrl> <nodeId>
 * Key `bench` publishes stream `bench`; prints `ready` on stderr once listening; SIGTERM closes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

const [httpPort, rtmpPort, redisUrl, nodeId] = process.argv.slice(2);
const dataDir = mkdtempSync(path.join(tmpdir(), `strom-bench-${nodeId}-`));
const strom = await buildStrom(testConfig({
  dataDir,
  port: Number(httpPort),
  'rtmp.enabled': true,
  'rtmp.port': Number(rtmpPort),
  'live.staticKeys': 'bench:bench',
  'timeouts.idleMs': '10m',
  'cluster.redisUrl': redisUrl,
  'cluster.nodeId': nodeId,
  'cluster.secret': 'bench-cluster-secret-0123456789',
  'auth.jwtSecret': 'bench-api-secret-shared-by-every-node',
  'cluster.relayIdleMs': '1m',
}));
await strom.listen();
process.stderr.write('ready\n');
process.on('SIGTERM', () => void strom.close().then(() => {
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}));
