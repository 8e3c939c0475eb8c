/**
 * `GET /embed/<id>`: the embed player page (web/src/embed.ts), a page with only the video for an
 * `<iframe>`, and the page Strom makes start fast:
 *
 * - the playback URL is written into the page, so the player starts without an API round trip;
 * - `<link rel=preload>` for what the player fetches first — the master, the start variant's
 *   playlist, init and first segment, and the default audio rendition's (Delivery.startupHints) —
 *   plus `modulepreload` for the player's code, so all of it is requested in parallel with the page;
 * - to a viewer on HTTP/2 or HTTP/3 (directly, or through a trusted front: viewer-protocol.ts), the
 *   same links in a 103 Early Hints response before the page (RFC 8297). Chromium
 *   acts on 103 only for top-level navigations and only over HTTP/2+ (chromium docs/early-hints.md),
 *   which is why the hints that matter are on this page, not on the master playlist a player fetches.
 *
 * Query: `token` (signed videos: the page plays `/s/<token>/…` and is refused without a valid one),
 * `autoplay`, `muted`, `loop` (`1`/`true`), `start` (seconds). The page is `no-cache` (public) or
 * `private, no-store` (signed), and `Content-Security-Policy: frame-ancestors` follows
 * `delivery.embedFrameAncestors`. Unknown or unplayable videos get a 404 page, bad tokens a 403 page.
 * The head carries the oEmbed discovery link (oembed-routes.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Config } from '../config.js';
import { isStromError, type StromError, fail } from '../errors.js';
import type { Delivery } from './delivery/delivery-handler.js';
import type { ControlPlane } from './api/api.js';
import { WEB_DIST } from './web.js';
import { oembedLink } from './oembed-routes.js';
import { publicBase } from './public-base.js';
import { viewerHttpMajor } from './viewer-protocol.js';

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const TOKEN = /^[A-Za-z0-9._~-]{1,2048}$/;
const MAX_START_S = 86_400 * 7;

/** The built page template and the player's modules (scripts/build-web.mjs). */
interface EmbedBuild {
  html: string;
  script: string;
  modules: string[];
}

function loadBuild(dir: string): EmbedBuild | null {
  const html = path.join(dir, 'embed.html');
  const json = path.join(dir, 'embed.json');
  if (!existsSync(html) || !existsSync(json)) return null;
  const assets = JSON.parse(readFileSync(json, 'utf8')) as { script: string; modules: string[] };
  return { html: readFileSync(html, 'utf8'), script: assets.script, modules: assets.modules };
}

/** HTML text and attribute escaping. */
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `<link rel=preload>` tags for `Link` values of the form `<url>; rel=preload; as=fetch; crossorigin`. */
function preloadTags(links: string[]): string {
  return links.map((l) => /^<([^>]+)>/.exec(l)?.[1]).filter((u): u is string => u !== undefined)
    .map((u) => `<link rel="preload" href="${esc(u)}" as="fetch" crossorigin>`).join('\n  ');
}

function flag(v: unknown): boolean {
  return v === '1' || v === 'true' || v === '';
}

/** Fastify plugin: the embed page (`dir`: the built UI, default web/dist). */
export function embedRoutes(o: { config: Config; delivery: Delivery; control: ControlPlane; dir?: string }) {
  return async function routes(app: FastifyInstance): Promise<void> {
    const build = loadBuild(o.dir ?? WEB_DIST);
    const { store, policy, tokens } = o.control;

    const page = (reply: FastifyReply, status: number, title: string, text: string) => reply.code(status)
      .header('cache-control', 'no-store').header('x-content-type-options', 'nosniff').type('text/html; charset=utf-8')
      .send(`<!doctype html><html lang="en"><meta charset="utf-8"><title>${esc(title)}</title><body style="margin:0;background:#000;color:#eee;font:14px system-ui,sans-serif"><p style="padding:1em">${esc(text)}</p></body></html>`);
    const refuse = (reply: FastifyReply, err: StromError) => page(reply, err.statusCode, 'Video unavailable', err.message);

    app.get<{ Params: { id: string }; Querystring: Record<string, string | undefined> }>('/embed/:id', { logLevel: 'warn' }, async (req, reply) => {
      const { id } = req.params;
      if (build === null) return page(reply, 503, 'Strom', 'The web UI is not built (npm run build:web).');
      if (!ID.test(id)) return refuse(reply, fail('VIDEO_NOT_FOUND', id));
      const video = await store.videos.get(id);
      if (video === undefined || (video.playable !== 1 && video.status !== 'ready')) return refuse(reply, fail('VIDEO_NOT_FOUND', id));
      const q = req.query;
      let base = `/v/${id}/`;
      const signed = policy.isSigned(id);
      if (signed) {
        const token = q.token;
        if (token === undefined || !TOKEN.test(token)) return refuse(reply, fail('PLAYBACK_DENIED', id, 'this video needs a signed playback token (?token=)'));
        try {
          await tokens.verify(token, id);
        } catch (err) {
          if (isStromError(err)) return refuse(reply, err);
          throw err;
        }
        base = `/s/${token}/${id}/`;
      }
      const start = Number(q.start ?? 0);
      const media = (await o.delivery.startupHints(id)).map((l) => l.replace(`</v/${id}/`, `<${base}`));
      const modules = [build.script, ...build.modules].map((m) => `<${m}>; rel=modulepreload`);
      if (o.config.delivery.earlyHints && viewerHttpMajor(req) >= 2 && media.length > 0) {
        reply.raw.writeEarlyHints({ link: [...media, ...modules] });
      }
      const cfg = {
        hls: `${base}master.m3u8`,
        autoplay: flag(q.autoplay), muted: flag(q.muted), loop: flag(q.loop),
        start: Number.isFinite(start) && start > 0 ? Math.min(start, MAX_START_S) : 0,
        // A cenc video plays through EME with Strom's ClearKey license endpoint (docs/VOD.md "Content protection").
        license: video.protection === 'cenc' ? `${base}license` : null,
      };
      const title = video.title || video.id;
      const html = build.html
        .replaceAll('%TITLE%', esc(title))
        .replace('%POSTER%', esc(`${base}poster.jpg`))
        // Autoplay: the native controls come after the first frame (web/src/embed.ts): styling
        // Chromium's media-controls shadow tree costs ~35 ms of main thread per layout before it.
        .replace('%CONTROLS%', cfg.autoplay ? '' : 'controls')
        // oEmbed discovery (oembed.com §4): consumers given this page's URL find the provider endpoint.
        .replace('%MEDIA_PRELOADS%', `${preloadTags(media)}\n  ${oembedLink(publicBase(o.config, req), `${publicBase(o.config, req)}/embed/${id}${signed ? `?token=${q.token ?? ''}` : ''}`, title)}`)
        // JSON inside <script>: `<` escaped so no value can close the element.
        .replace('%CONFIG%', JSON.stringify(cfg).replace(/</g, '\\u003c'));
      return reply
        .header('cache-control', signed ? 'private, no-store' : 'no-cache')
        .header('content-security-policy', `frame-ancestors ${o.config.delivery.embedFrameAncestors}`)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'strict-origin-when-cross-origin')
        .type('text/html; charset=utf-8')
        .send(html);
    });
  };
}
