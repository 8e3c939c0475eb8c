/**
 * The player: a `<video>` driven by hls.js (VOD and live HLS, automatic ABR, CMCD on) or
 * mpegts.js (live HTTP-FLV), with its own controls so the seek bar can show storyboard previews
 * (storyboard.vtt → sprite tiles, `#xywh=` media fragments) and a quality menu (a native
 * `<select>`: keyboard and screen reader friendly) and a captions menu (captions-menu.ts). A stats overlay shows rendition, bandwidth
 * estimate, buffer ahead, dropped frames and, for live, latency to the live edge.
 */
import type Hls from 'hls.js';
import type { Level } from 'hls.js';
import { bandwidthRecorder, rememberedBandwidth } from './bandwidth-memory.js';
import { captionsMenu } from './captions-menu.js';
import { fmtBitrate, fmtDuration, h } from './dom.js';

/** What to play. */
export interface PlayerSource {
  kind: 'hls' | 'flv';
  url: string;
  live: boolean;
  poster?: string;
  /** storyboard.vtt URL (VOD). */
  storyboard?: string;
  /** CMCD content id (the video or stream id). */
  contentId: string;
  /**
   * ClearKey license URL (W3C EME §9.1.4) of a `cenc` video: hls.js then plays its cbcs segments
   * through EME (docs/VOD.md "Content protection"). AES-128 needs nothing: hls.js decrypts itself.
   */
  licenseUrl?: string;
  title: string;
  /**
   * Started on a guess (the watch page plays a public video's URL before the API has confirmed
   * it): errors are held back until `confirm()`, so a wrong guess never flashes an error.
   */
  speculative?: boolean;
}

/** hls.js options that play cbcs content through EME with a ClearKey license server. */
export function clearKeyConfig(licenseUrl: string | undefined): { emeEnabled?: boolean; drmSystems?: { 'org.w3.clearkey': { licenseUrl: string } } } {
  return licenseUrl === undefined ? {} : { emeEnabled: true, drmSystems: { 'org.w3.clearkey': { licenseUrl } } };
}

/** The license URL next to a VOD master playlist URL (`…/master.m3u8[?q]` → `…/license[?q]`). */
export function licenseUrlOf(masterUrl: string): string {
  return masterUrl.replace(/master\.m3u8(?=\?|$)/, 'license');
}

/** A mounted player. */
export interface Player {
  video: HTMLVideoElement;
  hls: Hls | null;
  /** A speculative player turned out right: show errors from now on (and any held one). */
  confirm(): void;
  destroy(): void;
}

