/**
 * API authentication (RFC 6750, RFC 7519/8725): every route × no token, expired, wrong scope,
 * `alg: none`, tampered, valid; iss/aud/nbf checks; JWKS (RS256, ES256) through a local key
 * server and algorithm confusion; `strom token create` output accepted by the server.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { startApi, type ApiServer } from '../helpers/api-server.js';
import { loadApiSecret } from '../../src/auth/api-auth.js';
import type { Scope } from '../../src/auth/scopes.js';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** The route table under test: method, path, needed scope, JSON body. */
function routes(ids: { video: string; live: string; kid: string }): Array<{ method: string; path: string; scope: Scope; json?: unknown }> {
  return [
    { method: 'GET', path: '/api/v1/videos', scope: 'videos:read' },
    { method: 'GET', path: `/api/v1/videos/${ids.video}`, scope: 'videos:read' },
    { method: 'PATCH', path: `/api/v1/videos/${ids.video}`, scope: 'videos:write', json: { title: 't' } },
    { method: 'POST', path: `/api/v1/videos/${ids.video}/playback-token`, scope: 'videos:read', json: {} },
    { method: 'POST', path: '/api/v1/live-streams', scope: 'live:write', json: { title: 'x' } },
    { method: 'GET', path: '/api/v1/live-streams', scope: 'live:write' },
    { method: 'GET', path: `/api/v1/live-streams/${ids.live}`, scope: 'live:write' },
    { method: 'PATCH', path: `/api/v1/live-streams/${ids.live}`, scope: 'live:write', json: { title: 'y' } },
    { method: 'POST', path: `/api/v1/live-streams/${ids.live}/rotate-key`, scope: 'live:write' },
    { method: 'POST', path: `/api/v1/live-streams/${ids.live}/playback-token`, scope: 'videos:read', json: {} },
    { method: 'POST', path: '/api/v1/signing-keys', scope: 'admin' },
    { method: 'GET', path: '/api/v1/signing-keys', scope: 'admin' },
    { method: 'DELETE', path: `/api/v1/signing-keys/${ids.kid}`, scope: 'admin' },
    { method: 'DELETE', path: `/api/v1/live-streams/${ids.live}`, scope: 'live:write' },
    { method: 'DELETE', path: `/api/v1/videos/${ids.video}`, scope: 'videos:write' },
  ];
}

/** A scope that does not grant `s`. */
function otherScope(s: Scope): Scope {
  return s === 'videos:read' ? 'live:write' : 'videos:read';
}

async function expiredToken(s: ApiServer, scope: Scope): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope }).setProtectedHeader({ alg: 'HS256' }).setIssuer('strom').setAudience('strom').setSubject('x')
    .setIssuedAt(now - 3600).setExpirationTime(now - 600).sign(loadApiSecret(s.strom.config));
}

