// Checks the import structure of src/ (part of `npm run lint`):
//   1. no import cycles between files;
//   2. no cycles between folders (a folder is a module: src/live/rtmp, src/auth, …);
//   3. every import points to the importer's own layer or a lower one (LAYERS below, lowest first;
//      docs/ARCHITECTURE.md "Layers" explains them).
// Imports are read with TypeScript's own pre-processor (`ts.preProcessFile`), which finds static
// imports, re-exports and dynamic `import()` without type-checking: the whole tree takes ~0.2 s.
// Type-only imports count too: a type from a higher layer is still a dependency on its meaning.
//   node scripts/check-layers.mjs [--graph] [--root DIR]   (--graph prints the folder-level edges;
//   --root checks another tree, for the script's own test)
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Layers, lowest first. A file belongs to the first entry whose prefix matches its path. */
const LAYERS = [
  ['core', ['src/config.ts', 'src/errors.ts', 'src/logger.ts', 'src/http-message.ts', 'src/optional-module.ts']],
  ['media formats', ['src/media/']],
  ['store', ['src/store/']],
  ['storage', ['src/storage/']],
  ['cluster', ['src/cluster/']],
  ['events', ['src/events/']],
  ['auth', ['src/auth/']],
  ['jobs', ['src/jobs/']],
  ['vod', ['src/vod/']],
  ['live media', ['src/live/stream/', 'src/live/formats/', 'src/live/rtp/']],
  ['live services', ['src/live/transcode/', 'src/live/abr/', 'src/live/slate/']],
  ['live protocols', ['src/live/rtmp/', 'src/live/srt/', 'src/live/http-flv/', 'src/live/ll-hls/', 'src/live/ll-dash/', 'src/live/webrtc/', 'src/live/relay/', 'src/live/rtsp/']],
  ['live recording', ['src/live/recording/']],
  ['live server', ['src/live/']],
  ['observability', ['src/observability/']],
  ['http', ['src/http/']],
  ['edge', ['src/edge/']],
  ['app', ['src/app.ts']],
  ['cli', ['src/main.ts', 'src/cli/']],
];

const rootArg = process.argv.indexOf('--root');
const root = rootArg > 0 ? path.resolve(process.argv[rootArg + 1]) : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rel = (p) => path.relative(root, p).split(path.sep).join('/');

function layerOf(file) {
  const i = LAYERS.findIndex(([, prefixes]) => prefixes.some((p) => file === p || (p.endsWith('/') && file.startsWith(p))));
  return i;
}

function sourceFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel(p));
  }
  return out;
}

const files = sourceFiles(path.join(root, 'src'));
const known = new Set(files);
/** file → the src files it imports */
const graph = new Map();
for (const f of files) {
  const info = ts.preProcessFile(readFileSync(path.join(root, f), 'utf8'), true, true);
  const deps = [];
  for (const { fileName } of info.importedFiles) {
    if (!fileName.startsWith('.')) continue;
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), fileName)).replace(/\.js$/, '.ts');
    if (known.has(target)) deps.push(target);
  }
  graph.set(f, deps);
}

const problems = [];
for (const f of files) {
  const lf = layerOf(f);
  if (lf < 0) problems.push(`${f}: in no layer (add its folder to LAYERS in scripts/check-layers.mjs)`);
}

// 3. layer order
for (const [f, deps] of graph) {
  const lf = layerOf(f);
  for (const d of deps) {
    const ld = layerOf(d);
    if (lf >= 0 && ld > lf) problems.push(`${f} (${LAYERS[lf][0]}) imports ${d} (${LAYERS[ld][0]}): a lower layer must not import a higher one`);
  }
}

/** Strongly connected components with more than one member (Tarjan), i.e. the cycles. */
function cycles(nodes, edges) {
  let index = 0;
  const idx = new Map(), low = new Map(), stack = [], on = new Set(), out = [];
  const visit = (v) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); on.add(v);
    for (const w of edges(v)) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const c = [];
      let w;
      do { w = stack.pop(); on.delete(w); c.push(w); } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of nodes) if (!idx.has(v)) visit(v);
  return out;
}

// 1. file cycles
for (const c of cycles(files, (f) => graph.get(f))) problems.push(`import cycle between files: ${c.join(' ↔ ')}`);

// 2. folder cycles
// Files directly in src/ are the core at the bottom and the composition root at the top: they
// count as two modules, named after their layer.
const folderOf = (f) => (path.posix.dirname(f) === 'src' ? `src (${LAYERS[layerOf(f)][0]})` : path.posix.dirname(f));
const folderEdges = new Map();
for (const [f, deps] of graph) {
  for (const d of deps) {
    const a = folderOf(f), b = folderOf(d);
    if (a === b) continue;
    if (!folderEdges.has(a)) folderEdges.set(a, new Set());
    folderEdges.get(a).add(b);
  }
}
const folders = [...new Set(files.map(folderOf))];
for (const c of cycles(folders, (d) => [...(folderEdges.get(d) ?? [])])) problems.push(`import cycle between folders: ${c.join(' ↔ ')}`);

if (process.argv.includes('--graph')) {
  for (const a of [...folderEdges.keys()].sort()) console.log(`${a} → ${[...folderEdges.get(a)].sort().join(', ')}`);
}
if (problems.length > 0) {
  for (const p of problems) console.error(`check-layers: ${p}`);
  console.error(`check-layers: ${problems.length} problem(s); layers, lowest first: ${LAYERS.map(([n]) => n).join(' < ')}`);
  process.exit(1);
}
console.log(`check-layers: ${files.length} files, no cycles, imports point down (${LAYERS.length} layers)`);