interface Cue {
  start: number;
  end: number;
  url: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Parse a storyboard WebVTT (`start --> end` then `sprite.jpg#xywh=x,y,w,h`). */
export function parseStoryboard(text: string, base: string): Cue[] {
  const toS = (t: string) => t.split(':').reduce((acc, p) => acc * 60 + Number(p), 0);
  const cues: Cue[] = [];
  const blocks = text.replace(/\r/g, '').split(/\n\n+/);
  for (const b of blocks) {
    const m = /([\d:.]+)\s+-->\s+([\d:.]+)[^\n]*\n([^\n#]+)#xywh=(\d+),(\d+),(\d+),(\d+)/.exec(b);
    if (m) cues.push({ start: toS(m[1]!), end: toS(m[2]!), url: new URL(m[3]!.trim(), base).href, x: +m[4]!, y: +m[5]!, w: +m[6]!, h: +m[7]! });
  }
  return cues;
}

function levelName(l: Level | undefined): string {
  if (!l) return '—';
  return `${l.height ? l.height + 'p' : 'audio'} · ${fmtBitrate(l.bitrate)}`;
}

/** Mount a player for `src` into `host`. */
export async function createPlayer(host: HTMLElement, src: PlayerSource): Promise<Player> {
  const video = h('video', { playsinline: true, preload: 'metadata', poster: src.poster, 'aria-label': `Video: ${src.title}` });
  video.muted = false;
  const play = h('button', { type: 'button', class: 'ctl', id: 'play', 'aria-label': 'Play' }, '▶');
  const seek = h('input', { type: 'range', id: 'seek', min: 0, max: 0, step: 0.1, value: 0, 'aria-label': 'Seek', disabled: src.live });
  const time = h('span', { class: 'time', 'aria-live': 'off' }, '0:00 / 0:00');
  const mute = h('button', { type: 'button', class: 'ctl', id: 'mute', 'aria-pressed': 'false' }, 'Mute');
  const quality = h('select', { id: 'quality', 'aria-label': 'Quality', disabled: true }, h('option', { value: '-1' }, 'Auto'));
  const statsBtn = h('button', { type: 'button', class: 'ctl', id: 'stats-toggle', 'aria-pressed': 'true', 'aria-controls': 'stats' }, 'Stats');
  const full = h('button', { type: 'button', class: 'ctl', 'aria-label': 'Full screen' }, 'Full');
  const preview = h('div', { class: 'preview', 'aria-hidden': 'true', hidden: true }, h('div', { class: 'tile' }), h('span', {}));
  const stats = h('dl', { class: 'stats', id: 'stats', 'aria-label': 'Playback statistics' });
  const errorBox = h('p', { class: 'error', role: 'alert', hidden: true });
  const frame = h('div', { class: 'player' }, video, stats, preview,
    h('div', { class: 'controls', role: 'group', 'aria-label': 'Player controls' }, play, h('div', { class: 'seekwrap' }, seek), time, mute, quality, statsBtn, full));
  host.append(frame, errorBox);

  let hls: Hls | null = null;
  let hlsEvents: typeof Hls.Events | null = null;
  let flv: { destroy(): void } | null = null;
  const timers: ReturnType<typeof setInterval>[] = [];
  let held = src.speculative === true;
  let heldError: string | null = null;
  const showError = (text: string) => {
    if (held) return void (heldError = text);
    errorBox.hidden = false;
    errorBox.textContent = text;
  };

  if (src.kind === 'hls') {
    const { default: HlsCtor } = await import('hls.js');
    if (HlsCtor.isSupported()) {
      const bw = src.live ? undefined : rememberedBandwidth();
      hls = new HlsCtor({
        lowLatencyMode: src.live,
        backBufferLength: 30,
        // CMAF needs no transmuxing; hls.js's worker would first evaluate hls.js again (~150 ms
        // before the first append, bench/startup/vod.ts --hls-config '{"enableWorker":false}').
        enableWorker: false,
        // Start no higher than the player can show, from the bandwidth measured on the last visit.
        capLevelToPlayerSize: !src.live,
        ...(bw === undefined ? {} : { abrEwmaDefaultEstimate: bw }),
        // CMCD (CTA-5004): every request carries session/content ids, buffer and throughput hints.
        cmcd: { contentId: src.contentId, useHeaders: false },
        ...clearKeyConfig(src.licenseUrl),
      });
      hlsEvents = HlsCtor.Events;
      hls.on(HlsCtor.Events.MANIFEST_PARSED, (_e, d) => {
        quality.replaceChildren(h('option', { value: '-1' }, 'Auto'), ...d.levels.map((l, i) => h('option', { value: String(i) }, levelName(l))).reverse());
        quality.disabled = d.levels.length < 2;
      });
      hls.on(HlsCtor.Events.LEVEL_SWITCHED, (_e, d) => {
        const auto = quality.options[0];
        if (auto) auto.textContent = hls?.autoLevelEnabled ? `Auto (${levelName(hls.levels[d.level])})` : 'Auto';
        frame.dataset.level = String(d.level);
      });
      hls.on(HlsCtor.Events.ERROR, (_e, d) => {
        if (!d.fatal) return;
        if (d.type === HlsCtor.ErrorTypes.NETWORK_ERROR && src.live) return void setTimeout(() => hls?.startLoad(), 1000);
        if (d.type === HlsCtor.ErrorTypes.MEDIA_ERROR) return void hls?.recoverMediaError();
        showError(`Playback error: ${d.details}${d.response?.code ? ` (HTTP ${d.response.code})` : ''}`);
      });
      const record = bandwidthRecorder();
      hls.on(HlsCtor.Events.FRAG_LOADED, () => record(hls?.bandwidthEstimate ?? 0));
      hls.loadSource(src.url);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = src.url; // Safari: native HLS (no quality menu)
    } else showError('This browser cannot play HLS.');
  } else {
    const mpegts = (await import('mpegts.js')).default;
    if (mpegts.isSupported()) {
      const p = mpegts.createPlayer({ type: 'flv', isLive: true, url: new URL(src.url, location.href).href }, { enableStashBuffer: false, liveBufferLatencyChasing: true, liveBufferLatencyMaxLatency: 1.5, liveBufferLatencyMinRemain: 0.3 });
      p.attachMediaElement(video);
      p.load();
      p.on(mpegts.Events.ERROR, (type: string, detail: string) => showError(`Live playback error: ${type} ${detail}`));
      flv = { destroy: () => { p.pause(); p.unload(); p.detachMediaElement(); p.destroy(); } };
    } else showError('This browser cannot play HTTP-FLV (no Media Source Extensions).');
  }

  // --- controls ---
  if (!src.live) quality.after(captionsMenu(video, hls, hlsEvents));
  const sync = () => {
    play.textContent = video.paused ? '▶' : '❚❚';
    play.setAttribute('aria-label', video.paused ? 'Play' : 'Pause');
  };
  play.addEventListener('click', () => void (video.paused ? video.play().catch(() => undefined) : video.pause()));
  video.addEventListener('click', () => play.click());
  video.addEventListener('play', sync);
  video.addEventListener('pause', sync);
  video.addEventListener('durationchange', () => {
    if (Number.isFinite(video.duration)) seek.max = String(video.duration);
  });
  video.addEventListener('timeupdate', () => {
    if (document.activeElement !== seek) seek.value = String(video.currentTime);
    seek.setAttribute('aria-valuetext', `${fmtDuration(video.currentTime)} of ${fmtDuration(video.duration)}`);
    time.textContent = src.live ? 'LIVE' : `${fmtDuration(video.currentTime)} / ${fmtDuration(video.duration)}`;
  });
  seek.addEventListener('input', () => {
    video.currentTime = Number(seek.value);
    showPreview(Number(seek.value), null);
  });
  seek.addEventListener('blur', () => (preview.hidden = true));
  mute.addEventListener('click', () => {
    video.muted = !video.muted;
    mute.setAttribute('aria-pressed', String(video.muted)); // a toggle button: "Mute", pressed or not
  });
  quality.addEventListener('change', () => {
    if (hls) hls.currentLevel = Number(quality.value); // -1 = automatic ABR
  });
  statsBtn.addEventListener('click', () => {
    stats.hidden = !stats.hidden;
    statsBtn.setAttribute('aria-pressed', String(!stats.hidden));
  });
  full.addEventListener('click', () => void (document.fullscreenElement ? document.exitFullscreen() : frame.requestFullscreen()).catch(() => undefined));
  frame.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLSelectElement || e.target instanceof HTMLInputElement) return;
    if (e.key === 'k' || (e.key === ' ' && e.target === video)) {
      e.preventDefault();
      play.click();
    } else if (e.key === 'm') mute.click();
  });
  video.tabIndex = 0;

