/**
 * The import-structure check that `npm run lint` runs (scripts/check-layers.mjs), on small trees
 * made for the purpose: a clean tree passes, and each kind of violation fails with a message
 * naming the files involved.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const script = path.resolve(import.meta.dirname, '../../scripts/check-layers.mjs');

/** Write `files` (path → source) under a fresh root; returns it. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'strom-layers-'));
  for (const [rel, src] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), src);
  }
  return root;
}

async function check(root: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [script, '--root', root]);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const base = {
  'src/errors.ts': 'export const x = 1;\n',
  'src/store/db.ts': "import { x } from '../errors.js';\nexport const db = x;\n",
  'src/http/api.ts': "import { db } from '../store/db.js';\nexport const api = db;\n",
  'src/app.ts': "import { api } from './http/api.js';\nexport const app = api;\n",
};

test('a tree whose imports point down passes', async () => {
  const r = await check(tree(base));
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /no cycles, imports point down/);
});

test('a lower layer importing a higher one fails, naming both files and layers', async () => {
  const r = await check(tree({ ...base, 'src/store/db.ts': "import { api } from '../http/api.js';\nexport const db = api;\n" }));
  assert.equal(r.code, 1);
  assert.match(r.out, /src\/store\/db\.ts \(store\) imports src\/http\/api\.ts \(http\)/);
});

test('a type-only import counts as a dependency', async () => {
  const r = await check(tree({ ...base, 'src/auth/guard.ts': "import type { App } from '../app.js';\nexport type G = App;\n" }));
  assert.equal(r.code, 1);
  assert.match(r.out, /src\/auth\/guard\.ts \(auth\) imports src\/app\.ts \(app\)/);
});

test('a cycle between two files of one folder fails', async () => {
  const r = await check(tree({
    ...base,
    'src/live/stream/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
    'src/live/stream/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
  }));
  assert.equal(r.code, 1);
  assert.match(r.out, /import cycle between files: src\/live\/stream\/a\.ts ↔ src\/live\/stream\/b\.ts/);
});

test('a cycle between two folders of the same layer fails', async () => {
  const r = await check(tree({
    ...base,
    'src/live/rtmp/r.ts': "import { h } from '../ll-hls/h.js';\nexport const r = 1 + h;\n",
    'src/live/ll-hls/h.ts': "export const h = 1;\n",
    'src/live/ll-hls/g.ts': "import { r } from '../rtmp/r.js';\nexport const g = r;\n",
  }));
  assert.equal(r.code, 1);
  assert.match(r.out, /import cycle between folders: src\/live\/ll-hls ↔ src\/live\/rtmp/);
});

test('a file outside every layer is reported', async () => {
  const r = await check(tree({ ...base, 'src/misc/thing.ts': 'export const t = 1;\n' }));
  assert.equal(r.code, 1);
  assert.match(r.out, /src\/misc\/thing\.ts: in no layer/);
});
