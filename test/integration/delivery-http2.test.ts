/**
 * Delivery over HTTP/2 (TLS with a throwaway self-signed certificate) and RFC 8297 Early Hints:
 * 200/206 over h2 with lower-case and no connection-specific headers (RFC 9113 §8.2), 103 for
 * master playlists seen by node:http2, nghttp and curl, 103 over HTTP/1.1 but never to an
 * HTTP/1.0 client (RFC 8297 §3), and HTTP/2 server push of the hinted objects only when
 * `delivery.http2Push` is on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { parseRawResponses, rawRequest, request, startStrom, tempDir, type Running } from '../helpers/http-client.js';

const run = promisify(execFile);
const ID = 'a1';
const dataDir = tempDir('h2');
const certDir = tempDir('h2cert');
const file = (rel: string) => readFileSync(path.join(dataDir, 'assets', ID, rel));
let h2: Running;
let h2push: Running;
let h1: Running;

before(async () => {
  await makeFixtureAsset({ dataDir, id: ID, seconds: 2, extras: false });
  const key = path.join(certDir, 'key.pem');
  const cert = path.join(certDir, 'cert.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert]);
  h2 = await startStrom({ dataDir, 'tls.cert': cert, 'tls.key': key });
  h2push = await startStrom({ dataDir, 'tls.cert': cert, 'tls.key': key, 'delivery.http2Push': true });
  h1 = await startStrom({ dataDir });
});

after(async () => {
  await h2?.stop();
  await h2push?.stop();
  await h1?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(certDir, { recursive: true, force: true });
});

/** What one h2 request saw. */
interface H2Result {
  informational: http2.IncomingHttpHeaders[];
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  pushed: Array<{ path: string; headers: http2.IncomingHttpHeaders; body: Buffer }>;
}

/** One request on a new h2 session; waits for the response and for every pushed stream to end. */
async function h2get(url: string, p: string, headers: http2.OutgoingHttpHeaders = {}): Promise<H2Result> {
  const session = http2.connect(url, { rejectUnauthorized: false });
  try {
    const pushes: Array<Promise<H2Result['pushed'][number]>> = [];
    session.on('stream', (stream, reqHeaders) => {
      pushes.push(new Promise((resolve) => {
        const chunks: Buffer[] = [];
        let got: http2.IncomingHttpHeaders = {};
        stream.on('push', (h) => { got = h; });
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', () => undefined);
        stream.on('close', () => resolve({ path: String(reqHeaders[':path']), headers: got, body: Buffer.concat(chunks) }));
      }));
    });
    const result = await new Promise<Omit<H2Result, 'pushed'>>((resolve, reject) => {
      const req = session.request({ ':path': p, ...headers });
      const informational: http2.IncomingHttpHeaders[] = [];
      let final: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      req.on('headers', (h) => informational.push(h));
      req.on('response', (h) => { final = h; });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve({ informational, headers: final, body: Buffer.concat(chunks) }));
      req.on('error', reject);
      req.end();
    });
    return { ...result, pushed: await Promise.all(pushes) };
  } finally {
    session.close();
  }
}

const CONNECTION_SPECIFIC = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection'];

