/** `strom serve`: load config (defaults < file < env < flags), build, listen, stop cleanly on signals. */
import { parseArgs } from 'node:util';
import { mkdirSync } from 'node:fs';
import { loadConfig, type RawSettings } from '../config.js';
import { buildStrom } from '../app.js';
import { fail } from '../errors.js';

export const serveUsage = `Usage: strom serve [--host H] [--port P] [--data DIR] [--config FILE] [--tls-self-signed] [--rtmp-port N] [--srt-port N] [--rtsp-port N] [--set key=value]...

Starts the Strom server. Settings come from defaults < --config FILE (JSON) < STROM_* environment
variables < flags. Every setting is listed in docs/CONFIGURATION.md; --set sets any of them by its
dotted name, for example --set delivery.cacheBytes=512MB. --tls-self-signed serves HTTPS and HTTP/2
with a certificate generated once into <data>/tls (browsers warn; set tls.cert/tls.key for a real one).`;

/** Parse `serve` flags into raw settings. */
export function serveFlags(argv: string[]): { file?: string; flags: RawSettings } {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string', short: 'p' },
      data: { type: 'string' },
      config: { type: 'string', short: 'c' },
      set: { type: 'string', multiple: true },
      'rtmp-port': { type: 'string' },
      'srt-port': { type: 'string' },
      'rtsp-port': { type: 'string' },
      'tls-self-signed': { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  const flags: RawSettings = { host: values.host, port: values.port, dataDir: values.data };
  if (values['rtmp-port'] !== undefined) flags['rtmp.port'] = values['rtmp-port'];
  if (values['rtsp-port'] !== undefined) {
    flags['rtsp.port'] = values['rtsp-port'];
    flags['rtsp.enabled'] = 'true';
  }
  if (values['srt-port'] !== undefined) {
    flags['srt.port'] = values['srt-port'];
    flags['srt.enabled'] = 'true';
  }
  if (values['tls-self-signed'] === true) flags['tls.selfSigned'] = 'true';
  Object.assign(flags, parseSetFlags(values.set));
  return { file: values.config, flags };
}

/** `--set key=value` flags (repeatable) as raw settings; shared by every command that loads config. */
export function parseSetFlags(list: readonly string[] | undefined): RawSettings {
  const out: RawSettings = {};
  for (const kv of list ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw fail('CLI_USAGE', `--set expects key=value, got ${JSON.stringify(kv)}`);
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

/** Run the server until SIGTERM/SIGINT; exit 0 after a graceful stop. */
export async function serve(argv: string[]): Promise<void> {
  const { file, flags } = serveFlags(argv);
  const config = loadConfig({ file, flags });
  mkdirSync(config.dataDir, { recursive: true });
  const strom = await buildStrom(config);
  const { url } = await strom.listen();
  strom.log.info({ url, dataDir: config.dataDir }, `Strom listening on ${url}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    strom.log.info({ signal }, 'shutting down: no new connections, finishing in-flight responses');
    // Safety net: a graceful stop is bounded (timeouts.shutdownMs for responses, the same again for
    // workers and flushing); past that, something is stuck and waiting longer helps nobody.
    const limitMs = config.timeouts.shutdownMs * 2 + 5_000;
    setTimeout(() => {
      strom.log.error({ limitMs }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, limitMs).unref();
    strom.close().then(
      () => {
        strom.log.info('stopped');
        process.exit(0);
      },
      (err) => {
        strom.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
