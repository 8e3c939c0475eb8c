/**
 * Source URLs as the API, logs and errors show them. A source URL may carry secrets: userinfo
 * (`rtsp://admin:pw@camera/…`), query values (`…/live.m3u8?token=…`), an RTMP stream key (the
 * last path segment) or an SRT stream id and passphrase. The masked form keeps the scheme, host,
 * port and (except for RTMP's key) the path, so an operator can still tell sources apart:
 * `rtsp://••••@camera.local:554/Streaming/Channels/101`, `https://cdn.example/live.m3u8?token=••••`.
 */
import { maskOutputUrl, redact, secretsOf } from '../../restream/output-url.js';

const DOTS = '••••';

/** The URL as the API and logs show it. */
export function maskSourceUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    const i = raw.indexOf('://');
    return i > 0 && i < 16 ? `${raw.slice(0, i + 3)}${DOTS}` : DOTS;
  }
  const scheme = u.protocol.toLowerCase();
  // RTMP keys and SRT stream ids are masked the way restreaming destinations are.
  if (scheme === 'rtmp:' || scheme === 'rtmps:' || scheme === 'srt:') return maskOutputUrl(raw, null);
  const user = u.username !== '' || u.password !== '' ? `${DOTS}@` : '';
  const port = u.port ? `:${u.port}` : '';
  const query = [...u.searchParams.keys()].map((k) => `${encodeURIComponent(k)}=${DOTS}`).join('&');
  return `${scheme}//${user}${u.hostname}${port}${u.pathname}${query ? '?' + query : ''}`;
}

/** The secrets in a source URL: userinfo, query values, and RTMP/SRT keys. */
export function sourceSecrets(raw: string): string[] {
  const out = secretsOf(raw, null);
  try {
    const u = new URL(raw);
    for (const v of u.searchParams.values()) out.push(v);
  } catch {
    out.push(raw);
  }
  return [...new Set(out.filter((s) => s.length >= 3))].sort((a, b) => b.length - a.length);
}

/** `text` (an error from a source, a log line) with the secrets of `raw` masked. */
export function redactSource(text: string, raw: string): string {
  return redact(text, sourceSecrets(raw));
}
