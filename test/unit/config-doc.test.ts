import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderConfigDoc } from '../../scripts/gen-config-doc.js';

test('docs/CONFIGURATION.md lists every setting exactly as src/config.ts declares it', () => {
  const onDisk = readFileSync(new URL('../../docs/CONFIGURATION.md', import.meta.url), 'utf8');
  assert.equal(onDisk, renderConfigDoc(), 'regenerate with: npx tsx scripts/gen-config-doc.ts > docs/CONFIGURATION.md');
});
