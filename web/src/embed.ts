/**
 * The embed player (`/embed/<id>`, served by src/http/embed-routes.ts): a page with nothing but the
 * video, for an `<iframe>` on another site, built to start fast. The server writes the playback
 * URL into the page, so the player is created as soon as this module runs — no API round trip —
 * while the page's preloads (and, over HTTP/2, the 103 Early Hints before it) have already asked
 * for the master, the start variant, its init and first segment. hls.js is imported statically so
 * it arrives with this module (modulepreloaded), not after it.
 *
 * Start quality: `capLevelToPlayerSize` keeps hls.js from starting above what the frame can show,
 * and the bandwidth measured on the last visit (localStorage) replaces hls.js's 500 kbit/s guess,
 * so a returning viewer on a fast link starts on a sharp rendition and a slow one is not stalled.
 *
 * No transmux worker (`enableWorker: false`): Strom serves CMAF only, which hls.js passes through
 * with a light box parse, while its worker starts by evaluating hls.js a second time — measured at
 * 130–170 ms between the first segment's arrival and its append (bench/startup/vod.ts).
 */
import Hls from 'hls.js';
import { bandwidthRecorder, rememberedBandwidth } from './bandwidth-memory.js';

/** What the server writes into the page (`#strom-embed`). */
interface EmbedConfig {
  hls: string;
  autoplay: boolean;
  muted: boolean;
  loop: boolean;
  /** Start position in seconds (0: the beginning). */
  start: number;
  /** ClearKey license URL of a `cenc` video (cbcs through EME), else null. */
  license: string | null;
}

const cfg = JSON.parse(document.getElementById('strom-embed')!.textContent ?? '{}') as EmbedConfig;
const video = document.querySelector('video')!;
const errorBox = document.querySelector<HTMLElement>('.error')!;
const showError = (text: string): void => {
  video.controls = true;
  errorBox.hidden = false;
  errorBox.textContent = text;
};
// Browsers let a page autoplay only muted (Chromium's autoplay policy).
video.muted = cfg.muted || cfg.autoplay;
video.loop = cfg.loop;

if (Hls.isSupported()) {
  const bw = rememberedBandwidth();
  const hls = new Hls({
    capLevelToPlayerSize: true,
    backBufferLength: 30,
    enableWorker: false,
    startPosition: cfg.start > 0 ? cfg.start : -1,
    ...(bw === undefined ? {} : { abrEwmaDefaultEstimate: bw }),
    ...(cfg.license ? { emeEnabled: true, drmSystems: { 'org.w3.clearkey': { licenseUrl: cfg.license } } } : {}),
  });
  hls.attachMedia(video);
  hls.loadSource(cfg.hls);
  const record = bandwidthRecorder();
  hls.on(Hls.Events.FRAG_LOADED, () => record(hls.bandwidthEstimate));
  hls.on(Hls.Events.ERROR, (_e, d) => {
    if (d.fatal) showError(`Playback error: ${d.details}`);
  });
} else if (video.canPlayType('application/vnd.apple.mpegurl') !== '') {
  video.src = cfg.start > 0 ? `${cfg.hls}#t=${cfg.start}` : cfg.hls; // Safari: native HLS, Media Fragments start
} else {
  showError('This browser cannot play HLS.');
}
if (cfg.autoplay) {
  // The page came without `controls` (src/http/embed-routes.ts) so the first frame does not wait
  // for the media-controls UI to be styled; they appear with that frame, or when anything else
  // happens first: autoplay refused, an error, or a slow start (1.5 s).
  const showControls = (): void => void (video.controls = true);
  if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(showControls);
  video.addEventListener('playing', showControls, { once: true });
  video.addEventListener('error', showControls, { once: true });
  setTimeout(showControls, 1500);
  void video.play().catch(showControls);
}
