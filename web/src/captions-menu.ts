/**
 * The player's captions menu: a native `<select>` (keyboard and screen reader friendly) with
 * "Captions off" and one entry per subtitle track. With hls.js the tracks are its
 * `subtitleTracks` (the master playlist's SUBTITLES group, docs/VOD.md "Captions"), selected
 * through `hls.subtitleTrack`; with native HLS (Safari) they are the video's text tracks, selected
 * through their `mode`. The menu hides itself while there is no track.
 */
import type Hls from 'hls.js';
import { h } from './dom.js';

/** One entry of the menu. */
interface Entry {
  label: string;
  language: string;
}

/** Build the menu for `video` (and `hls` when hls.js plays it); append the returned element to the controls. */
export function captionsMenu(video: HTMLVideoElement, hls: Hls | null, events: typeof Hls.Events | null): HTMLSelectElement {
  const select = h('select', { id: 'captions', 'aria-label': 'Captions', hidden: true });
  const render = (entries: Entry[], selected: number) => {
    select.replaceChildren(h('option', { value: '-1' }, 'Captions off'),
      ...entries.map((e, i) => h('option', { value: String(i), lang: e.language }, e.label || e.language)));
    select.value = String(selected);
    select.hidden = entries.length === 0;
  };
  if (hls && events) {
    const sync = () => render(hls.subtitleTracks.map((t) => ({ label: t.name, language: t.lang ?? '' })), hls.subtitleDisplay ? hls.subtitleTrack : -1);
    hls.on(events.SUBTITLE_TRACKS_UPDATED, sync);
    hls.on(events.SUBTITLE_TRACK_SWITCH, sync);
    select.addEventListener('change', () => {
      const i = Number(select.value);
      // -1 stops loading subtitle segments too; a track index turns display back on.
      hls.subtitleDisplay = i >= 0;
      hls.subtitleTrack = i;
    });
    return select;
  }
  const tracks = () => Array.from(video.textTracks).filter((t) => t.kind === 'subtitles' || t.kind === 'captions');
  const sync = () => {
    const list = tracks();
    render(list.map((t) => ({ label: t.label, language: t.language })), list.findIndex((t) => t.mode === 'showing'));
  };
  video.textTracks.addEventListener('addtrack', sync);
  video.textTracks.addEventListener('removetrack', sync);
  video.textTracks.addEventListener('change', sync);
  select.addEventListener('change', () => {
    const i = Number(select.value);
    tracks().forEach((t, j) => (t.mode = j === i ? 'showing' : 'disabled'));
  });
  return select;
}
