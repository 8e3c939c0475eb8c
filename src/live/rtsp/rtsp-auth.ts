/**
 * RTSP authentication (RFC 2326 §15 → HTTP authentication): Basic (RFC 7617) and Digest with MD5
 * (RFC 2617 §3.2, RFC 7616 §3.4 — MD5 and no `qop`, which is what ffmpeg, GStreamer, VLC and
 * cameras all accept). Strom has no RTSP user database: credentials are mapped onto what already
 * authorizes a stream. A publisher's password is the stream key (the user names the stream id);
 * a reader's password is a signed playback token. Digest needs the server to know the password in
 * the clear, which holds for stream keys but not for playback tokens (they are verified by
 * signature, never stored), so readers authenticate with Basic or `?token=`.
 * Nonces are HMACs of a timestamp under a per-process secret: stateless, and expire after
 * NONCE_TTL_MS (a stale nonce is answered with a fresh challenge, `stale=true`).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The realm every challenge names. */
export const REALM = 'Strom';
/** How long a Digest nonce stays valid. */
const NONCE_TTL_MS = 5 * 60_000;

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** Credentials from an Authorization header (not yet verified). */
export type RtspCredentials =
  | { scheme: 'basic'; user: string; password: string }
  | { scheme: 'digest'; user: string; realm: string; nonce: string; uri: string; response: string; qop: string | null; nc: string; cnonce: string };

/** Parse an Authorization header; null when absent or not Basic/Digest. */
export function parseAuthorization(header: string | undefined): RtspCredentials | null {
  if (header === undefined) return null;
  const sp = header.indexOf(' ');
  const scheme = header.slice(0, sp < 0 ? header.length : sp).toLowerCase();
  const rest = sp < 0 ? '' : header.slice(sp + 1).trim();
  if (scheme === 'basic') {
    const text = Buffer.from(rest, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon < 0) return null;
    return { scheme: 'basic', user: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (scheme !== 'digest') return null;
  const p = new Map<string, string>();
  for (const m of rest.matchAll(/([a-zA-Z]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) p.set(m[1]!.toLowerCase(), (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1'));
  const user = p.get('username');
  const nonce = p.get('nonce');
  const uri = p.get('uri');
  const response = p.get('response');
  if (user === undefined || nonce === undefined || uri === undefined || response === undefined) return null;
  return { scheme: 'digest', user, realm: p.get('realm') ?? '', nonce, uri, response, qop: p.get('qop') ?? null, nc: p.get('nc') ?? '', cnonce: p.get('cnonce') ?? '' };
}

/** Issues and checks Digest nonces and verifies credentials against a known password. */
export class RtspAuth {
  private readonly secret = randomBytes(32);

  constructor(private readonly now: () => number = Date.now) {}

  /** `WWW-Authenticate` values of a 401: Digest first (clients pick the strongest they know), then Basic. */
  challenges(digest: boolean, stale = false): string[] {
    const basic = `Basic realm="${REALM}"`;
    if (!digest) return [basic];
    return [`Digest realm="${REALM}", nonce="${this.nonce()}", algorithm="MD5"${stale ? ', stale=TRUE' : ''}`, basic];
  }

  /** Whether `c` proves knowledge of `password` for `method` (Digest: a fresh nonce of ours, RFC 2617 §3.2.2 response). */
  verify(c: RtspCredentials, method: string, password: string): 'ok' | 'stale' | 'bad' {
    if (c.scheme === 'basic') return safeEqual(c.password, password) ? 'ok' : 'bad';
    const age = this.nonceAge(c.nonce);
    if (age === null) return 'bad';
    const ha1 = md5(`${c.user}:${c.realm}:${password}`);
    const ha2 = md5(`${method}:${c.uri}`);
    const expected = c.qop === 'auth' ? md5(`${ha1}:${c.nonce}:${c.nc}:${c.cnonce}:auth:${ha2}`) : md5(`${ha1}:${c.nonce}:${ha2}`);
    if (!safeEqual(c.response.toLowerCase(), expected)) return 'bad';
    return age > NONCE_TTL_MS ? 'stale' : 'ok';
  }

  private nonce(): string {
    const t = this.now().toString(16);
    return `${t}.${createHmac('sha256', this.secret).update(t).digest('hex').slice(0, 32)}`;
  }

  /** Age in ms of a nonce this process issued, or null for a forged one. */
  private nonceAge(nonce: string): number | null {
    const [t, mac] = nonce.split('.');
    if (t === undefined || mac === undefined || !/^[0-9a-f]{1,16}$/.test(t)) return null;
    if (!safeEqual(mac, createHmac('sha256', this.secret).update(t).digest('hex').slice(0, 32))) return null;
    return this.now() - parseInt(t, 16);
  }
}

/** Constant-time string comparison (lengths may differ). */
function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
