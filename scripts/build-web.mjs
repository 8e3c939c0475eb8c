// Builds the web UI (web/src → web/dist) with esbuild: one ESM entry with code splitting (hls.js,
// mpegts.js and tus-js-client load only on the pages that use them), content-hashed file names
// under web/dist/assets/ (served immutable), and web/dist/index.html (served no-cache) naming them;
// plus the embed player page template web/dist/embed.html and its asset list web/dist/embed.json.
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
  entryPoints: { app: 'web/src/main.ts', style: 'web/src/style.css', embed: 'web/src/embed.ts' },
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

// The embed page: its module and the chunks it imports statically (preloaded by the page and named
// in its 103 Early Hints, so hls.js arrives with the module instead of after it). The server fills
// the per-video placeholders (%TITLE%, %POSTER%, %CONTROLS%, %CONFIG%, %MEDIA_PRELOADS%) per request.
const embedOut = outputs.find(([, o]) => o.entryPoint === 'web/src/embed.ts');
if (!embedOut) throw new Error('build-web: no output for web/src/embed.ts');
const embedModules = embedOut[1].imports.filter((i) => i.kind === 'import-statement' && !i.external).map((i) => '/assets/' + path.basename(i.path));
writeFileSync(path.join(out, 'embed.json'), JSON.stringify({ script: named('web/src/embed.ts'), modules: embedModules }));
const embedHtml = readFileSync(path.join(web, 'embed.html'), 'utf8')
  .replace('%EMBED_JS%', named('web/src/embed.ts'))
  .replace('%MODULE_PRELOADS%', embedModules.map((m) => `<link rel="modulepreload" href="${m}">`).join('\n  '));
writeFileSync(path.join(out, 'embed.html'), embedHtml);
const bytes = outputs.reduce((n, [, o]) => n + o.bytes, 0);
console.log(`build-web: ${outputs.length} files, ${(bytes / 1024).toFixed(0)} KiB → ${path.relative(root, out)}/`);
