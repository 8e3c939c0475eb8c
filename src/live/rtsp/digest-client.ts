/**
 * Client-side HTTP authentication for RTSP (RFC 2326 §15 uses HTTP's): answers a server's
 * `WWW-Authenticate` challenge with an `Authorization` header. Digest (RFC 7616 §3.4, compatible
 * with RFC 2617 §3.2.2) with MD5, MD5-sess or SHA-256, with `qop=auth` when the server offers it
 * and the RFC 2069 form without `qop` otherwise (many cameras); Basic (RFC 7617) only when the
 * server offers nothing stronger. The nonce count grows with every request answered under one
 * challenge (§3.4 `nc`), so a server that checks replays accepts the keep-alives too.
 */
import { createHash, randomBytes } from 'node:crypto';

/** One parsed challenge. */
export interface AuthChallenge {
  scheme: 'basic' | 'digest';
  /** Parameters, names lower-cased, quotes removed. */
  params: Map<string, string>;
}

/** User name and password (from a URL's userinfo, percent-decoded). */
export interface Credentials {
  user: string;
  password: string;
}

const ALGORITHMS: Record<string, string> = { 'MD5': 'md5', 'MD5-SESS': 'md5', 'SHA-256': 'sha256', 'SHA-256-SESS': 'sha256' };

/** Parse `WWW-Authenticate` values; unknown schemes and algorithms are left out, Digest first. */
export function parseChallenges(values: readonly string[]): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  for (const v of values) {
    // One field may carry several challenges separated by commas: split before each scheme token.
    for (const part of v.split(/,(?=\s*(?:basic|digest)\s)/i)) {
      const m = /^\s*(basic|digest)\b(.*)$/is.exec(part);
      if (m === null) continue;
      const params = new Map<string, string>();
      for (const p of m[2]!.matchAll(/([a-zA-Z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params.set(p[1]!.toLowerCase(), (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1'));
      const scheme = m[1]!.toLowerCase() as AuthChallenge['scheme'];
      if (scheme === 'digest' && (params.get('nonce') === undefined || ALGORITHMS[(params.get('algorithm') ?? 'MD5').toUpperCase()] === undefined)) continue;
      out.push({ scheme, params });
    }
  }
  return out.sort((a, b) => (a.scheme === b.scheme ? 0 : a.scheme === 'digest' ? -1 : 1));
}

/** Builds `Authorization` values for one challenge. */
export class ClientAuth {
  private nc = 0;

  constructor(readonly challenge: AuthChallenge, private readonly creds: Credentials, private readonly cnonce: () => string = () => randomBytes(8).toString('hex')) {}

  /** The `Authorization` header of a request (`uri` exactly as on the request line). */
  header(method: string, uri: string): string {
    const { user, password } = this.creds;
    if (this.challenge.scheme === 'basic') return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
    const p = this.challenge.params;
    const realm = p.get('realm') ?? '';
    const nonce = p.get('nonce') ?? '';
    const algorithm = (p.get('algorithm') ?? 'MD5').toUpperCase();
    const h = (s: string) => createHash(ALGORITHMS[algorithm]!).update(s, 'utf8').digest('hex');
    const qop = (p.get('qop') ?? '').split(',').map((s) => s.trim().toLowerCase()).includes('auth') ? 'auth' : null;
    const cnonce = this.cnonce();
    const nc = (++this.nc).toString(16).padStart(8, '0');
    let ha1 = h(`${user}:${realm}:${password}`);
    if (algorithm.endsWith('-SESS')) ha1 = h(`${ha1}:${nonce}:${cnonce}`);
    const ha2 = h(`${method}:${uri}`);
    const response = qop === null ? h(`${ha1}:${nonce}:${ha2}`) : h(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
    const q = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
    const fields = [`username=${q(user)}`, `realm=${q(realm)}`, `nonce=${q(nonce)}`, `uri=${q(uri)}`, `response=${q(response)}`];
    if (p.has('algorithm')) fields.push(`algorithm=${p.get('algorithm')!}`);
    if (p.has('opaque')) fields.push(`opaque=${q(p.get('opaque')!)}`);
    if (qop !== null || algorithm.endsWith('-SESS')) fields.push(`cnonce=${q(cnonce)}`);
    if (qop !== null) fields.push(`qop=${qop}`, `nc=${nc}`);
    return `Digest ${fields.join(', ')}`;
  }
}
