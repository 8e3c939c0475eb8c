/**
 * Child process for bench/restream/cpu.ts: a Strom with HTTP on argv[2], RTMP on argv[3], a live
 * stream `bench` (publish key `bench`) and one restreaming output per further argument (an
 * rtmp:// URL with the key in its path). Prints "ready" on stderr once listening.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

const [http, rtmp, ...destinations] = process.argv.slice(2);
const strom = await buildStrom(testConfig({
  dataDir: mkdtempSync(path.join(tmpdir(), 'strom-bench-restream-')),
  port: Number(http),
  'rtmp.port': Number(rtmp),
  'live.staticKeys': 'bench:bench',
  'timeouts.idleMs': '10m',
}));
await strom.control.store.liveStreams.create({ id: 'bench', title: 'restream bench' });
for (const url of destinations) await strom.control.store.liveOutputs.create('bench', { url: url! }, 100);
await strom.listen();
process.stderr.write('ready\n');
process.on('SIGTERM', () => void strom.close().then(() => process.exit(0)));
