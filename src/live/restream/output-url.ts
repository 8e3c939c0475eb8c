/**
 * Restreaming destination URLs: parsing, and the masked form the API shows. A destination is a
 * URL (`rtmp://host[:port]/app[/key]`, `rtmps://…`, `srt://host:port?streamid=…&passphrase=…`)
 * plus an optional separate stream key; the key, any userinfo, an SRT stream id and passphrase are
 * secrets — the masked form keeps the scheme, host, port and path and shows only the last 4
 * characters of the key (`rtmp://a.rtmp.youtube.com/live2/••••abcd`,
 * `srt://host:9000?streamid=••••abcd&passphrase=••••&latency=200`).
 * `redact` removes the secrets from any text (a destination's error message may echo the key).
 */
import { fail } from '../../errors.js';

/** A parsed destination: the URL without secrets in plain fields, the secrets apart. */
export interface OutputTarget {
  /** Lower-case scheme without the colon (`rtmp`, `rtmps`, `srt`). */
  scheme: string;
  url: URL;
  /** The separate stream key, when given. */
  streamKey: string | null;
}

const DOTS = '••••';
/** SRT URL parameters that are tuning, not secrets: shown as given. */
const SRT_PLAIN = new Set(['latency', 'pbkeylen', 'mode', 'transtype']);

/** Parse `url` (+ `streamKey`); throws LIVE_OUTPUT_BAD_URL naming the masked URL. */
export function parseOutputUrl(url: string, streamKey: string | null = null): OutputTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw fail('LIVE_OUTPUT_BAD_URL', maskText(url), 'not a URL (expected e.g. rtmp://host/app/key)');
  }
  if (u.hostname === '') throw fail('LIVE_OUTPUT_BAD_URL', maskOutputUrl(url, streamKey), 'no host');
  return { scheme: u.protocol.replace(/:$/, '').toLowerCase(), url: u, streamKey: streamKey || null };
}

/** The last 4 characters of a secret after dots; short secrets are all dots. */
export function maskSecret(secret: string): string {
  return secret.length > 8 ? `${DOTS}${secret.slice(-4)}` : DOTS;
}

/** The URL as the API shows it: no userinfo, no query, the key (separate or last path segment) masked. */
export function maskOutputUrl(url: string, streamKey: string | null): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return maskText(url);
  }
  if (u.protocol === 'srt:') return maskSrtUrl(u, streamKey);
  const segments = u.pathname.split('/').filter((s) => s !== '');
  if (streamKey) segments.push(maskSecret(streamKey));
  else if (segments.length > 1) segments.push(maskSecret(decodeURIComponent(segments.pop()!)));
  const port = u.port ? `:${u.port}` : '';
  return `${u.protocol}//${u.hostname}${port}/${segments.join('/')}${u.search ? '?' + DOTS : ''}`;
}

/** The secrets of a destination: its key, the URL's userinfo, query and last path segment. */
export function secretsOf(url: string, streamKey: string | null): string[] {
  const out: string[] = [];
  if (streamKey) out.push(streamKey);
  try {
    const u = new URL(url);
    if (u.password) out.push(decodeURIComponent(u.password));
    if (u.username) out.push(decodeURIComponent(u.username));
    if (u.search.length > 1) out.push(u.search.slice(1));
    const last = u.pathname.split('/').filter((s) => s !== '').slice(1).at(-1);
    if (!streamKey && last) out.push(decodeURIComponent(last));
    if (u.protocol === 'srt:') out.push(...srtSecrets(u), ...(streamKey ? [srtResource(streamKey)] : []));
  } catch {
    out.push(url);
  }
  return out.filter((s) => s.length >= 3);
}

/** The query parameters of an srt:// URL as libsrt and ffmpeg read them (first of a name wins). */
export function srtParams(u: URL): Map<string, string> {
  const out = new Map<string, string>();
  if (u.search === '') return out;
  // Everything after the `?` counts, so the `#` of an unencoded `streamid=#!::r=key,m=publish`
  // starts a value, not a fragment. A `+` stays a `+`: passphrases may contain it.
  for (const part of (u.search.slice(1) + u.hash).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (!out.has(key)) out.set(key, eq < 0 ? '' : percentDecode(part.slice(eq + 1)));
  }
  return out;
}

/** The name an SRT stream id publishes to: the `r=` of the Access Control syntax, else the whole id. */
function srtResource(streamId: string): string {
  if (!streamId.startsWith('#!::')) return streamId;
  const r = streamId.slice(4).split(',').find((f) => f.startsWith('r='));
  return r === undefined ? streamId : r.slice(2);
}

/** An srt:// URL without secrets: the stream id (separate key first) as its last 4 characters, passphrase and unknown parameters as dots. */
function maskSrtUrl(u: URL, streamKey: string | null): string {
  const params = srtParams(u);
  const shown: string[] = [];
  const id = streamKey ?? params.get('streamid');
  if (id) shown.push(`streamid=${maskSecret(srtResource(id))}`);
  for (const [k, v] of params) {
    if (k !== 'streamid') shown.push(`${encodeURIComponent(k)}=${SRT_PLAIN.has(k) ? encodeURIComponent(v) : DOTS}`);
  }
  const port = u.port ? `:${u.port}` : '';
  const path = u.pathname.replace(/^\/+/, '') === '' ? '' : `/${DOTS}`;
  return `srt://${u.hostname}${port}${path}${shown.length ? '?' + shown.join('&') : ''}`;
}

/** The secret parameters of an srt:// URL (stream id, its resource, passphrase, anything not known as tuning) and its raw query. */
function srtSecrets(u: URL): string[] {
  const out: string[] = [];
  if (u.hash.length > 1) out.push(u.hash.slice(1));
  for (const [k, v] of srtParams(u)) {
    if (SRT_PLAIN.has(k)) continue;
    out.push(v);
    if (k === 'streamid') out.push(srtResource(v));
  }
  return out;
}

/** `text` percent-decoded, or as is when it is not valid percent-encoding. */
function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `text` with every secret replaced by its masked form (error messages of destinations, logs). */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join(maskSecret(s));
  return out;
}

/** A string that did not parse as a URL: only its scheme, so a key pasted in the wrong field is not echoed. */
function maskText(text: string): string {
  const i = text.indexOf('://');
  return i > 0 && i < 16 ? `${text.slice(0, i + 3)}${DOTS}` : DOTS;
}
