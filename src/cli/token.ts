/**
 * `strom token create --scope "videos:read videos:write" [--ttl 1h] [--sub NAME] [--data DIR]`:
 * prints an HS256 API token on stdout, signed with the same secret the server uses (configured
 * `auth.jwtSecret`, else `<dataDir>/secrets/api-jwt.secret`, generated when absent).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { fail } from '../errors.js';
import { loadApiSecret, signApiToken } from '../auth/api-auth.js';
import { parseScopes, SCOPES } from '../auth/scopes.js';

export const tokenUsage = `Usage: strom token create --scope "SCOPES" [--ttl 1h] [--sub NAME] [--data DIR] [--config FILE]

Prints an API token (JWT, HS256) on stdout. SCOPES: space- or comma-separated from
${SCOPES.join(', ')}. --ttl accepts s, m, h, d (default 1h).`;

const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parse "90", "30s", "15m", "1h", "7d" into seconds. */
export function parseTtl(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m || Number(m[1]) <= 0) throw fail('CLI_USAGE', `--ttl expects a positive duration like 1h, got ${JSON.stringify(text)}`);
  return Number(m[1]) * TTL_UNITS[m[2] || 's']!;
}

/** Run `strom token …`. */
export async function token(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { scope: { type: 'string' }, ttl: { type: 'string', default: '1h' }, sub: { type: 'string' }, data: { type: 'string' }, config: { type: 'string', short: 'c' } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals[0] !== 'create' || positionals.length !== 1) throw fail('CLI_USAGE', tokenUsage);
  if (!values.scope) throw fail('CLI_USAGE', `--scope is required\n\n${tokenUsage}`);
  let scopes;
  try {
    scopes = parseScopes(values.scope);
  } catch (err) {
    throw fail('CLI_USAGE', `unknown scope ${JSON.stringify((err as Error).message)}; known: ${SCOPES.join(', ')}`);
  }
  if (scopes.length === 0) throw fail('CLI_USAGE', '--scope names no scope');
  const config = loadConfig({ file: values.config, flags: { dataDir: values.data } });
  const jwt = await signApiToken(config, loadApiSecret(config), { scopes, ttlS: parseTtl(values.ttl), sub: values.sub });
  process.stdout.write(`${jwt}\n`);
}
