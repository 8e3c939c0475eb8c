/**
 * The watch page's "Embed" card: the `<iframe>` code of the embed page (/embed/<id>, served by
 * src/http/embed-routes.ts) with its options — autoplay (muted is then needed by browsers' autoplay
 * policies), muted, loop, start at the player's current time — and a copy button. A signed video's
 * embed needs a playback token in the URL: the card gets one through the playback-token API (the
 * same token the page plays with) and says when it expires, since the code stops working then.
 */
import type { Video } from './api.js';
import { copyText, h } from './dom.js';
import { playbackOf } from './playback.js';

/** The iframe code for `v` with the chosen options; `token` for signed videos. */
export function embedCode(origin: string, v: Pick<Video, 'id' | 'title' | 'width' | 'height'>, o: { autoplay: boolean; muted: boolean; loop: boolean; start: number; token?: string }): string {
  const q = new URLSearchParams();
  if (o.token) q.set('token', o.token);
  if (o.autoplay) q.set('autoplay', '1');
  if (o.muted) q.set('muted', '1');
  if (o.loop) q.set('loop', '1');
  if (o.start > 0) q.set('start', String(Math.floor(o.start)));
  const src = `${origin}/embed/${encodeURIComponent(v.id)}${q.size > 0 ? `?${q.toString()}` : ''}`;
  const width = 640;
  const height = Math.round((width * (v.height ?? 9)) / (v.width ?? 16));
  const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<iframe src="${attr(src)}" width="${width}" height="${height}" frameborder="0" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen title="${attr(v.title || v.id)}"></iframe>`;
}

/** The card; `currentTime` reads the page's player position. */
export function embedCard(v: Video, currentTime: () => number): HTMLElement {
  const box = (id: string, label: string) => {
    const input = h('input', { type: 'checkbox', id });
    return { input, el: h('label', { for: id, class: 'check' }, input, ` ${label}`) };
  };
  const autoplay = box('embed-autoplay', 'Autoplay (muted)');
  const muted = box('embed-muted', 'Muted');
  const loop = box('embed-loop', 'Loop');
  const atNow = box('embed-start', 'Start at the current time');
  const code = h('textarea', { id: 'embed-code', class: 'mono', rows: 3, readonly: true, 'aria-label': 'Embed code' });
  const note = h('p', { class: 'hint' });
  const out = h('span', { class: 'hint', 'aria-live': 'polite' });
  let token: string | undefined;
  const render = () => {
    code.value = embedCode(location.origin, v, {
      autoplay: autoplay.input.checked, muted: muted.input.checked || autoplay.input.checked, loop: loop.input.checked,
      start: atNow.input.checked ? currentTime() : 0, token,
    });
  };
  for (const b of [autoplay, muted, loop, atNow]) b.input.addEventListener('change', render);
  const copy = h('button', { type: 'button', class: 'secondary', 'aria-label': 'Copy embed code' }, 'Copy');
  copy.addEventListener('click', () => {
    render();
    void copyText(code.value, undefined).then((ok) => (out.textContent = ok ? 'Copied.' : 'Select the code and press Ctrl+C.'));
  });
  if (v.visibility === 'signed') {
    note.textContent = 'This video is signed: the embed URL carries a playback token, getting one…';
    void playbackOf(v).then((pb) => {
      token = /^\/s\/([^/]+)\//.exec(pb.hls)?.[1];
      note.textContent = 'This video is signed: the embed URL carries a playback token and stops working when the token expires (POST /api/v1/videos/:id/playback-token signs a longer one).';
      render();
    }, () => (note.textContent = 'This video is signed: embedding needs a playback token, which this sign-in may not request.'));
  }
  render();
  return h('section', { class: 'card embed-card', 'aria-labelledby': 'embed-h' },
    h('h2', { id: 'embed-h' }, 'Embed'),
    h('div', { class: 'row wrap' }, autoplay.el, muted.el, loop.el, atNow.el),
    code, note, h('div', { class: 'row' }, copy, out));
}
