/**
 * The URLs an RTSP client puts on its request lines. The source URL loses its userinfo (credentials
 * travel in Authorization, never in a request line a camera may log) and Strom's own `transport`
 * query parameter. Track URLs come from the SDP's `a=control` resolved per RFC 2326 §C.1.1
 * (RFC 7826 §18.33, Appendix D.1.1): an absolute control is used as is, `*` or none means the
 * base itself, and a relative one is appended to the base — the Content-Base header, else
 * Content-Location, else the DESCRIBE URL — with one `/` between, which is what cameras, live555,
 * ffmpeg and GStreamer do (a strict RFC 3986 merge would drop the base's last segment when it has
 * no trailing slash, and no camera means that).
 */

/** Strom's transport choice from a source URL: `?transport=tcp` forces RTP over the RTSP connection. */
export type TransportHint = 'auto' | 'tcp';

/** The transport `?transport=` asks for; `auto` (UDP, then TCP) when absent. Throws a plain Error naming a bad value. */
export function transportHint(url: URL): TransportHint {
  const v = url.searchParams.get('transport');
  if (v === null) return 'auto';
  const t = v.toLowerCase();
  if (t === 'tcp' || t === 'auto') return t;
  throw new Error(`transport=${JSON.stringify(v.slice(0, 20))} (expected tcp or auto)`);
}

/** The URL as a request line carries it: no userinfo, no `transport` parameter. */
export function requestUrl(url: URL): string {
  const u = new URL(url.href);
  u.username = '';
  u.password = '';
  if (u.searchParams.has('transport')) { // rewriting the query re-encodes it: only when there is something to take out
    u.searchParams.delete('transport');
    if ([...u.searchParams.keys()].length === 0) u.search = '';
  }
  return u.href;
}

/** The base of relative controls in a DESCRIBE answer (§C.1.1 order). */
export function contentBase(headers: ReadonlyMap<string, string>, describeUrl: string): string {
  for (const name of ['content-base', 'content-location']) {
    const v = headers.get(name)?.trim();
    if (v !== undefined && v !== '') return isAbsolute(v) ? v : resolveControl(describeUrl, v);
  }
  return describeUrl;
}

/** The URL `control` (an `a=control` value) names, relative to `base`. */
export function resolveControl(base: string, control: string): string {
  const c = control.trim();
  if (c === '' || c === '*') return base;
  if (isAbsolute(c)) return c;
  if (c.startsWith('/')) return `${originOf(base)}${c}`;
  return base.endsWith('/') ? `${base}${c}` : `${base}/${c}`;
}

function isAbsolute(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
}

/** scheme://host[:port] of a URL (WHATWG URL gives rtsp: URLs no origin). */
function originOf(url: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url)?.[0] ?? '';
}
