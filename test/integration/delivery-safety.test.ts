/**
 * The delivery origin against hostile clients, over raw TCP so nothing normalises the request
 * line: a path-traversal corpus must never yield a byte of a file outside `assets/`, symlinks
 * leaving the tree are 404, a slowloris client is cut off after `timeouts.headersMs`, and a
 * thousand aborted streamed downloads leave no file descriptor behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { parseRawResponses, rawRequest, request, startStrom, tempDir, type Running } from '../helpers/http-client.js';

const ID = 'a1';
const MARK = 'TOP-SECRET-3f9c1e';
const dataDir = tempDir('safety');
const assets = path.join(dataDir, 'assets');
let srv: Running;

before(async () => {
  await makeFixtureAsset({ dataDir, id: ID, seconds: 2 });
  // Secrets outside assets/, some with servable extensions so only the path rules stand in the way.
  for (const name of ['secret.txt', 'secret.m4s', 'secret.mp4', 'secret.m3u8']) writeFileSync(path.join(dataDir, name), `${MARK} ${name}\n`);
  mkdirSync(path.join(dataDir, 'uploads'), { recursive: true });
  writeFileSync(path.join(dataDir, 'uploads', 'up.mp4'), `${MARK} upload\n`);
  writeFileSync(path.join(assets, ID, 'hidden.m4s'), `${MARK} dot\n`);
  writeFileSync(path.join(assets, ID, 'v360', '.hidden.m4s'), `${MARK} dot\n`);
  // Symlinks leaving the tree: a file, a directory, a whole asset, an absolute system file.
  symlinkSync(path.join(dataDir, 'secret.m4s'), path.join(assets, ID, 'leak.m4s'));
  symlinkSync(dataDir, path.join(assets, ID, 'linkdir'));
  symlinkSync(dataDir, path.join(assets, 'evil'));
  symlinkSync('/etc/passwd', path.join(assets, ID, 'passwd.m3u8'));
  symlinkSync('../../secret.mp4', path.join(assets, ID, 'rel.mp4'));
  // A symlink that stays inside assets/ is fine.
  symlinkSync('v360/seg_00000.m4s', path.join(assets, ID, 'alias.m4s'));
  srv = await startStrom({ dataDir, 'timeouts.headersMs': 500, 'delivery.maxObjectBytes': '16KB', 'delivery.streamChunkBytes': 4096 });
});

after(async () => {
  await srv?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Send one request line raw; returns the status and all bytes the server sent. */
