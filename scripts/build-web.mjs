// Builds the web UI (web/src → web/dist) with esbuild: one ESM entry with code splitting (hls.js,
// mpegts.js and tus-js-client load only on the pages that use them), content-hashed file names
// under web/dist/assets/ (served immutable), and web/dist/index.html (served no-cache) naming them.
//   node scripts/build-web.mjs [--dev]   (--dev: no minification, inline source maps)
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const web = path.join(root, 'web');
const out = path.join(web, 'dist');
const dev = process.argv.includes('--dev');

rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, 'assets'), { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { app: 'web/src/main.ts', style: 'web/src/style.css' },
  bundle: true,
  splitting: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
  outdir: path.join(out, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});

const outputs = Object.entries(result.metafile.outputs);
const named = (entry) => {
  const hit = outputs.find(([, o]) => o.entryPoint === entry);
  if (!hit) throw new Error(`build-web: no output for ${entry}`);
  return '/assets/' + path.basename(hit[0]);
};
const html = readFileSync(path.join(web, 'index.html'), 'utf8')
  .replace('%APP_JS%', named('web/src/main.ts'))
  .replace('%APP_CSS%', named('web/src/style.css'));
writeFileSync(path.join(out, 'index.html'), html);
const bytes = outputs.reduce((n, [, o]) => n + o.bytes, 0);
console.log(`build-web: ${outputs.length} files, ${(bytes / 1024).toFixed(0)} KiB → ${path.relative(root, out)}/`);
