/**
 * Writes docs/CONFIGURATION.md from the settings table in src/config.ts, so the documentation of
 * every setting (name, env variable, default, meaning) can't drift from the code.
 * Run: npx tsx scripts/gen-config-doc.ts > docs/CONFIGURATION.md
 */
import { envName, settings } from '../src/config.js';

/** The whole Markdown document. */
export function renderConfigDoc(): string {

const rows = settings.map((s) => {
  const def = s.default === null ? '—' : Array.isArray(s.default) ? s.default.join(',') || '—' : String(s.default);
  const bounds = [s.min !== undefined ? `≥ ${s.min}` : '', s.max !== undefined ? `≤ ${s.max}` : '', s.values ? s.values.join(' \\| ') : ''].filter(Boolean).join(', ');
  return `| \`${s.key}\` | \`${envName(s.key)}\` | ${s.kind}${bounds ? ` (${bounds})` : ''} | \`${def}\` | ${s.doc} |`;
});

  return `# Configuration

Strom reads its settings in this order, each layer overriding the one before:
defaults < JSON config file (\`--config FILE\` or \`STROM_CONFIG\`) < environment (\`STROM_*\`) < flags
(\`--host\`, \`--port\`, \`--data\`, \`--rtmp-port\`, and \`--set key=value\` for any setting).
A bad value stops the start with a message naming the setting, for example
\`strom: invalid setting port="abc": expected a number\`.

The config file uses the dotted names as nested objects: \`{"delivery": {"cacheBytes": "512MB"}}\`.
Sizes accept \`B, KB, MB, GB\` (powers of 1024); durations accept \`ms, s, m, h\` (plain numbers are
bytes and milliseconds).

This file is generated from \`src/config.ts\` by \`npx tsx scripts/gen-config-doc.ts\`; a unit test
fails when it is out of date.

| setting | environment | kind | default | meaning |
|---|---|---|---|---|
${rows.join('\n')}
`;
}

if (process.argv[1]?.endsWith('gen-config-doc.ts')) process.stdout.write(renderConfigDoc());
