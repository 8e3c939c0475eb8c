/**
 * `#/live`: create a live stream and list them; `#/live/<id>`: its ingest URL and key to copy
 * (with OBS settings), a low-latency preview (HTTP-FLV through mpegts.js), the latest keyframe
 * (live-thumb.ts), viewers and ingest bitrate; the preview can be switched to WebRTC (WHEP) with a latency readout. Whether the stream is on air comes from the API's status, else from probing the FLV URL
 * (404 while nobody publishes; docs/LIVE.md). A pulled stream (a source URL) shows its source's state
 * instead of the ingest settings, and an on-demand one connects when the preview is started.
 */
import { api, events, fetchMetrics, type LiveStream, type Page } from '../api.js';
import { parseProm, sum } from '../prom.js';
import { announce, copyText, fmtBitrate, h } from '../dom.js';
import { createPlayer, type Player } from '../player.js';
import { livePlaybackOf } from '../playback.js';
import { liveThumbImg } from '../live-thumb.js';
import { liveOutputsCard } from '../live-outputs.js';
import type { WhepPlayer } from '../whep-player.js'; // types only: the module is loaded when the WebRTC preview is chosen

/** `#/live`: the list and the create form. */
export async function liveListPage(main: HTMLElement, signal: AbortSignal): Promise<void> {
  const title = h('input', { id: 'live-title', name: 'title', type: 'text', required: true, placeholder: 'My stream' });
  // A source URL makes a pulled stream: Strom connects to the camera or server instead of waiting for a publisher.
  const source = h('input', { id: 'live-source', name: 'source', type: 'url', placeholder: 'rtsp://camera.local/stream (optional)', class: 'mono' });
  const alwaysOn = h('input', { id: 'live-always-on', name: 'always-on', type: 'checkbox' });
  const form = h('form', { class: 'card row wrap', id: 'create-live' },
    h('div', { class: 'field grow' }, h('label', { for: 'live-title' }, 'Stream title'), title),
    h('div', { class: 'field grow' }, h('label', { for: 'live-source' }, 'Pull from URL (RTSP camera, RTMP, SRT, HLS .m3u8, HTTP-FLV .flv)'), source,
      h('label', { class: 'check' }, alwaysOn, ' Keep connected (otherwise only while someone watches)')),
    h('button', { type: 'submit' }, 'Create live stream'));
  const status = h('p', { role: 'status' });
  const list = h('ul', { class: 'list', 'aria-label': 'Live streams' });
  main.append(h('h1', {}, 'Live'), form, status, list);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const url = source.value.trim();
    api<LiveStream>('POST', '/api/v1/live-streams', { title: title.value.trim() || 'Live stream', ...(url ? { source: url, sourceOnDemand: !alwaysOn.checked } : {}) }).then((s) => {
      location.hash = `#/live/${s.id}`;
    }, (err: Error) => {
      status.className = 'error';
      status.textContent = `Could not create: ${err.message}`;
    });
  });
  const page = await api<Page<LiveStream>>('GET', '/api/v1/live-streams?limit=100', undefined, signal);
  const text = page.items.length ? await fetchMetrics(signal) : null;
  const onAir = new Set(text ? parseProm(text).filter((x) => x.name === 'strom_live_ingest_bitrate_bps').map((x) => x.labels.stream ?? '') : []);
  list.replaceChildren(...page.items.map((s) => h('li', {}, h('a', { href: `#/live/${s.id}` }, s.title || s.id), ' ', s.status === 'active' || onAir.has(s.id) ? h('span', { class: 'badge live' }, 'LIVE') : h('span', { class: 'badge' }, 'idle'), s.source ? h('span', { class: 'badge' }, `pulled · ${s.source.state}`) : null)));
  if (!page.items.length) list.append(h('li', { class: 'empty' }, 'No live streams yet.'));
}

/** Is `s` on air? The API's status when it says active, else a probe of the FLV URL. */
async function onAir(s: LiveStream, flvUrl: string, signal: AbortSignal): Promise<boolean> {
  if (s.status === 'active' || s.live?.state === 'active') return true;
  const ctl = new AbortController();
  const stop = () => ctl.abort();
  signal.addEventListener('abort', stop);
  try {
    const r = await fetch(flvUrl, { signal: ctl.signal, cache: 'no-store' });
    return r.ok;
  } catch {
    return false;
  } finally {
    ctl.abort(); // only the status line was wanted
    signal.removeEventListener('abort', stop);
  }
}

function copyField(id: string, label: string, value: string, secret = false): HTMLElement {
  const input = h('input', { id, type: secret ? 'password' : 'text', readonly: true, value, class: 'mono' });
  const out = h('span', { class: 'hint', 'aria-live': 'polite' });
  const buttons: HTMLElement[] = [h('button', { type: 'button', class: 'secondary', onclick: (() => void copyText(value, input).then((ok) => (out.textContent = ok ? 'Copied.' : 'Selected: press Ctrl+C.'))) as EventListener, 'aria-label': `Copy ${label}` }, 'Copy')];
  if (secret) {
    const show = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false', 'aria-label': `Show ${label}` }, 'Show');
    show.addEventListener('click', () => {
      const visible = input.type === 'password';
      input.type = visible ? 'text' : 'password';
      show.textContent = visible ? 'Hide' : 'Show';
      show.setAttribute('aria-pressed', String(visible));
    });
    buttons.unshift(show);
  }
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('div', { class: 'row' }, input, ...buttons), out);
}

