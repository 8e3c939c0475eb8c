/**
 * Playback URLs for the pages: public videos play from `/v/<id>/…`; signed ones get a playback
 * token from `POST /api/v1/videos/:id/playback-token` and play `/s/<token>/<id>/…` (docs/API.md
 * "Signed playback"). Tokens are cached per video until shortly before they expire.
 */
import { api, type LiveStream, type Playback, type Video } from './api.js';

interface Signed {
  playback: Playback;
  expiresAt: string;
}
const cache = new Map<string, Promise<Signed>>();

/** Playback URLs of `v`, signed when its visibility requires it. */
export async function playbackOf(v: Video): Promise<Playback> {
  if (v.visibility !== 'signed') return v.playback;
  let p = cache.get(v.id);
  if (p) {
    const s = await p.catch(() => null);
    if (s && Date.parse(s.expiresAt) - Date.now() > 60_000) return s.playback;
  }
  p = api<Signed>('POST', `/api/v1/videos/${encodeURIComponent(v.id)}/playback-token`, {});
  cache.set(v.id, p);
  return (await p).playback;
}

/** Poster URL of `v` (signed when needed); null when it cannot be had. */
export async function posterUrl(v: Video): Promise<string | null> {
  try {
    return (await playbackOf(v)).poster;
  } catch {
    return null;
  }
}

/** Live playback URLs of `s` (with `?token=` when signed). */
export async function livePlaybackOf(s: LiveStream): Promise<LiveStream['playback']> {
  if (s.visibility !== 'signed') return s.playback;
  const r = await api<{ playback: LiveStream['playback'] }>('POST', `/api/v1/live-streams/${encodeURIComponent(s.id)}/playback-token`, {});
  return r.playback;
}
