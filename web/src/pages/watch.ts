/**
 * `#/watch/<id>`: play a video (signed ones through a playback token), with its details and
 * direct links. A video still processing is followed on the event stream and starts playing as
 * soon as it becomes playable.
 */
import { api, events, type Video } from '../api.js';
import { append, fmtDuration, h } from '../dom.js';
import { createPlayer, type Player } from '../player.js';
import { playbackOf } from '../playback.js';

/** Render the watch page for video `id`. */
export async function watchPage(main: HTMLElement, signal: AbortSignal, id: string): Promise<void> {
  // Before the API answers, a public video's poster shows (a signed one answers 403: removed).
  // No preload of the master here: this player sends CMCD in the query, so hls.js's request could
  // never match it; the embed page (/embed/<id>) is the page built for the fastest start.
  const base = `/v/${encodeURIComponent(id)}/`;
  const poster = h('img', { class: 'poster', src: `${base}poster.jpg`, alt: '' });
  poster.addEventListener('error', () => poster.remove());
  const stage = h('div', { class: 'stage' }, poster);
  main.append(stage);
  let v = await api<Video>('GET', `/api/v1/videos/${encodeURIComponent(id)}`, undefined, signal);
  const info = h('p', { class: 'meta', 'aria-live': 'polite' });
  const links = h('p', { class: 'links' });
  main.prepend(h('h1', {}, v.title || v.id));
  append(main, info, links, v.description ? h('p', {}, v.description) : null);

  let player: Player | null = null;
  signal.addEventListener('abort', () => player?.destroy());

  const describe = () => {
    info.textContent = [
      v.status === 'ready' ? 'Ready' : v.status === 'errored' ? `Failed: ${v.error?.message ?? ''}` : `${v.status} ${Math.round(v.progress * 100)}%`,
      v.durationS ? fmtDuration(v.durationS) : null,
      v.width && v.height ? `${v.width}×${v.height} source` : null,
      v.visibility === 'signed' ? 'signed playback' : 'public',
    ].filter(Boolean).join(' · ');
  };
  const start = async () => {
    if (player || signal.aborted) return;
    const pb = await playbackOf(v);
    if (signal.aborted) return;
    stage.replaceChildren();
    player = await createPlayer(stage, {
      kind: 'hls', url: pb.hls, live: false, poster: pb.poster, contentId: v.id, title: v.title,
      storyboard: pb.hls.replace(/master\.m3u8$/, 'storyboard.vtt'),
    });
    links.replaceChildren('Direct: ', h('a', { href: pb.hls }, 'HLS'), ' · ', h('a', { href: pb.dash }, 'DASH'), ' · ', h('a', { href: pb.mp4, download: '' }, 'MP4'));
  };

  describe();
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
