/**
 * `#/watch/<id>`: play a video (signed ones through a playback token), with its details and
 * direct links, its embed code and its captions (list, upload, delete). A video still processing is followed on the
 * event stream and starts playing as soon as it becomes playable.
 */
import { api, events, type Video } from '../api.js';
import { append, fmtDuration, h } from '../dom.js';
import { captionsPanel } from '../captions-panel.js';
import { createPlayer, licenseUrlOf, type Player } from '../player.js';
import { playbackOf } from '../playback.js';
import { embedCard } from '../embed-code.js';

/** Render the watch page for video `id`. */
export async function watchPage(main: HTMLElement, signal: AbortSignal, id: string): Promise<void> {
  // The id is known before the API answers, and most videos are public and ready: start the
  // player on /v/<id>/master.m3u8 at once, speculatively (no errors shown), so its first segments
  // load during the API round trip. When the API says otherwise (signed, still processing, gone)
  // that player is dropped before anything shows. No <link rel=preload> of the master: this player
  // sends CMCD in the query, so a preloaded URL would never match hls.js's request; the embed page
  // (/embed/<id>) is the page built for the fastest start.
  const base = `/v/${encodeURIComponent(id)}/`;
  const stage = h('div', { class: 'stage' });
  main.append(stage);
  let player: Player | null = null;
  signal.addEventListener('abort', () => player?.destroy());
  const early = createPlayer(stage, {
    kind: 'hls', url: `${base}master.m3u8`, live: false, poster: `${base}poster.jpg`, contentId: id, title: id,
    storyboard: `${base}storyboard.vtt`, speculative: true, licenseUrl: licenseUrlOf(`${base}master.m3u8`),
  }).then((p) => (player = p));
  let v: Video;
  try {
    v = await api<Video>('GET', `/api/v1/videos/${encodeURIComponent(id)}`, undefined, signal);
  } catch (err) {
    (await early).destroy();
    throw err;
  }
  const info = h('p', { class: 'meta', 'aria-live': 'polite' });
  const links = h('p', { class: 'links' });
  main.prepend(h('h1', {}, v.title || v.id));
  append(main, info, links, v.description ? h('p', {}, v.description) : null);
  const guessed = await early;
  const directLinks = (pb: { hls: string; dash: string; mp4: string }) =>
    links.replaceChildren('Direct: ', h('a', { href: pb.hls }, 'HLS'), ' · ', h('a', { href: pb.dash }, 'DASH'), ' · ', h('a', { href: pb.mp4, download: '' }, 'MP4'));
  const sameUrl = (a: string, b: string) => new URL(a, location.href).href === new URL(b, location.href).href;
  if (v.status === 'ready' && v.visibility !== 'signed' && sameUrl(v.playback.hls, `${base}master.m3u8`) && !signal.aborted) {
    guessed.confirm();
    guessed.video.setAttribute('aria-label', `Video: ${v.title || v.id}`);
    directLinks(v.playback);
  } else {
    guessed.destroy();
    player = null;
    stage.replaceChildren();
  }

  const describe = () => {
    info.textContent = [
      v.status === 'ready' ? 'Ready' : v.status === 'errored' ? `Failed: ${v.error?.message ?? ''}` : `${v.status} ${Math.round(v.progress * 100)}%`,
      v.durationS ? fmtDuration(v.durationS) : null,
      v.width && v.height ? `${v.width}×${v.height} source` : null,
      v.visibility === 'signed' ? 'signed playback' : 'public',
    ].filter(Boolean).join(' · ');
  };
  const start = async (fresh = false) => {
    if (player || signal.aborted) return;
    const pb = await playbackOf(v);
    if (signal.aborted) return;
    stage.replaceChildren();
    // After a caption change the master is new; the browser's copy (playlist max-age) is not.
    const url = fresh ? `${pb.hls}${pb.hls.includes('?') ? '&' : '?'}r=${Date.now()}` : pb.hls;
    player = await createPlayer(stage, {
      kind: 'hls', url, live: false, poster: pb.poster, contentId: v.id, title: v.title,
      storyboard: pb.hls.replace(/master\.m3u8$/, 'storyboard.vtt'), licenseUrl: v.protection === 'cenc' ? licenseUrlOf(pb.hls) : undefined,
    });
    directLinks(pb);
  };

  const reload = () => {
    player?.destroy();
    player = null;
    void start(true);
  };
  if (v.status === 'ready') main.append(embedCard(v, () => player?.video.currentTime ?? 0), captionsPanel(v.id, signal, reload));

  describe();
  if (player) return;
  if (v.status === 'ready') return start();
  if (v.status === 'errored') return;
  stage.append(h('p', { class: 'placeholder' }, 'This video is still processing; it starts here once playable.'));
  void events(`videoId=${encodeURIComponent(id)}`, (e) => {
    if (e.type === 'video.progress') {
      v = { ...v, status: 'processing', progress: (Number(e.data.percent) || 0) / 100 };
      describe();
    } else if (e.type === 'video.playable' || e.type === 'video.ready' || e.type === 'video.errored') {
      void api<Video>('GET', `/api/v1/videos/${encodeURIComponent(id)}`, undefined, signal).then((nv) => {
        v = nv;
        describe();
        if (e.type !== 'video.errored') {
          stage.replaceChildren();
          return start();
        }
      });
    }
  }, signal);
}
