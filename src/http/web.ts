/**
 * The web UI: serves the single-page app built by scripts/build-web.mjs from web/dist.
 * `GET /` (and `/index.html`, `/ui/…`) → index.html with `Cache-Control: no-cache`, so a new build
 * is picked up on the next load; `GET /assets/<name>-<hash>.<ext>` → immutable for a year, since a
 * changed file gets a new name. The files are few and small, so they are read once into memory at
 * start (DESIGN.md: a Buffer written with `res.end` beats streaming from disk). Pages route by URL
 * hash (`#/library`, `#/watch/<id>`, …), so the server needs no per-page routes. See docs/WEB.md.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where the built UI lives: web/dist at the repository root (same from src/http and dist/http). */
export const WEB_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');

const MIME: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/** One file held in memory. */
interface WebFile {
  body: Buffer;
  type: string;
}

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Strom</title>
<main><h1>Strom</h1><p>The web UI is not built. Run <code>npm run build:web</code> (or <code>npm run build</code>) and reload.</p>
<p>The API is at <a href="/api/v1/docs">/api/v1/docs</a>.</p></main></html>`;

function load(dir: string): Map<string, WebFile> {
  const files = new Map<string, WebFile>();
  const assets = path.join(dir, 'assets');
  if (!existsSync(assets)) return files;
  for (const name of readdirSync(assets)) {
    files.set(name, { body: readFileSync(path.join(assets, name)), type: MIME[path.extname(name)] ?? 'application/octet-stream' });
  }
  return files;
}

/** Fastify plugin serving the UI from `dir` (default WEB_DIST). */
export function webRoutes(dir: string = WEB_DIST) {
  return async function routes(app: FastifyInstance): Promise<void> {
    const indexPath = path.join(dir, 'index.html');
    const index = existsSync(indexPath) ? readFileSync(indexPath) : null;
    const assets = load(dir);
    if (!index) app.log.warn({ dir }, 'web UI not built (npm run build:web); / serves a notice');

    const sendIndex = async (_req: unknown, reply: FastifyReply) => reply
      .code(index ? 200 : 503)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin')
      .type('text/html; charset=utf-8')
      .send(index ?? NOT_BUILT);
    for (const url of ['/', '/index.html', '/ui', '/ui/*']) app.get(url, { logLevel: 'warn' }, sendIndex);

    app.get<{ Params: { name: string } }>('/assets/:name', { logLevel: 'warn' }, async (req, reply) => {
      const f = assets.get(req.params.name);
      if (!f) return reply.code(404).header('cache-control', 'no-store').send({ error: { code: 'NOT_FOUND', message: `no UI asset ${req.params.name}`, status: 404 } });
      return reply
        .header('cache-control', 'public, max-age=31536000, immutable')
        .header('x-content-type-options', 'nosniff')
        .type(f.type)
        .send(f.body);
    });
  };
}