describe('HTTP/2', () => {
  test('200 over h2 with the exact bytes, lower-case and no connection-specific headers', async () => {
    for (const rel of ['v360/seg_00000.m4s', 'v360/init_0.mp4', 'v360/index.m3u8']) {
      const r = await h2get(h2.url, `/v/${ID}/${rel}`);
      assert.equal(r.headers[':status'], 200, rel);
      assert.ok(r.body.equals(file(rel)), rel);
      assert.equal(r.headers['content-length'], String(file(rel).length));
      assert.ok(r.headers.etag);
      assert.equal(r.headers['accept-ranges'], 'bytes');
      for (const name of Object.keys(r.headers)) assert.equal(name, name.toLowerCase(), `${rel}: ${name}`);
      for (const h of CONNECTION_SPECIFIC) assert.equal(r.headers[h], undefined, `${rel}: ${h}`);
    }
  });

  test('206 over h2, single and multipart', async () => {
    const want = file('v360/seg_00001.m4s');
    const a = await h2get(h2.url, `/v/${ID}/v360/seg_00001.m4s`, { range: 'bytes=100-199' });
    assert.equal(a.headers[':status'], 206);
    assert.equal(a.headers['content-range'], `bytes 100-199/${want.length}`);
    assert.ok(a.body.equals(want.subarray(100, 200)));
    const b = await h2get(h2.url, `/v/${ID}/v360/seg_00001.m4s`, { range: 'bytes=0-1,10-11' });
    assert.equal(b.headers[':status'], 206);
    assert.match(String(b.headers['content-type']), /^multipart\/byteranges; boundary=/);
    for (const h of CONNECTION_SPECIFIC) assert.equal(b.headers[h], undefined, h);
  });

  test('304 and 416 over h2', async () => {
    const full = await h2get(h2.url, `/v/${ID}/v360/seg_00000.m4s`);
    const c = await h2get(h2.url, `/v/${ID}/v360/seg_00000.m4s`, { 'if-none-match': String(full.headers.etag) });
    assert.equal(c.headers[':status'], 304);
    assert.equal(c.body.length, 0);
    const d = await h2get(h2.url, `/v/${ID}/v360/seg_00000.m4s`, { range: 'bytes=99999999-' });
    assert.equal(d.headers[':status'], 416);
  });

  test('HTTP/1.1 still works on the TLS port (allowHTTP1)', async () => {
    const { stdout } = await run('curl', ['-sk', '--http1.1', '-o', '/dev/null', '-w', '%{http_code} %{http_version}', `${h2.url}/v/${ID}/master.m3u8`]);
    assert.equal(stdout, '200 1.1');
  });
});

