/**
 * Child-process entry of a test cluster node (test/helpers/cluster-nodes.ts `spawnNode`):
 * `node --import tsx cluster-node-main.ts '<settings JSON>'` builds and listens a Strom with
 * those settings over the test defaults, then prints `ready <httpUrl> <rtmpPort>`. It runs until
 * killed (the tests SIGKILL it to simulate a crash) or SIGTERM.
 */
import { buildStrom } from '../../src/app.js';
import { testConfig, type RawSettings } from '../../src/config.js';

const settings = JSON.parse(process.argv[2] ?? '{}') as RawSettings;
const strom = await buildStrom(testConfig(settings));
const { url } = await strom.listen();
process.stdout.write(`ready ${url} ${strom.live.rtmp.port() ?? 0}\n`);
process.on('SIGTERM', () => void strom.close().then(() => process.exit(0)));
