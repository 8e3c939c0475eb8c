/** Child process for bench/live: a Strom with HTTP on argv[2], RTMP on argv[3], key `bench` → stream `bench`. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

const strom = await buildStrom(testConfig({
  dataDir: mkdtempSync(path.join(tmpdir(), 'strom-bench-live-')),
  port: Number(process.argv[2]),
  'rtmp.port': Number(process.argv[3]),
  'live.staticKeys': 'bench:bench',
  'timeouts.idleMs': '10m',
}));
await strom.listen();
process.stderr.write('ready\n');
process.on('SIGTERM', () => void strom.close().then(() => process.exit(0)));