function algNoneToken(scope: Scope): string {
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ scope, iss: 'strom', aud: 'strom', sub: 'x', exp: now + 600 })}.`;
}

/** Take a valid token with a weak scope and swap in a payload granting `scope`, keeping the signature. */
async function tamperedToken(s: ApiServer, scope: Scope): Promise<string> {
  const weak = await s.token([otherScope(scope)]);
  const [h, , sig] = weak.split('.');
  const now = Math.floor(Date.now() / 1000);
  return `${h}.${b64({ scope, iss: 'strom', aud: 'strom', sub: 'x', exp: now + 600 })}.${sig}`;
}

test('authorisation matrix: every route × no token, expired, wrong scope, alg none, tampered, valid', async (t) => {
  const s = await startApi(t);
  const { store } = s.strom.control;
  const video = await store.videos.create({ title: 'v' });
  const live = await store.liveStreams.create({ title: 'l' });
  const key = await store.signingKeys.create();
  s.strom.control.tokens.addKey(key);
  for (const r of routes({ video: video.id, live: live.id, kid: key.kid })) {
    const name = `${r.method} ${r.path}`;
    const none = await s.call(r.method, r.path, { json: r.json });
    assert.equal(none.status, 401, `${name} without token`);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="strom"', `${name} bare challenge`);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');

    const expired = await s.call(r.method, r.path, { json: r.json, token: await expiredToken(s, r.scope) });
    assert.equal(expired.status, 401, `${name} expired`);
    assert.match(expired.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.equal(((await expired.json()) as { error: { code: string } }).error.code, 'TOKEN_EXPIRED');

    const wrong = await s.call(r.method, r.path, { json: r.json, token: await s.token([otherScope(r.scope)]) });
    assert.equal(wrong.status, 403, `${name} wrong scope`);
    assert.equal(wrong.headers.get('www-authenticate'), `Bearer realm="strom", error="insufficient_scope", scope="${r.scope}"`);
    assert.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'INSUFFICIENT_SCOPE');

    const algNone = await s.call(r.method, r.path, { json: r.json, token: algNoneToken(r.scope) });
    assert.equal(algNone.status, 401, `${name} alg none`);
    await algNone.body?.cancel();

    const tampered = await s.call(r.method, r.path, { json: r.json, token: await tamperedToken(s, r.scope) });
    assert.equal(tampered.status, 401, `${name} tampered`);
    assert.match(((await tampered.json()) as { error: { message: string } }).error.message, /signature/);

    const ok = await s.call(r.method, r.path, { json: r.json, token: await s.token([r.scope]) });
    assert.ok(ok.status >= 200 && ok.status < 300, `${name} valid → ${ok.status} ${await ok.text()}`);
  }
});

test('admin grants every scope; iss, aud, nbf and the secret are checked; malformed header is 401', async (t) => {
  const s = await startApi(t);
  const admin = await s.token(['admin']);
  assert.equal((await s.call('GET', '/api/v1/videos', { token: admin })).status, 200);
  const secret = loadApiSecret(s.strom.config);
  const now = Math.floor(Date.now() / 1000);
  const base = () => new SignJWT({ scope: 'videos:read' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').setExpirationTime(now + 600);
  const cases: Array<[string, Promise<string>, RegExp]> = [
    ['wrong issuer', base().setIssuer('evil').setAudience('strom').sign(secret), /claim iss/],
    ['wrong audience', base().setIssuer('strom').setAudience('other').sign(secret), /claim aud/],
    ['not yet valid', base().setIssuer('strom').setAudience('strom').setNotBefore(now + 600).sign(secret), /claim nbf/],
    ['other secret', base().setIssuer('strom').setAudience('strom').sign(new TextEncoder().encode('not-the-server-secret-0123456789')), /signature/],
    ['no exp', new SignJWT({ scope: 'videos:read' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('strom').setAudience('strom').sign(secret), /exp/],
  ];
  for (const [name, tok, why] of cases) {
    const r = await s.call('GET', '/api/v1/videos', { token: await tok });
    assert.equal(r.status, 401, name);
    assert.match(((await r.json()) as { error: { message: string } }).error.message, why, name);
  }
  const basic = await s.call('GET', '/api/v1/videos', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
  assert.equal(basic.status, 401);
  assert.match(basic.headers.get('www-authenticate') ?? '', /invalid_token/);
});

test('JWKS: RS256 and ES256 tokens from a local key server; HS256 signed with the public key is rejected', async (t) => {
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const ec = await generateKeyPair('ES256', { extractable: true });
  const keys = [{ ...(await exportJWK(rsa.publicKey)), kid: 'rsa1', alg: 'RS256', use: 'sig' }, { ...(await exportJWK(ec.publicKey)), kid: 'ec1', alg: 'ES256', use: 'sig' }];
  let fetches = 0;
  const idp = http.createServer((req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => idp.close(() => r())));
  const jwksUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`;
  const s = await startApi(t, { 'auth.jwksUrl': jwksUrl, 'auth.issuer': 'https://idp.example', 'auth.audience': 'strom-api' });
  const now = Math.floor(Date.now() / 1000);
  const idpToken = (alg: string, kid: string, key: Parameters<SignJWT['sign']>[0], scope = 'videos:read') =>
    new SignJWT({ scp: scope.split(' ') }).setProtectedHeader({ alg, kid }).setIssuer('https://idp.example').setAudience('strom-api').setSubject('user-1').setExpirationTime(now + 600).sign(key);

  assert.equal((await s.call('GET', '/api/v1/videos', { token: await idpToken('RS256', 'rsa1', rsa.privateKey) })).status, 200);
  assert.equal((await s.call('GET', '/api/v1/videos', { token: await idpToken('ES256', 'ec1', ec.privateKey) })).status, 200);
  assert.ok(fetches >= 1, 'the JWKS was fetched from the key server');
  const wrongScope = await s.call('POST', '/api/v1/live-streams', { token: await idpToken('RS256', 'rsa1', rsa.privateKey), json: {} });
  assert.equal(wrongScope.status, 403);

  const stranger = await generateKeyPair('RS256');
  const unknown = await s.call('GET', '/api/v1/videos', { token: await idpToken('RS256', 'rsa1', stranger.privateKey) });
  assert.equal(unknown.status, 401, 'a key the IdP does not publish');

  // Algorithm confusion (RFC 8725 §2.1): HMAC "signed" with the RSA public key as the secret.
  const pem = await exportSPKI(rsa.publicKey);
  const confused = await idpToken('HS256', 'rsa1', new TextEncoder().encode(pem));
  assert.equal((await s.call('GET', '/api/v1/videos', { token: confused })).status, 401);
  const hsWithJwk = await idpToken('HS256', 'rsa1', new TextEncoder().encode(JSON.stringify(keys[0])));
  assert.equal((await s.call('GET', '/api/v1/videos', { token: hsWithJwk })).status, 401);
  const ps = await s.call('GET', '/api/v1/videos', { token: `${b64({ alg: 'RS512', kid: 'rsa1' })}.${b64({ exp: now + 60 })}.AAAA` });
  assert.equal(ps.status, 401, 'algorithms outside RS256/ES256 are refused');
});

test('strom token create prints a token the server accepts, with the requested scopes and ttl', async (t) => {
  const s = await startApi(t);
  const run = promisify(execFile);
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'token', 'create', '--scope', 'videos:read, live:write', '--ttl', '2h', '--data', s.dataDir], { cwd: new URL('../..', import.meta.url).pathname });
  const jwt = stdout.trim();
  assert.match(jwt, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  const claims = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { scope: string; exp: number; iat: number };
  assert.equal(claims.scope, 'videos:read live:write');
  assert.equal(claims.exp - claims.iat, 7200);
  assert.equal((await s.call('GET', '/api/v1/videos', { token: jwt })).status, 200);
  assert.equal((await s.call('POST', '/api/v1/live-streams', { token: jwt, json: {} })).status, 201);
  assert.equal((await s.call('GET', '/api/v1/signing-keys', { token: jwt })).status, 403);
  await assert.rejects(run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'token', 'create', '--scope', 'videos:fly', '--data', s.dataDir], { cwd: new URL('../..', import.meta.url).pathname }), /unknown scope/);
});
