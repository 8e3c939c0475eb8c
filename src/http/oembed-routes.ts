/**
 * `GET /oembed?url=…&maxwidth=&maxheight=&format=json`: the oEmbed provider endpoint
 * (oembed.com §2.2) for Strom's video pages — the web UI's watch page `<base>/#/watch/<id>` and
 * the embed page `<base>/embed/<id>` — where `<base>` is `publicUrl` (else the origin the request
 * came to). The answer is a `video` type response (§2.3.4.2): an `<iframe>` of the embed page
 * sized to the video's aspect ratio within maxwidth × maxheight, the title, the poster as
 * thumbnail and the duration (an extension field, as other providers send it).
 *
 * Signed videos (§2.3.5 401 for private resources): the URL must carry `?token=` (a playback
 * token of that video); the iframe and thumbnail then use it. Errors as the spec lists them: 404
 * for a URL that is not one of our video pages or names no playable video, 501 for a format other
 * than json, 401 without a token, 403 with one that does not verify, 400 without a usable url.
 * Consumers discover the endpoint from the embed page's `<link rel="alternate"
 * type="application/json+oembed">` (§4).
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { fail, isStromError } from '../errors.js';
import type { ControlPlane } from './api/api.js';
import { publicBase } from './public-base.js';

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const TOKEN = /^[A-Za-z0-9._~-]{1,2048}$/;
/** Width of the iframe when the consumer sets no bound (and the video is at least this wide). */
const DEFAULT_WIDTH = 640;

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The discovery link of a video page (§4): what the embed page carries in its head. */
export function oembedLink(base: string, pageUrl: string, title: string): string {
  return `<link rel="alternate" type="application/json+oembed" href="${esc(`${base}/oembed?url=${encodeURIComponent(pageUrl)}&format=json`)}" title="${esc(title)}">`;
}

/** The video id and token a URL of ours names, or null when it is not one of our video pages. */
export function parseVideoUrl(raw: string, base: string): { id: string; token: string | undefined } | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw fail('OEMBED_URL_INVALID', raw, 'not an absolute URL');
  }
  if (u.origin !== new URL(base).origin) return null;
  const basePath = new URL(base).pathname.replace(/\/+$/, '');
  const rel = u.pathname.startsWith(basePath) ? u.pathname.slice(basePath.length) : null;
  const embed = rel === null ? null : /^\/embed\/([^/]+)$/.exec(rel);
  // The web UI routes by fragment: `#/watch/<id>`, a token possibly in the fragment's own query.
  const watch = rel === '/' || rel === '' ? /^#\/watch\/([^/?]+)(?:\?(.*))?$/.exec(u.hash) : null;
  const token = u.searchParams.get('token') ?? new URLSearchParams(watch?.[2] ?? '').get('token') ?? undefined;
  const id = (embed ?? watch)?.[1] ?? '';
  return ID.test(id) ? { id, token } : null;
}

/** Fit `w × h` into the consumer's bounds (§2.2: maxwidth / maxheight must be respected), keeping the ratio. */
export function fitSize(w: number, h: number, maxW: number | undefined, maxH: number | undefined): { width: number; height: number } {
  let width = Math.min(w, DEFAULT_WIDTH, maxW ?? Infinity);
  let height = (width * h) / w;
  if (maxH !== undefined && height > maxH) {
    height = maxH;
    width = (height * w) / h;
  }
  return { width: Math.max(1, Math.floor(width)), height: Math.max(1, Math.floor(height)) };
}

function bound(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw fail('VALIDATION_FAILED', name, `${JSON.stringify(v)} is not a positive integer of pixels`);
  return n;
}

/** Fastify plugin: `GET /oembed`. */
export function oembedRoutes(o: { config: Config; control: ControlPlane }) {
  return async function routes(app: FastifyInstance): Promise<void> {
    const { store, policy, tokens } = o.control;
    app.get<{ Querystring: Record<string, string | undefined> }>('/oembed', async (req, reply) => {
      const q = req.query;
      if (q.format !== undefined && q.format !== 'json') throw fail('OEMBED_FORMAT', q.format);
      if (!q.url) throw fail('OEMBED_URL_INVALID', '', 'the url parameter is required');
      const maxW = bound('maxwidth', q.maxwidth);
      const maxH = bound('maxheight', q.maxheight);
      const base = publicBase(o.config, req);
      const named = parseVideoUrl(q.url, base);
      if (named === null) throw fail('OEMBED_NOT_OURS', q.url);
      const { id, token } = named;
      const video = await store.videos.get(id);
      if (video === undefined || (video.playable !== 1 && video.status !== 'ready')) throw fail('VIDEO_NOT_FOUND', id);
      let media = `${base}/v/${id}`;
      let page = `${base}/embed/${id}`;
      if (policy.isSigned(id)) {
        if (token === undefined) throw fail('UNAUTHORIZED', `video ${id} is signed: the url needs its playback token (?token=)`);
        if (!TOKEN.test(token)) throw fail('PLAYBACK_DENIED', id, 'the token is malformed');
        try {
          await tokens.verify(token, id);
        } catch (err) {
          if (isStromError(err)) throw fail('PLAYBACK_DENIED', id, err.message);
          throw err;
        }
        media = `${base}/s/${token}/${id}`;
        page = `${page}?token=${encodeURIComponent(token)}`;
      }
      const w = video.width ?? 1280;
      const h = video.height ?? 720;
      const size = fitSize(w, h, maxW, maxH);
      const title = video.title || video.id;
      const html = `<iframe src="${esc(page)}" width="${size.width}" height="${size.height}" frameborder="0" ` +
        `allow="autoplay; fullscreen; picture-in-picture" allowfullscreen title="${esc(title)}"></iframe>`;
      return reply.header('cache-control', policy.isSigned(id) ? 'private, no-store' : 'public, max-age=300').send({
        type: 'video', version: '1.0', title, provider_name: o.config.delivery.oembedProviderName, provider_url: `${base}/`,
        html, width: size.width, height: size.height,
        // The poster is the top rung's size (the video row's width × height).
        thumbnail_url: `${media}/poster.jpg`, thumbnail_width: w, thumbnail_height: h,
        ...(video.duration_s !== null ? { duration: Math.round(video.duration_s * 1000) / 1000 } : {}),
      });
    });
  };
}
