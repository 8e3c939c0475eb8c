/**
 * API authentication: `Authorization: Bearer <JWT>` (RFC 6750 §2.1) verified with jose.
 * HS256 tokens use Strom's own secret (config `auth.jwtSecret`, else generated once into
 * `<dataDir>/secrets/api-jwt.secret`); RS256/ES256 tokens are verified against `auth.jwksUrl`, so
 * an identity provider can issue them. RFC 8725 §3.1/§3.2: the algorithm is chosen by the key
 * source, never by the token — `alg: none` and an HS256 token "signed" with a public key fail.
 * `exp` is required; `nbf`, `iss`, `aud` are checked. Failures answer 401 with a
 * `WWW-Authenticate` challenge (RFC 6750 §3); a valid token lacking the scope answers 403.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Config } from '../config.js';
import { failWith, type StromError } from '../errors.js';
import { scopesOf, type Scope } from './scopes.js';

/** Who made an API request. */
export interface ApiPrincipal {
  sub: string;
  scopes: Set<string>;
  claims: JWTPayload;
}

/** Realm named in every challenge. */
const REALM = 'strom';

/** RFC 6750 §3 quoted-string values must not contain `"` or `\`. */
function quoted(text: string): string {
  return `"${text.replace(/["\\]/g, "'").slice(0, 200)}"`;
}

/** 401 for a request without credentials: a bare challenge (RFC 6750 §3.1, no error code). */
export function missingToken(why: string): StromError {
  return failWith('UNAUTHORIZED', { 'WWW-Authenticate': `Bearer realm="${REALM}"` }, why);
}

function invalidToken(err: StromError): StromError {
  err.headers['WWW-Authenticate'] = `Bearer realm="${REALM}", error="invalid_token", error_description=${quoted(err.message)}`;
  return err;
}

/** 403 for a valid token without the route's scope (RFC 6750 §3.1 `insufficient_scope`). */
export function insufficientScope(needed: Scope, had: Set<string>): StromError {
  return failWith('INSUFFICIENT_SCOPE', { 'WWW-Authenticate': `Bearer realm="${REALM}", error="insufficient_scope", scope="${needed}"` }, needed, [...had].join(' '));
}

/** The HS256 secret: configured, or read from / generated into `<dataDir>/secrets/api-jwt.secret` (mode 0600). */
export function loadApiSecret(config: Config): Uint8Array {
  if (config.auth.jwtSecret) return new TextEncoder().encode(config.auth.jwtSecret);
  const dir = path.join(config.dataDir, 'secrets');
  const file = path.join(dir, 'api-jwt.secret');
  try {
    return new TextEncoder().encode(readFileSync(file, 'utf8').trim());
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process won the race: use its secret.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return new TextEncoder().encode(readFileSync(file, 'utf8').trim());
  }
  return new TextEncoder().encode(secret);
}

/** Sign an API token with the HS256 secret (what `strom token create` prints). */
export async function signApiToken(config: Config, secret: Uint8Array, o: { scopes: Scope[]; ttlS: number; sub?: string }): Promise<string> {
  return new SignJWT({ scope: o.scopes.join(' ') })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(o.sub ?? 'cli')
    .setIssuer(config.auth.issuer)
    .setAudience(config.auth.audience)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + o.ttlS)
    .sign(secret);
}

/** Map a jose failure to the catalog error a client sees. */
export function tokenError(err: unknown): StromError {
  if (err instanceof joseErrors.JWTExpired) {
    const exp = typeof err.payload.exp === 'number' ? new Date(err.payload.exp * 1000).toISOString() : 'unknown';
    return invalidToken(failWith('TOKEN_EXPIRED', {}, exp));
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) return invalidToken(failWith('TOKEN_INVALID', {}, `claim ${err.claim}: ${err.reason}`));
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return invalidToken(failWith('TOKEN_INVALID', {}, 'signature does not verify'));
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return invalidToken(failWith('TOKEN_INVALID', {}, 'algorithm not allowed'));
  if (err instanceof joseErrors.JWKSNoMatchingKey) return invalidToken(failWith('TOKEN_INVALID', {}, 'no JWKS key matches the token'));
  if (err instanceof joseErrors.JOSEError) return invalidToken(failWith('TOKEN_INVALID', {}, err.message));
  throw err;
}

/** A verifier of API bearer tokens for this configuration. */
export function createApiVerifier(config: Config, secret: Uint8Array): (token: string) => Promise<ApiPrincipal> {
  const jwks = config.auth.jwksUrl ? createRemoteJWKSet(new URL(config.auth.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 }) : null;
  const claims = { issuer: config.auth.issuer, audience: config.auth.audience, clockTolerance: config.auth.clockToleranceS, requiredClaims: ['exp'] };
  return async (token) => {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw invalidToken(failWith('TOKEN_INVALID', {}, 'not a JWS compact serialization'));
    }
    try {
      let payload: JWTPayload;
      if (alg === 'HS256') payload = (await jwtVerify(token, secret, { ...claims, algorithms: ['HS256'] })).payload;
      else if ((alg === 'RS256' || alg === 'ES256') && jwks) payload = (await jwtVerify(token, jwks, { ...claims, algorithms: ['RS256', 'ES256'] })).payload;
      else throw invalidToken(failWith('TOKEN_INVALID', {}, `algorithm ${JSON.stringify(alg)} is not accepted`));
      return { sub: payload.sub ?? 'anonymous', scopes: scopesOf(payload), claims: payload };
    } catch (err) {
      if ((err as StromError).name === 'StromError') throw err;
      throw tokenError(err);
    }
  };
}

/** The bearer token of an Authorization header, null when absent; throws 401 when malformed. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined || header === '') return null;
  const m = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header);
  if (!m) throw invalidToken(failWith('TOKEN_INVALID', {}, 'Authorization must be "Bearer <token>"'));
  return m[1]!;
}
