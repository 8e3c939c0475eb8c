/** `strom edge`: run a stateless caching edge in front of one or more origins (src/edge/edge-node.ts). */
import { parseArgs } from 'node:util';
import { loadConfig, type RawSettings } from '../config.js';
import { buildEdge } from '../edge/edge-node.js';
import { fail } from '../errors.js';
import { parseSetFlags } from './serve.js';

export const edgeUsage = `Usage: strom edge --origin URL [--origin URL2]... [--host H] [--port P] [--secret S]
                  [--cache-bytes SIZE] [--disk DIR --disk-bytes SIZE] [--config FILE] [--set key=value]...

Runs an edge: a node with no database and no media of its own that serves every playback surface of
its origin — VOD and signed VOD through a pull-through cache (coalesced misses, prefetch of the next
segments, memory and disk tiers), LL-HLS and LL-DASH (identical blocking requests collapsed into one
upstream request), and HTTP-FLV, WS-FLV, RTMP play and WHEP from one relay pull per stream.
Origins are tried in the order given, with health checks and failover. The edge authenticates to
its origin with the origin's cluster.secret (--secret, or STROM_CLUSTER_SECRET).
Settings: docs/CONFIGURATION.md (edge.*); the tiered picture: docs/SCALING.md "Edge tier".`;

/** Parse `edge` flags into raw settings. */
export function edgeFlags(argv: string[]): { file?: string; flags: RawSettings } {
  const { values } = parseArgs({
    args: argv,
    options: {
      origin: { type: 'string', multiple: true },
      host: { type: 'string' },
      port: { type: 'string', short: 'p' },
      secret: { type: 'string' },
      'cache-bytes': { type: 'string' },
      disk: { type: 'string' },
      'disk-bytes': { type: 'string' },
      'rtmp-port': { type: 'string' },
      config: { type: 'string', short: 'c' },
      set: { type: 'string', multiple: true },
    },
    strict: true,
    allowPositionals: false,
  });
  const flags: RawSettings = { host: values.host, port: values.port };
  if (values.origin !== undefined) flags['edge.origins'] = values.origin.join(',');
  if (values.secret !== undefined) flags['cluster.secret'] = values.secret;
  if (values['cache-bytes'] !== undefined) flags['edge.cacheBytes'] = values['cache-bytes'];
  if (values.disk !== undefined) flags['edge.diskDir'] = values.disk;
  if (values['disk-bytes'] !== undefined) flags['edge.diskBytes'] = values['disk-bytes'];
  if (values['rtmp-port'] !== undefined) flags['rtmp.port'] = values['rtmp-port'];
  Object.assign(flags, parseSetFlags(values.set));
  return { file: values.config, flags };
}

/** Run the edge until SIGTERM/SIGINT; exit 0 after a graceful stop. */
export async function edge(argv: string[]): Promise<void> {
  const { file, flags } = edgeFlags(argv);
  const config = loadConfig({ file, flags });
  if (config.edge.origins.length === 0) throw fail('CLI_USAGE', 'strom edge needs at least one --origin URL (or edge.origins)');
  const node = await buildEdge(config);
  const { url } = await node.listen();
  node.log.info({ url, nodeId: node.nodeId }, `Strom edge listening on ${url}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    node.log.info({ signal }, 'edge shutting down: no new connections, finishing in-flight responses');
    const limitMs = config.timeouts.shutdownMs * 2 + 5_000;
    setTimeout(() => {
      node.log.error({ limitMs }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, limitMs).unref();
    node.close().then(() => process.exit(0), (err: unknown) => {
      node.log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
