import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { settings } from '../../src/config.js';

const doc = readFileSync(new URL('../../docs/LIMITS.md', import.meta.url), 'utf8');
/** Settings named in the first cell of a table row of docs/LIMITS.md. */
const rows = new Set([...doc.matchAll(/^\| `([A-Za-z0-9.]+)` \|/gm)].map((m) => m[1]!));

test('docs/LIMITS.md has a row for every setting whose key names a maximum or a byte size', () => {
  const bounding = settings.filter((s) => /max|bytes/i.test(s.key)).map((s) => s.key);
  assert.ok(bounding.length > 20, `only ${bounding.length} bounding settings found: the filter is wrong`);
  const missing = bounding.filter((k) => !rows.has(k));
  assert.deepEqual(missing, [], `add a row (bound, metric, what happens at the bound) to docs/LIMITS.md for: ${missing.join(', ')}`);
});

test('every setting docs/LIMITS.md names exists in src/config.ts', () => {
  const known = new Set(settings.map((s) => s.key));
  const stale = [...rows].filter((k) => !known.has(k));
  assert.deepEqual(stale, [], `docs/LIMITS.md names settings that no longer exist: ${stale.join(', ')}`);
});
