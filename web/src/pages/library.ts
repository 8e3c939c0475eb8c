/**
 * `#/library`: every video (poster, title, status with progress or error message, duration) and
 * live stream (LIVE badge and the latest keyframe when a publisher is on). Updates itself from the event stream: progress
 * moves the bar, other video/live events reload the list.
 */
import { api, ApiError, events, fetchMetrics, type LiveStream, type Page, type Video } from '../api.js';
import { parseProm } from '../prom.js';
import { h, fmtDuration } from '../dom.js';
import { livePlaybackOf, posterUrl } from '../playback.js';
import { liveThumbImg } from '../live-thumb.js';

const STATUS_TEXT: Record<Video['status'], string> = { waiting: 'Waiting for upload', queued: 'Queued', processing: 'Processing', ready: 'Ready', errored: 'Failed' };

function videoCard(v: Video): HTMLElement {
  const pct = Math.round(v.progress * 100);
  const thumb = h('div', { class: 'thumb' });
  if (v.status === 'ready' || v.durationS) {
    void posterUrl(v).then((src) => {
      if (src) thumb.append(h('img', { src, alt: '', loading: 'lazy', onerror: ((e: Event) => (e.target as HTMLElement).remove()) as EventListener }));
    });
  }
  if (v.durationS) thumb.append(h('span', { class: 'duration', 'aria-label': `duration ${fmtDuration(v.durationS)}` }, fmtDuration(v.durationS)));
  const statusEl = h('p', { class: `status status-${v.status}`, 'data-status': v.status }, STATUS_TEXT[v.status] ?? v.status);
  const body = h('div', { class: 'body' }, h('h2', {}, v.title || v.id), statusEl);
  if (v.status === 'processing' || v.status === 'queued') {
    body.append(h('progress', { max: 100, value: pct, 'aria-label': `Processing ${v.title}`, 'data-progress': v.id }, `${pct}%`));
    statusEl.textContent = `${STATUS_TEXT[v.status]} ${v.status === 'processing' ? pct + '%' : ''}`.trim();
  }
  if (v.status === 'errored' && v.error) body.append(h('p', { class: 'error' }, `${v.error.message} (${v.error.code})`));
  if (v.visibility === 'signed') body.append(h('span', { class: 'badge' }, 'signed'));
  const playable = v.status === 'ready' || (v.status === 'processing' && !!v.durationS);
  return h('li', { class: 'card video', 'data-video-id': v.id, 'data-status': v.status },
    playable ? h('a', { href: `#/watch/${v.id}`, class: 'cover', 'aria-label': `Watch ${v.title || v.id}` }, thumb) : thumb,
    body,
  );
}

function liveCard(s: LiveStream, onAir: Set<string>, signal: AbortSignal): HTMLElement {
  const active = s.status === 'active' || s.live?.state === 'active' || onAir.has(s.id);
  const thumb = h('div', { class: 'thumb live-thumb' }, active ? h('span', { class: 'badge live' }, 'LIVE') : h('span', { class: 'badge' }, 'offline'));
  // On air: the latest keyframe (GET /live/<id>/thumbnail.jpg), reloaded while the card is shown.
  if (active) void livePlaybackOf(s).then((pb) => thumb.prepend(liveThumbImg(pb.thumbnail, signal)), () => undefined);
  return h('li', { class: 'card video', 'data-stream-id': s.id, 'data-status': active ? 'live' : 'idle' },
    h('a', { href: `#/live/${s.id}`, class: 'cover', 'aria-label': `Open live stream ${s.title || s.id}` }, thumb),
    h('div', { class: 'body' }, h('h2', {}, s.title || s.id), h('p', { class: 'status' }, active ? 'Live now' : 'Live stream, not publishing')),
  );
}

/** Render the library. */
export async function libraryPage(main: HTMLElement, signal: AbortSignal): Promise<void> {
  const list = h('ul', { class: 'grid', 'aria-label': 'Videos and live streams', 'aria-busy': 'true' });
  const live = h('p', { class: 'sr-only', 'aria-live': 'polite' });
  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Library'), h('a', { class: 'button', href: '#/upload' }, 'Upload a video')),
    list, live,
  );

  let timer: ReturnType<typeof setTimeout> | undefined;
  const load = async () => {
    const [videos, streams] = await Promise.all([
      api<Page<Video>>('GET', '/api/v1/videos?limit=100', undefined, signal),
      // Live streams need live:write (their JSON carries stream keys): skip quietly without it.
      api<Page<LiveStream>>('GET', '/api/v1/live-streams?limit=100', undefined, signal).catch((e: unknown) => {
        if (e instanceof ApiError) return { items: [], nextCursor: null };
        throw e;
      }),
    ]);
    // Which streams have a publisher: the API's status, or the per-stream ingest gauge in /metrics.
    const text = streams.items.length ? await fetchMetrics(signal) : null;
    const onAir = new Set(text ? parseProm(text).filter((x) => x.name === 'strom_live_ingest_bitrate_bps').map((x) => x.labels.stream ?? '') : []);
    const cards = [...streams.items.map((s) => liveCard(s, onAir, signal)), ...videos.items.map(videoCard)];
    list.replaceChildren(...(cards.length ? cards : [h('li', { class: 'empty' }, 'Nothing here yet. ', h('a', { href: '#/upload' }, 'Upload a video'), '.')]));
    list.setAttribute('aria-busy', 'false');
  };
  const reload = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void load().catch(() => undefined), 250);
  };
  signal.addEventListener('abort', () => clearTimeout(timer));
  await load();

  void events('', (e) => {
    if (e.type === 'video.progress') {
      const id = String(e.data.videoId);
      const bar = list.querySelector<HTMLProgressElement>(`progress[data-progress="${CSS.escape(id)}"]`);
      if (!bar) return reload();
      const pct = Math.round(Number(e.data.percent) || 0);
      bar.value = pct;
      bar.textContent = `${pct}%`;
      const st = bar.parentElement?.querySelector('.status');
      if (st) st.textContent = `Processing ${pct}%`;
    } else if (e.type.startsWith('video.') || e.type.startsWith('live.publish')) {
      if (e.type === 'video.ready') live.textContent = 'A video is ready.';
      reload();
    }
  }, signal);
}
