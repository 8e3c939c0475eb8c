/**
 * 103 Early Hints for master playlists (RFC 8297). A player that fetched `master.m3u8` will next ask
 * for the first variant playlist, its init segment (EXT-X-MAP) and its first media segment; hinting
 * them lets the browser open those requests while the master is still being parsed. Browsers act
 * on 103 only over HTTP/2+, and Chrome removed HTTP/2 server push in version 106 because pushed
 * bytes often duplicated what the client already had cached — hints let the client decide.
 */

/**
 * HTTP/1.1 clients that get no 103. FFmpeg's http protocol (seen with FFmpeg 5.1; User-Agent
 * `Lavf/…`) reads the 103 head as the final response and fails with "Stream ends prematurely",
 * though RFC 9110 §15.2 requires clients to skip 1xx. Browsers (`Mozilla/…`) ignore 103 over
 * HTTP/1.1 (and on subresources at all: chromium docs/early-hints.md), yet Chromium's first
 * response headers on a new connection came ~6 ms later with it (bench/startup/vod.ts: master
 * loaded at 26.9 ms with the 103, 18.2 ms without), so they are spared it too.
 */
const NO_1XX_USER_AGENTS = /^(?:Lavf|Mozilla)\//;

/**
 * Whether a request may be sent 103 Early Hints: never to HTTP/1.0 (RFC 8297 §3, 1xx did not exist),
 * always over HTTP/2+, and over HTTP/1.1 unless the client chokes on interim responses or ignores them.
 */
export function acceptsEarlyHints(httpVersionMajor: number, httpVersionMinor: number, userAgent: string | undefined): boolean {
  if (httpVersionMajor >= 2) return true;
  if (httpVersionMajor < 1 || httpVersionMinor === 0) return false;
  return userAgent === undefined || !NO_1XX_USER_AGENTS.test(userAgent);
}

/** Absolute-path form of `uri` relative to the playlist at `base` (a URL path). Null for off-origin URIs. */
export function resolveUri(base: string, uri: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri) || uri.startsWith('//')) return null;
  const q = uri.indexOf('?');
  const clean = q < 0 ? uri : uri.slice(0, q);
  if (clean.startsWith('/')) return clean;
  const dir = base.slice(0, base.lastIndexOf('/') + 1);
  const parts: string[] = [];
  for (const p of (dir + clean).split('/')) {
    if (p === '..') parts.pop();
    else if (p !== '.') parts.push(p);
  }
  return parts.join('/');
}

/** First variant URI of a master playlist (the line after the first EXT-X-STREAM-INF), or null. */
export function firstVariant(master: string): string | null {
  const lines = master.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.startsWith('#EXT-X-STREAM-INF')) {
      for (let j = i + 1; j < lines.length; j++) {
        const l = lines[j]!.trim();
        if (l && !l.startsWith('#')) return l;
      }
    }
  }
  return null;
}

/** URI of the default audio rendition of a master playlist (EXT-X-MEDIA TYPE=AUDIO, DEFAULT=YES, else the first), or null. */
export function defaultAudio(master: string): string | null {
  let first: string | null = null;
  for (const raw of master.split(/\r?\n/)) {
    if (!raw.startsWith('#EXT-X-MEDIA:') || !/(?:^|[:,])TYPE=AUDIO(?:,|$)/.test(raw)) continue;
    const uri = /(?:^|[:,])URI="([^"]+)"/.exec(raw)?.[1];
    if (uri === undefined) continue;
    if (/(?:^|[:,])DEFAULT=YES(?:,|$)/.test(raw)) return uri;
    first ??= uri;
  }
  return first;
}

/** Init segment URI (EXT-X-MAP) and first media segment URI of a media playlist. */
export function firstObjects(media: string): { init: string | null; segment: string | null } {
  let init: string | null = null;
  let segment: string | null = null;
  for (const raw of media.split(/\r?\n/)) {
    const l = raw.trim();
    if (init === null && l.startsWith('#EXT-X-MAP:')) init = /URI="([^"]+)"/.exec(l)?.[1] ?? null;
    else if (l && !l.startsWith('#')) {
      segment = l;
      break;
    }
  }
  return { init, segment };
}

/** `Link` header values for the objects a player fetches after the master playlist. */
export function earlyHintLinks(variantPath: string | null, variantBody: string | null): string[] {
  if (variantPath === null) return [];
  const links = [`<${variantPath}>; rel=preload; as=fetch; crossorigin`];
  if (variantBody !== null) {
    const { init, segment } = firstObjects(variantBody);
    for (const uri of [init, segment]) {
      const abs = uri === null ? null : resolveUri(variantPath, uri);
      if (abs !== null) links.push(`<${abs}>; rel=preload; as=fetch; crossorigin`);
    }
  }
  return links;
}
