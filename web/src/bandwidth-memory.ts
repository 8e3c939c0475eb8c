/**
 * The bandwidth hls.js measured on this browser's last visit, kept in localStorage so the next
 * player starts from it instead of hls.js's 500 kbit/s guess (`abrEwmaDefaultEstimate`): a viewer
 * on a fast link starts on a sharp rendition, one on a slow link is not stalled by a guess. Storage
 * may be unavailable (blocked in third-party iframes, private modes): then nothing is remembered.
 */

const KEY = 'strom.bandwidthEstimate';
const SAVE_EVERY_MS = 2_000;

/** The remembered estimate in bit/s, or undefined. */
export function rememberedBandwidth(): number | undefined {
  try {
    const n = Number(localStorage.getItem(KEY));
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** A function to call after each loaded fragment with the player's estimate; it stores at most every 2 s. */
export function bandwidthRecorder(): (bps: number) => void {
  let savedAt = -Infinity;
  return (bps) => {
    const now = performance.now();
    if (now - savedAt < SAVE_EVERY_MS || !Number.isFinite(bps) || bps <= 0) return;
    savedAt = now;
    try {
      localStorage.setItem(KEY, String(Math.round(bps)));
    } catch {
      /* storage unavailable: the next visit starts from hls.js's default */
    }
  };
}