  // --- storyboard previews on the seek bar ---
  let cues: Cue[] = [];
  if (src.storyboard && !src.live) {
    fetch(src.storyboard).then((r) => (r.ok ? r.text() : '')).then((t) => (cues = t ? parseStoryboard(t, new URL(src.storyboard!, location.href).href) : []), () => undefined);
  }
  function showPreview(t: number, clientX: number | null): void {
    const c = cues.find((q) => t >= q.start && t < q.end) ?? cues[cues.length - 1];
    if (!c || !Number.isFinite(video.duration)) return;
    const tile = preview.firstElementChild as HTMLElement;
    tile.style.cssText = `width:${c.w}px;height:${c.h}px;background:url("${c.url}") -${c.x}px -${c.y}px`;
    (preview.lastElementChild as HTMLElement).textContent = fmtDuration(t);
    const r = seek.getBoundingClientRect();
    const fr = frame.getBoundingClientRect();
    const x = clientX ?? r.left + (t / video.duration) * r.width;
    preview.style.left = `${Math.max(0, Math.min(fr.width - c.w, x - fr.left - c.w / 2))}px`;
    preview.hidden = false;
  }
  seek.addEventListener('pointermove', (e) => {
    const r = seek.getBoundingClientRect();
    showPreview(((e.clientX - r.left) / r.width) * (video.duration || 0), e.clientX);
  });
  seek.addEventListener('pointerleave', () => (preview.hidden = true));

