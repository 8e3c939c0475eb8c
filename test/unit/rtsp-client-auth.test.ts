/**
 * Strom's RTSP client credentials and URLs: Digest responses against the worked examples of
 * RFC 2617 §3.5 and RFC 7616 §3.9.1 (MD5 and SHA-256 with qop=auth), the RFC 2069 form without qop
 * checked by Strom's own RTSP server, challenge parsing, and control URL resolution
 * (RFC 2326 §C.1.1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientAuth, parseChallenges } from '../../src/live/rtsp/digest-client.js';
import { parseAuthorization, RtspAuth } from '../../src/live/rtsp/rtsp-auth.js';
import { contentBase, requestUrl, resolveControl, transportHint } from '../../src/live/rtsp/rtsp-client-url.js';

const field = (header: string, name: string) => new RegExp(`${name}="?([^",]*)"?`).exec(header)?.[1];

test('Digest MD5 qop=auth: the RFC 2617 §3.5 example', () => {
  const [c] = parseChallenges(['Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"']);
  const auth = new ClientAuth(c!, { user: 'Mufasa', password: 'Circle Of Life' }, () => '0a4f113b');
  const h = auth.header('GET', '/dir/index.html');
  assert.equal(field(h, 'response'), '6629fae49393a05397450978507c4ef1');
  assert.equal(field(h, 'nc'), '00000001');
  assert.equal(field(h, 'qop'), 'auth');
  assert.equal(field(h, 'opaque'), '5ccc069c403ebaf9f0171e9517f40e41');
  assert.equal(field(auth.header('GET', '/dir/index.html'), 'nc'), '00000002', 'the nonce count grows');
});

test('Digest MD5 and SHA-256 qop=auth: the RFC 7616 §3.9.1 examples', () => {
  const challenge = (alg: string) => `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${alg}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`;
  const creds = { user: 'Mufasa', password: 'Circle of Life' };
  const cnonce = () => 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ';
  const md5 = new ClientAuth(parseChallenges([challenge('MD5')])[0]!, creds, cnonce).header('GET', '/dir/index.html');
  assert.equal(field(md5, 'response'), '8ca523f5e9506fed4657c9700eebdbec');
  const sha = new ClientAuth(parseChallenges([challenge('SHA-256')])[0]!, creds, cnonce).header('GET', '/dir/index.html');
  assert.equal(field(sha, 'response'), '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
});

test('Digest without qop (RFC 2069 form) is accepted by Strom\'s RTSP server; a wrong password is not', () => {
  const server = new RtspAuth();
  const [c] = parseChallenges(server.challenges(true));
  assert.equal(c!.scheme, 'digest', 'Digest is preferred over Basic');
  const uri = 'rtsp://127.0.0.1:8554/live/cam1';
  const good = parseAuthorization(new ClientAuth(c!, { user: 'cam1', password: 'secret' }).header('DESCRIBE', uri))!;
  assert.equal(server.verify(good, 'DESCRIBE', 'secret'), 'ok');
  assert.equal(good.scheme === 'digest' ? good.qop : 'basic', null, 'no qop offered: none used');
  const bad = parseAuthorization(new ClientAuth(c!, { user: 'cam1', password: 'nope' }).header('DESCRIBE', uri))!;
  assert.equal(server.verify(bad, 'DESCRIBE', 'secret'), 'bad');
});

test('challenges: several in one field or in several, Digest first, unknown schemes and algorithms left out', () => {
  const got = parseChallenges(['Basic realm="a", Digest realm="b", nonce="n1"', 'Negotiate abc', 'Digest realm="c", nonce="n2", algorithm=SHA-512-256']);
  assert.deepEqual(got.map((c) => [c.scheme, c.params.get('realm')]), [['digest', 'b'], ['basic', 'a']]);
  const basic = new ClientAuth(got[1]!, { user: 'u', password: 'p:w' }).header('DESCRIBE', 'rtsp://x/');
  assert.equal(basic, `Basic ${Buffer.from('u:p:w').toString('base64')}`);
  assert.deepEqual(parseChallenges(['Digest realm="no nonce"']), []);
});

test('control URLs resolve against Content-Base, then Content-Location, then the request URL (RFC 2326 §C.1.1)', () => {
  const req = 'rtsp://cam.local:554/Streaming/Channels/101';
  assert.equal(contentBase(new Map([['content-base', 'rtsp://cam.local:554/Streaming/Channels/101/']]), req), 'rtsp://cam.local:554/Streaming/Channels/101/');
  assert.equal(contentBase(new Map([['content-location', 'rtsp://other/x/']]), req), 'rtsp://other/x/');
  assert.equal(contentBase(new Map(), req), req);
  const base = 'rtsp://cam.local:554/Streaming/Channels/101/';
  assert.equal(resolveControl(base, 'trackID=1'), `${base}trackID=1`);
  assert.equal(resolveControl(req, 'trackID=1'), `${req}/trackID=1`, 'a base without a trailing slash keeps its last segment');
  assert.equal(resolveControl(base, '*'), base);
  assert.equal(resolveControl(base, ''), base);
  assert.equal(resolveControl(base, 'rtsp://10.0.0.2/media/video1'), 'rtsp://10.0.0.2/media/video1');
  assert.equal(resolveControl(base, '/abs/track2'), 'rtsp://cam.local:554/abs/track2');
  assert.equal(resolveControl('rtsp://h/live/s?token=t', 'streamid=0'), 'rtsp://h/live/s?token=t/streamid=0', 'the query stays, as cameras and Strom expect');
});

test('request URLs carry no credentials and no transport hint; bad hints are named', () => {
  assert.equal(requestUrl(new URL('rtsp://admin:pw@cam:554/live?transport=tcp&ch=1')), 'rtsp://cam:554/live?ch=1');
  assert.equal(requestUrl(new URL('rtsp://admin:pw@cam/live?transport=tcp')), 'rtsp://cam/live');
  assert.equal(requestUrl(new URL('rtsp://admin:pw@cam/cam/realmonitor?channel=1&subtype=0&name=a%20b')), 'rtsp://cam/cam/realmonitor?channel=1&subtype=0&name=a%20b', 'a query without the hint goes as written');
  assert.equal(transportHint(new URL('rtsp://cam/x?transport=TCP')), 'tcp');
  assert.equal(transportHint(new URL('rtsp://cam/x')), 'auto');
  assert.throws(() => transportHint(new URL('rtsp://cam/x?transport=sctp')), /sctp/);
});
