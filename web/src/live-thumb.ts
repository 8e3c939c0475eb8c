/**
 * Live thumbnails in the pages: `GET /live/<id>/thumbnail.jpg` (docs/LIVE.md "Live thumbnails")
 * is a JPEG of the stream's latest keyframe that the server renders at most once per
 * `live.thumbnailIntervalMs`. The <img> reloads it at that pace while it is in the document and
 * hides itself while the request fails, so the card's empty look shows through.
 */
import { h } from './dom.js';

/** How often a shown thumbnail is reloaded (the server's default `live.thumbnailIntervalMs`). */
export const LIVE_THUMB_REFRESH_MS = 5000;

/**
 * An <img> of `url`, hidden until it loads and while a reload fails; reloaded every
 * LIVE_THUMB_REFRESH_MS until `signal` aborts or the image leaves the document.
 */
export function liveThumbImg(url: string, signal: AbortSignal, alt = ''): HTMLImageElement {
  const img = h('img', { alt, class: 'live-thumb-img', decoding: 'async', 'data-src': url, hidden: true });
  img.addEventListener('load', () => (img.hidden = false));
  img.addEventListener('error', () => (img.hidden = true));
  img.src = url;
  let n = 0;
  let detached = 0;
  const timer = setInterval(() => {
    if (!img.isConnected) { // not shown (yet, or any more: the list reloaded, the stream stopped)
      if (++detached >= 2) stop();
      return;
    }
    detached = 0;
    n++;
    img.src = `${url}${url.includes('?') ? '&' : '?'}_=${n}`; // past the browser's max-age copy; the server renders at most once per interval
  }, LIVE_THUMB_REFRESH_MS);
  const stop = () => clearInterval(timer);
  signal.addEventListener('abort', stop, { once: true });
  return img;
}