describe('103 Early Hints', () => {
  const hinted = [`/v/${ID}/v360/index.m3u8`, `/v/${ID}/v360/init_0.mp4`, `/v/${ID}/v360/seg_00000.m4s`];

  test('node:http2 sees :status 103 with Link preloads before the master playlist', async () => {
    const r = await h2get(h2.url, `/v/${ID}/master.m3u8`);
    assert.equal(r.headers[':status'], 200);
    const early = r.informational.find((h) => Number(h[':status']) === 103);
    assert.ok(early, `no 103 among ${JSON.stringify(r.informational)}`);
    const link = ([] as string[]).concat(early.link ?? []).join(', ');
    for (const p of hinted) assert.ok(link.includes(`<${p}>; rel=preload`), `Link ${link} lacks ${p}`);
    assert.ok(r.body.equals(file('master.m3u8')));
  });

  test('no 103 for media playlists, segments or HEAD', async () => {
    for (const p of [`/v/${ID}/v360/index.m3u8`, `/v/${ID}/v360/seg_00000.m4s`]) {
      const r = await h2get(h2.url, p);
      assert.equal(r.informational.length, 0, p);
    }
    const head = await h2get(h2.url, `/v/${ID}/master.m3u8`, { ':method': 'HEAD' });
    assert.equal(head.informational.length, 0);
  });

  test('nghttp -v shows the 103 over h2', async () => {
    const { stdout } = await run('nghttp', ['-v', '-n', `${h2.url}/v/${ID}/master.m3u8`]);
    assert.match(stdout, /:status: 103/);
    assert.match(stdout, /link: <\/v\/a1\/v360\/index\.m3u8>; rel=preload/);
    assert.match(stdout, /:status: 200/);
    // header names exactly as they came off the wire: lower-case, none connection-specific
    const names = [...stdout.matchAll(/recv \(stream_id=\d+\) ([^:\s][^:]*|:[a-z]+): /g)].map((m) => m[1]!);
    assert.ok(names.includes('content-type') && names.includes('etag'), names.join(','));
    for (const n of names) {
      assert.equal(n, n.toLowerCase(), `header ${n} is not lower-case`);
      assert.ok(!CONNECTION_SPECIFIC.includes(n), `connection-specific header ${n}`);
    }
  });

  test('curl -v --http2 shows the 103', async () => {
    const { stderr } = await run('curl', ['-v', '-sk', '--http2', '-o', '/dev/null', `${h2.url}/v/${ID}/master.m3u8`]);
    assert.match(stderr, /< HTTP\/2 103/);
    assert.match(stderr, /< HTTP\/2 200/);
  });

  test('curl -v over plain HTTP/1.1 shows the 103', async () => {
    const { stderr } = await run('curl', ['-v', '-s', '--http1.1', '-o', '/dev/null', `${h1.url}/v/${ID}/master.m3u8`]);
    assert.match(stderr, /< HTTP\/1\.1 103/);
    assert.match(stderr, /< [Ll]ink: .*<\/v\/a1\/v360\/init_0\.mp4>; rel=preload/);
    assert.match(stderr, /< HTTP\/1\.1 200/);
  });

  test('node:http sees the 103 as an informational response', async () => {
    const r = await request(`${h1.url}/v/${ID}/master.m3u8`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.informational.map((i) => i.status), [103]);
    const link = String(r.informational[0]!.headers.link);
    for (const p of hinted) assert.ok(link.includes(`<${p}>`), `Link ${link} lacks ${p}`);
  });

  test('an HTTP/1.0 request gets no 103 (RFC 8297 §3), but the playlist', async () => {
    const bytes = await rawRequest(h1.port, `GET /v/${ID}/master.m3u8 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n`);
    const msgs = parseRawResponses(bytes);
    assert.deepEqual(msgs.map((m) => m.status), [200], bytes.toString('latin1').slice(0, 300));
    assert.ok(!bytes.toString('latin1').includes(' 103 '));
    assert.ok(msgs[0]!.body.equals(file('master.m3u8')));
  });

  test('no 103 over HTTP/1.1 to FFmpeg (Lavf), which reads a 1xx as the final response; it still gets it over h2', async () => {
    const bytes = await rawRequest(h1.port, `GET /v/${ID}/master.m3u8 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Lavf/59.27.100\r\nConnection: close\r\n\r\n`);
    assert.deepEqual(parseRawResponses(bytes).map((m) => m.status), [200]);
    const r = await h2get(h2.url, `/v/${ID}/master.m3u8`, { 'user-agent': 'Lavf/59.27.100' });
    assert.deepEqual(r.informational.map((h) => Number(h[':status'])), [103]);
  });

  test('an HTTP/1.1 raw request gets 103 then 200 on the same connection', async () => {
    const bytes = await rawRequest(h1.port, `GET /v/${ID}/master.m3u8 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    const msgs = parseRawResponses(bytes);
    assert.deepEqual(msgs.map((m) => m.status), [103, 200]);
    assert.equal(msgs[0]!.body.length, 0);
  });
});

describe('HTTP/2 server push', () => {
  test('with delivery.http2Push the hinted objects arrive as pushed streams with their bytes', async () => {
    const r = await h2get(h2push.url, `/v/${ID}/master.m3u8`);
    assert.equal(r.headers[':status'], 200);
    const byPath = new Map(r.pushed.map((p) => [p.path, p]));
    assert.deepEqual([...byPath.keys()].sort(), [`/v/${ID}/v360/index.m3u8`, `/v/${ID}/v360/init_0.mp4`, `/v/${ID}/v360/seg_00000.m4s`].sort());
    for (const [p, pushed] of byPath) {
      const rel = p.slice(`/v/${ID}/`.length);
      assert.equal(pushed.headers[':status'], 200, p);
      assert.ok(pushed.body.equals(file(rel)), `${p}: pushed bytes equal the file`);
      assert.ok(pushed.headers.etag, p);
      for (const h of CONNECTION_SPECIFIC) assert.equal(pushed.headers[h], undefined, `${p}: ${h}`);
    }
  });

  test('nothing is pushed when delivery.http2Push is false', async () => {
    const r = await h2get(h2.url, `/v/${ID}/master.m3u8`);
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.pushed.length, 0);
  });

  test('nothing is pushed to a client that disabled push', async () => {
    const session = http2.connect(h2push.url, { rejectUnauthorized: false, settings: { enablePush: false } });
    try {
      let pushed = 0;
      session.on('stream', () => pushed++);
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':path': `/v/${ID}/master.m3u8` });
        let s = 0;
        req.on('response', (h) => { s = Number(h[':status']); });
        req.resume();
        req.on('end', () => resolve(s));
        req.on('error', reject);
      });
      assert.equal(status, 200);
      assert.equal(pushed, 0);
    } finally {
      session.close();
    }
  });
});