  // --- stats overlay ---
  const row = (k: string, v: string) => [h('dt', {}, k), h('dd', { 'data-stat': k }, v)];
  const renderStats = () => {
    if (stats.hidden) return;
    const q = video.getVideoPlaybackQuality?.();
    let ahead = 0;
    for (let i = 0; i < video.buffered.length; i++) if (video.buffered.start(i) <= video.currentTime + 0.1) ahead = Math.max(ahead, video.buffered.end(i) - video.currentTime);
    const lvl = hls ? hls.levels[hls.currentLevel >= 0 ? hls.currentLevel : hls.loadLevel] : undefined;
    const rendition = lvl ? `${lvl.width}×${lvl.height} · ${fmtBitrate(lvl.bitrate)}${hls?.autoLevelEnabled ? ' (auto)' : ''}` : video.videoHeight ? `${video.videoWidth}×${video.videoHeight}` : '—';
    let latency = '';
    if (src.live) {
      const end = video.buffered.length ? video.buffered.end(video.buffered.length - 1) : NaN;
      const l = hls && Number.isFinite(hls.latency) && hls.latency > 0 ? hls.latency : end - video.currentTime;
      latency = Number.isFinite(l) ? `${l.toFixed(2)} s` : '—';
    }
    stats.replaceChildren(
      ...row('Rendition', rendition),
      ...row('Bandwidth estimate', hls ? fmtBitrate(hls.bandwidthEstimate) : '—'),
      ...row('Buffer', `${ahead.toFixed(1)} s`),
      ...row('Dropped frames', q ? `${q.droppedVideoFrames} / ${q.totalVideoFrames}` : '—'),
      ...(src.live ? row('Latency to live edge', latency) : []),
      ...row('CMCD', hls ? 'on' : 'n/a'),
    );
  };
  renderStats();
  timers.push(setInterval(renderStats, 500));

  // Test and debugging hook: the page's player (documented in docs/WEB.md).
  (window as unknown as { __stromPlayer?: unknown }).__stromPlayer = { video, hls };
  void video.play().catch(() => {
    // Autoplay with sound was refused: start muted, the user can unmute.
    video.muted = true;
    mute.setAttribute('aria-pressed', 'true');
    void video.play().catch(() => undefined);
  });

  return {
    video,
    hls,
    confirm() {
      held = false;
      if (heldError !== null) showError(heldError);
    },
    destroy() {
      for (const t of timers) clearInterval(t);
      hls?.destroy();
      flv?.destroy();
      video.removeAttribute('src');
      video.load();
      (window as unknown as { __stromPlayer?: unknown }).__stromPlayer = undefined;
    },
  };
}
