#!/usr/bin/env node
/**
 * The `strom` command line. Each subcommand lives in src/cli/<name>.ts and is registered in
 * `commands` below with a one-line summary for `strom --help`.
 */
import { readFileSync } from 'node:fs';
import { isStromError } from './errors.js';
import { serve, serveUsage } from './cli/serve.js';
import { ingest, ingestUsage } from './cli/ingest.js';
import { token, tokenUsage } from './cli/token.js';
import { edge, edgeUsage } from './cli/edge.js';

interface Command {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<void>;
}

const commands: Record<string, Command> = {
  serve: { summary: 'run the server (HTTP API, delivery origin)', usage: serveUsage, run: serve },
  edge: { summary: 'run a stateless caching edge in front of an origin: strom edge --origin URL', usage: edgeUsage, run: edge },
  ingest: { summary: 'transcode a file into a playable asset, with a progress bar', usage: ingestUsage, run: ingest },
  token: { summary: 'create an API token: strom token create --scope "…" [--ttl 1h]', usage: tokenUsage, run: token },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function help(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `strom ${version()} — self-hosted low-latency video streaming server

Usage: strom <command> [options]

Commands:
${lines.join('\n')}

Options:
  -h, --help     show help (also: strom <command> --help)
  -v, --version  print the version

Docs: README.md, docs/CONFIGURATION.md`;
}

async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    console.log(help());
    return;
  }
  if (first === '--version' || first === '-v') {
    console.log(version());
    return;
  }
  const cmd = commands[first];
  if (!cmd) {
    console.error(`strom: unknown command ${JSON.stringify(first)}\n\n${help()}`);
    process.exit(2);
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.usage);
    return;
  }
  await cmd.run(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (isStromError(err)) console.error(`strom: ${err.message}`);
  else if (err instanceof Error && 'code' in err && String((err as { code: unknown }).code).startsWith('ERR_PARSE_ARGS')) console.error(`strom: ${err.message}`);
  else console.error(err);
  process.exit(isStromError(err) && err.code === 'CLI_USAGE' ? 2 : 1);
});