/** `#/live/<id>`: one live stream. */
export async function livePage(main: HTMLElement, signal: AbortSignal, id: string): Promise<void> {
  let s = await api<LiveStream>('GET', `/api/v1/live-streams/${encodeURIComponent(id)}`, undefined, signal);
  const rtmp = s.ingest.rtmp;
  const server = rtmp.slice(0, rtmp.lastIndexOf('/'));
  const pb = await livePlaybackOf(s);
  const state = h('span', { class: 'badge', id: 'live-state' }, 'offline');
  const viewers = h('dd', { id: 'live-viewers' }, '—');
  const bitrate = h('dd', { id: 'live-bitrate' }, '—');
  // The latest keyframe (GET /live/<id>/thumbnail.jpg) while on air; the empty frame otherwise.
  const thumb = h('figure', { class: 'thumb live-thumb', id: 'live-thumb' }, h('figcaption', { class: 'badge' }, 'Latest keyframe'));
  // Preview player: HTTP-FLV (mpegts.js) or WebRTC (WHEP)
  const kind = h('select', { id: 'preview-kind', name: 'preview-kind' }, h('option', { value: 'flv' }, 'HTTP-FLV (mpegts.js)'), h('option', { value: 'webrtc' }, 'WebRTC (WHEP)'));
  const outputs = liveOutputsCard(id, signal); // restreaming to other platforms
  const pulled = s.source != null;
  const sourceState = h('span', { class: 'badge', id: 'source-state' }, s.source?.state ?? '');
  const sourceReason = h('p', { class: 'hint', id: 'source-reason' });
  const watch = h('button', { type: 'button', id: 'source-watch' }, 'Watch (connects the source)');
  const stage = h('div', { class: 'stage' }, pulled
    ? h('p', { class: 'placeholder' }, s.source!.onDemand ? 'Strom connects to the source while someone watches. ' : 'Connecting to the source… ', s.source!.onDemand ? watch : null)
    : h('p', { class: 'placeholder' }, 'Waiting for a publisher… start OBS or ffmpeg with the settings on this page.'));
  const sourceCard = !pulled ? null : h('section', { class: 'card', 'aria-labelledby': 'source-h' }, h('h2', { id: 'source-h' }, 'Source'),
    copyField('source-url', 'Pulled from', s.source!.url),
    h('p', {}, 'State: ', sourceState, s.source!.onDemand ? ' · on demand' : ' · always connected'), sourceReason,
    h('p', { class: 'hint' }, 'Credentials in the URL are kept secret. Change or remove the source with PATCH /api/v1/live-streams/<id> (docs/LIVE.md "Pulled sources").'));
  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, s.title || s.id), state),
    h('div', { class: 'live-grid' },
      h('section', { 'aria-labelledby': 'preview-h' }, h('h2', { id: 'preview-h' }, 'Preview'), stage,
        h('div', { class: 'row wrap' }, thumb,
          h('dl', { class: 'facts' }, h('dt', {}, 'Viewers'), viewers, h('dt', {}, 'Ingest bitrate'), bitrate)),
        h('div', { class: 'field' }, h('label', { for: 'preview-kind' }, 'Playback'), kind),
        h('p', { class: 'links' }, 'Play elsewhere: ', h('a', { href: pb.flv }, 'HTTP-FLV'), ' · ', h('a', { href: pb.hls }, 'LL-HLS')),
        pb.srt === undefined ? null : copyField('playback-srt', 'SRT playback (ffplay, VLC, srt-live-transmit)', pb.srt),
        pb.rtsp === undefined ? null : copyField('playback-rtsp', 'RTSP playback (VLC, ffplay, NVRs)', pb.rtsp)),
      sourceCard ?? h('section', { class: 'card', 'aria-labelledby': 'ingest-h' }, h('h2', { id: 'ingest-h' }, 'Go live'),
        copyField('ingest-server', 'Server', server),
        copyField('ingest-key', 'Stream key', s.streamKey, true),
        copyField('ingest-url', 'Full ingest URL (ffmpeg)', rtmp, true),
        s.ingest.whip === undefined ? null : copyField('ingest-whip', 'WHIP URL (OBS: Service WHIP, Bearer Token = stream key)', new URL(s.ingest.whip, location.href).href),
        s.ingest.srt === undefined ? null : copyField('ingest-srt', `SRT URL (OBS: Service Custom, Server = this URL${s.srtEncrypted ? ', add &passphrase=<the stream\'s passphrase>' : ''})`, s.ingest.srt, true),
        s.ingest.rtsp === undefined ? null : copyField('ingest-rtsp', 'RTSP publish URL (cameras, ffmpeg -f rtsp)', s.ingest.rtsp, true),
        h('h3', {}, 'OBS settings'),
        h('ul', { class: 'hint' },
          h('li', {}, 'Settings → Stream: Service “Custom…”, Server and Stream Key as above.'),
          h('li', {}, 'Settings → Output (Advanced): Encoder x264 (or NVENC H.264), Rate control CBR, Keyframe interval 1 s (2 s at most), Profile main/high, Tune zerolatency.'),
          h('li', {}, 'Audio: AAC 128 kb/s, 48 kHz.')),
        h('h3', {}, 'ffmpeg'),
        h('pre', { class: 'mono' }, `ffmpeg -re -i input.mp4 -c:v libx264 -preset veryfast -tune zerolatency -g 30 -c:a aac -f flv "${rtmp}"`))),
    outputs.el,
  );

  let player: Player | WhepPlayer | null = null;
  const stopPlayer = () => {
    player?.destroy();
    player = null;
  };
  let starting = false; // one player at a time: refreshes and the menu may ask while one is starting
  const startPlayer = async () => {
    if (starting) return;
    starting = true;
    const chosen = kind.value;
    try {
      stage.replaceChildren();
      if (chosen === 'webrtc') { // WHEP with a latency readout
        const { createWhepPlayer } = await import('../whep-player.js');
        player = await createWhepPlayer(stage, pb.whep).catch((err: Error) => {
          stage.replaceChildren(h('p', { class: 'error' }, `WebRTC playback failed: ${err.message}`));
          return null;
        });
      } else player = await createPlayer(stage, { kind: 'flv', url: pb.flv, live: true, contentId: s.id, title: s.title });
      if (signal.aborted) stopPlayer();
    } finally {
      starting = false;
    }
    if (player !== null && kind.value !== chosen) { // the menu changed while this one was starting
      stopPlayer();
      void startPlayer();
    }
  };
  kind.addEventListener('change', () => {
    if (player === null) return;
    stopPlayer();
    void startPlayer();
  });
  signal.addEventListener('abort', stopPlayer);
  watch.addEventListener('click', () => void startPlayer()); // an on-demand source connects for its first viewer

  const refresh = async () => {
    void outputs.refresh();
    s = await api<LiveStream>('GET', `/api/v1/live-streams/${encodeURIComponent(id)}`, undefined, signal).catch(() => s);
    // Per-stream gauges from /metrics when this token may scrape; else the API's fields.
    const text = await fetchMetrics(signal);
    const samples = text === null ? null : parseProm(text);
    const mine = (l: Record<string, string>) => l.stream === id;
    const hasGauge = !!samples?.some((x) => x.name === 'strom_live_ingest_bitrate_bps' && x.labels.stream === id);
    // A pulled stream is never probed: a request for its media would connect an on-demand source.
    const live = hasGauge || player !== null || (s.source ? s.source.state === 'live' || s.status === 'active' : await onAir(s, pb.flv, signal));
    if (s.source) {
      sourceState.textContent = s.source.state;
      sourceState.className = s.source.state === 'live' ? 'badge live' : 'badge';
      sourceReason.textContent = s.source.reason ?? '';
    }
    if (signal.aborted) return;
    const slate = s.live?.slate ?? null;
    state.textContent = slate !== null ? 'RECONNECTING' : live ? 'LIVE' : 'offline';
    state.className = live ? 'badge live' : 'badge';
    // Reconnect window: viewers see the slate until the publisher returns or the window ends.
    state.title = slate !== null ? `Publisher away (${slate.reason}); viewers see the slate until ${new Date(slate.until).toLocaleTimeString()}` : '';
    const v = samples ? sum(samples, 'strom_live_viewers', mine) : s.live?.viewers?.total ?? (typeof s.viewers === 'number' ? s.viewers : s.viewers?.total);
    viewers.textContent = v === undefined ? '—' : String(v);
    const bps = hasGauge ? sum(samples!, 'strom_live_ingest_bitrate_bps', mine) : s.live?.ingestBitrate ?? s.ingestBitrate;
    const fps = hasGauge ? sum(samples!, 'strom_live_ingest_fps', mine) : s.live?.fps;
    bitrate.textContent = live ? `${fmtBitrate(bps)}${fps ? ` · ${Math.round(fps)} fps` : ''}` : '—';
    if (live && !thumb.querySelector('img')) thumb.prepend(liveThumbImg(pb.thumbnail, signal, `Latest keyframe of ${s.title || s.id}`));
    if (live && !player && !starting) {
      announce('The stream is live.');
      await startPlayer();
    }
  };
  await refresh();
  const timer = setInterval(() => void refresh(), 2000);
  signal.addEventListener('abort', () => clearInterval(timer));
  void events(`streamId=${encodeURIComponent(id)}`, (e) => {
    if (e.type === 'live.publish.stop') {
      stopPlayer();
      stage.replaceChildren(h('p', { class: 'placeholder' }, 'The publisher stopped.'));
      thumb.querySelector('img')?.remove(); // its reloads stop with it
    }
    void refresh();
  }, signal);
}
