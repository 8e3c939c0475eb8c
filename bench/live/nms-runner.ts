/**
 * Child process for bench/live: node-media-server 4.x (installed by run.ts under /tmp) with HTTP on
 * argv[3], RTMP on argv[4]. Its logger is lowered to "error" so logging does not count against it.
 */
import { createRequire } from 'node:module';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.join(process.argv[2]!, 'node_modules', 'node-media-server');
const NodeMediaServer = require(root) as new (config: object, file: string) => { run(): void };
const logger = require(path.join(root, 'src', 'core', 'logger.js')) as { level: string };
const dir = mkdtempSync(path.join(os.tmpdir(), 'nms-bench-'));
const nms = new NodeMediaServer({
  bind: '127.0.0.1',
  notify: { url: '' },
  store: { path: dir, maxHistory: 100 },
  auth: { play: false, publish: false, secret: '' },
  rtmp: { port: Number(process.argv[4]) },
  http: { port: Number(process.argv[3]) },
  webadmin: { enable: false },
  record: { auto: false, path: dir },
}, path.join(dir, 'config.json'));
logger.level = 'error';
nms.run();
logger.level = 'error';
setTimeout(() => process.stderr.write('ready\n'), 500);
process.on('SIGTERM', () => process.exit(0));