async function raw(target: string | Buffer, method = 'GET'): Promise<{ status: number; bytes: Buffer }> {
  const head = Buffer.concat([Buffer.from(`${method} `), Buffer.isBuffer(target) ? target : Buffer.from(target, 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')]);
  const bytes = await rawRequest(srv.port, head);
  const msgs = parseRawResponses(bytes, method === 'HEAD');
  return { status: msgs.at(-1)!.status, bytes };
}

function assertNoLeak(bytes: Buffer, what: string): void {
  const text = bytes.toString('latin1');
  assert.ok(!text.includes(MARK), `${what}: leaked a secret file`);
  assert.ok(!/root:[^:]*:0:0:/.test(text), `${what}: leaked /etc/passwd`);
}

describe('path traversal corpus', () => {
  const long = `/v/${ID}/${'a/'.repeat(300)}x.m4s`;
  const corpus: Array<string | Buffer> = [
    `/v/${ID}/../../secret.m4s`,
    `/v/${ID}/../../../../../../../../etc/passwd`,
    '/v/../secret.m4s',
    '/v/../../etc/passwd',
    `/v/${ID}/v360/../../../secret.mp4`,
    `/v/${ID}/%2e%2e/%2e%2e/secret.m4s`,
    `/v/${ID}/%2E%2E/%2E%2E/secret.m4s`,
    `/v/${ID}/..%2f..%2fsecret.m4s`,
    `/v/${ID}/%2e%2e%2f%2e%2e%2fsecret.m4s`,
    `/v/${ID}/..%5c..%5csecret.m4s`,
    `/v/${ID}/..\\..\\secret.m4s`,
    `/v/${ID}/v360\\..\\..\\..\\secret.m4s`,
    `/v/${ID}\\..\\..\\secret.m4s`,
    `/v/${ID}/master.m3u8%00.txt`,
    `/v/${ID}/%00/../../secret.m4s`,
    Buffer.from(`/v/${ID}/x\0/../../secret.m4s`, 'latin1'),
    `/v/${ID}/%252e%252e/%252e%252e/secret.m4s`,
    `/v/${ID}/%25%32%65%25%32%65/secret.m4s`,
    `/v/${ID}/%c0%ae%c0%ae/%c0%ae%c0%ae/secret.m4s`,
    `/v/${ID}/%e2%80%a4%e2%80%a4/secret.m4s`,
    `/v/${ID}/\u2024\u2024/\u2024\u2024/secret.m4s`,
    `/v/${ID}/\uff0e\uff0e/\uff0e\uff0e/secret.m4s`,
    `/v/${ID}/.fixture`,
    `/v/${ID}/v360/.hidden.m4s`,
    `/v/${ID}/./hidden.m4s/../../../secret.m4s`,
    `/v/${ID}/..../..../secret.m4s`,
    `/v/${ID}/...//...//secret.m4s`,
    `/v/${ID}//../../secret.m4s`,
    `/v/${ID}//etc/passwd`,
    '/v//etc/passwd',
    '//v/a1/../../secret.m4s',
    '/v/%2fetc%2fpasswd',
    '/v/..%2f..%2fetc%2fpasswd',
    `/v/${ID}/file:/etc/passwd`,
    '/v/file:///etc/passwd',
    `/v/${ID}/C:\\Windows\\win.ini`,
    `/v/${ID}/master.m3u8/..`,
    `/v/${ID}/master.m3u8/../../../secret.m4s`,
    `/v/${ID}/master.m3u8#/../../secret.m4s`,
    `/v/${ID}/master.m3u8?/../../secret.m4s`.replace('master.m3u8?', 'x.m4s?'),
    long,
    `/v/${'x'.repeat(65)}/master.m3u8`,
    `/v/${ID}/${'b'.repeat(200)}.m4s`,
    '/v/a.b/master.m3u8',
    '/v/a$b/master.m3u8',
    '/v/*/master.m3u8',
    `/v/${ID};x/master.m3u8`,
    '/v/%61%31/master.m3u8',
    '/v/.a1/master.m3u8',
    '/v/../assets/a1/master.m3u8',
    '/v/uploads/up.mp4',
    '/v/evil/secret.m4s',
    `/v/${ID}/leak.m4s`,
    `/v/${ID}/linkdir/secret.m4s`,
    `/v/${ID}/linkdir/uploads/up.mp4`,
    `/v/${ID}/passwd.m3u8`,
    `/v/${ID}/rel.mp4`,
    `/v/${ID}/secret.m4s`,
    `/v/${ID}/hidden.m4s/..`,
    `http://127.0.0.1/v/${ID}/../../secret.m4s`,
    `http://evil.example/../../etc/passwd`,
  ];

  test(`${corpus.length} hostile request targets get 400 or 404 and no secret bytes`, async () => {
    for (const target of corpus) {
      const what = JSON.stringify(Buffer.isBuffer(target) ? target.toString('latin1') : target);
      for (const method of ['GET', 'HEAD']) {
        const { status, bytes } = await raw(target, method);
        assert.ok(status === 400 || status === 404, `${method} ${what}: got ${status}`);
        assertNoLeak(bytes, `${method} ${what}`);
      }
    }
  });

  test('ranged requests through traversal paths leak nothing either', async () => {
    for (const target of [`/v/${ID}/leak.m4s`, `/v/${ID}/../../secret.m4s`, '/v/evil/secret.m4s']) {
      const bytes = await rawRequest(srv.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-5\r\nConnection: close\r\n\r\n`);
      const status = parseRawResponses(bytes)[0]!.status;
      assert.ok(status === 400 || status === 404, `${target}: ${status}`);
      assertNoLeak(bytes, target);
    }
  });

  test('symlinks leaving assets/ are 404; one staying inside is served', async () => {
    for (const rel of ['leak.m4s', 'linkdir/secret.m4s', 'passwd.m3u8', 'rel.mp4']) {
      const r = await request(`${srv.url}/v/${ID}/${rel}`);
      assert.equal(r.status, 404, rel);
      assertNoLeak(r.body, rel);
    }
    assert.equal((await request(`${srv.url}/v/evil/secret.m4s`)).status, 404);
    const inside = await request(`${srv.url}/v/${ID}/alias.m4s`);
    assert.equal(inside.status, 200);
    const seg = await request(`${srv.url}/v/${ID}/v360/seg_00000.m4s`);
    assert.ok(inside.body.equals(seg.body));
  });

  test('a control request works, so the 404s above are not an empty server', async () => {
    const { status } = await raw(`/v/${ID}/master.m3u8`);
    assert.equal(status, 200);
  });
});

describe('unparsable requests', () => {
  test('a malformed head gets a catalog 400 with Connection: close; oversized headers get 431', async () => {
    for (const head of ['GET /healthz HTTP/1.1\r\nBad Name: x\r\n\r\n', `GET /v/${ID}/master.m3u8 HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n`, 'GET /v/a1/x HTTP/9.9\r\n\r\n']) {
      const text = (await rawRequest(srv.port, Buffer.from(head, 'latin1'))).toString('latin1');
      assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(head));
      assert.match(text, /\r\nConnection: close\r\n/);
      assert.equal(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).error.code, 'MALFORMED_REQUEST');
    }
    const big = `GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
    const text = (await rawRequest(srv.port, Buffer.from(big, 'latin1'))).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 431 /);
    assert.equal(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).error.code, 'HEADERS_TOO_LARGE');
  });
});

describe('slowloris', () => {
  test('a client dripping headers slower than timeouts.headersMs (500 ms) gets its socket closed', async () => {
    const sock = net.connect(srv.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    const received: Buffer[] = [];
    sock.on('data', (c: Buffer) => received.push(c));
    sock.on('error', () => { /* a reset is one way of being cut off */ });
    let closed = false;
    sock.once('close', () => { closed = true; });
    const line = `GET /v/${ID}/master.m3u8 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(400)}`;
    // 400 bytes at 50 ms each would take 20 s; the server must hang up long before the end.
    let sent = 0;
    for (const ch of line) {
      if (closed || sock.destroyed) break;
      sock.write(ch);
      sent++;
      await sleep(50);
    }
    const finished = sent === line.length;
    sock.destroy();
    assert.ok(closed, `the server never closed the socket (sent ${sent} of ${line.length} bytes)`);
    assert.ok(!finished, 'the whole drip was accepted');
    const reply = Buffer.concat(received).toString('latin1');
    assert.ok(reply === '' || /^HTTP\/1\.1 408 /.test(reply), `unexpected reply ${JSON.stringify(reply.slice(0, 80))}`);
    assert.ok(!reply.includes('#EXTM3U'), 'no playlist bytes for an incomplete request');
  });

  test('a normal client is still served afterwards', async () => {
    const r = await request(`${srv.url}/v/${ID}/master.m3u8`);
    assert.equal(r.status, 200);
  });
});

describe('file descriptors', () => {
  const fdCount = () => readdirSync('/proc/self/fd').length;

  /** Start a ranged download of the streamed object and abort it once the first bytes arrive. */
  function abortAfterFirstBytes(i: number): Promise<boolean> {
    return new Promise((resolve) => {
      const req = http.request(`${srv.url}/v/${ID}/download.mp4`, { agent: false, headers: { range: `bytes=${i % 1000}-` } }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve(res.statusCode === 206);
        });
        res.once('error', () => undefined);
      });
      req.on('error', () => undefined);
      req.on('close', () => resolve(false));
      req.end();
    });
  }

  test('1,000 aborted streamed downloads leave the fd count at its baseline', async () => {
    // warm up: metadata cached, lazy handles (DNS, timers, thread pool) created before measuring
    assert.equal((await request(`${srv.url}/v/${ID}/download.mp4`, { headers: { range: 'bytes=0-9' } })).status, 206);
    await sleep(200);
    const baseline = fdCount();
    let started = 0;
    let got206 = 0;
    const worker = async () => {
      while (started < 1000) {
        const i = started++;
        if (await abortAfterFirstBytes(i)) got206++;
      }
    };
    await Promise.all(Array.from({ length: 25 }, worker));
    assert.equal(got206, 1000, 'every download reached the body before the abort');
    let now = fdCount();
    for (let i = 0; i < 100 && now > baseline + 3; i++) {
      await sleep(100);
      now = fdCount();
    }
    assert.ok(now <= baseline + 3, `fd count ${now} did not return to the baseline ${baseline}`);
    for (let i = 0; i < 50 && srv.strom.delivery.inFlight() > 0; i++) await sleep(100);
    assert.equal(srv.strom.delivery.inFlight(), 0, 'no response still counted as in flight');
    // and the server still serves the file whole
    const r = await request(`${srv.url}/v/${ID}/download.mp4`);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, Number(r.headers['content-length']));
  });
});
