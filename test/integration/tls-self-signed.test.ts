/**
 * `tls.selfSigned` / `strom serve --tls-self-signed`: a certificate is generated once into the data
 * directory (key readable by the owner only), the server answers HTTPS with HTTP/2 negotiated by
 * ALPN, a client that trusts exactly that certificate verifies it for localhost and 127.0.0.1, a
 * restart reuses it, and an explicit tls.cert wins over it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { serveFlags } from '../../src/cli/serve.js';
import { spkiHash } from '../../src/http/tls-self-signed.js';
import { startStrom, tempDir } from '../helpers/http-client.js';

/** GET `p` over HTTP/2 trusting only `ca`; resolves to the status and the negotiated protocol. */
function h2Get(url: string, p: string, ca: Buffer, servername?: string): Promise<{ status: number; alpn: string | false | undefined }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, { ca, servername });
    session.on('error', reject);
    const req = session.request({ ':path': p });
    req.on('response', (h) => {
      req.resume();
      req.on('end', () => {
        const alpn = session.alpnProtocol;
        session.close();
        resolve({ status: Number(h[':status']), alpn });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

test('--tls-self-signed sets tls.selfSigned', () => {
  assert.equal(serveFlags(['--tls-self-signed']).flags['tls.selfSigned'], 'true');
  assert.equal(serveFlags([]).flags['tls.selfSigned'], undefined);
});

test('a self-signed certificate is made once, served over HTTP/2, verified for localhost and 127.0.0.1, and reused', async () => {
  const dataDir = tempDir('tls');
  const first = await startStrom({ dataDir, 'tls.selfSigned': true, 'rtmp.enabled': false });
  const certFile = path.join(dataDir, 'tls', 'self-signed.crt');
  const keyFile = path.join(dataDir, 'tls', 'self-signed.key');
  let spki: string;
  try {
    assert.match(first.url, /^https:\/\//);
    assert.equal(first.strom.config.tls.cert, certFile);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'the private key is readable by its owner only');
    const pem = readFileSync(certFile);
    const x = new X509Certificate(pem);
    assert.match(x.subjectAltName ?? '', /DNS:localhost/);
    assert.match(x.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    assert.ok(x.checkHost('localhost'), 'valid for localhost');
    assert.ok(Date.parse(x.validTo) - Date.now() > 300 * 24 * 3600_000, 'valid for about a year');
    spki = spkiHash(pem.toString());
    const r = await h2Get(first.url, '/healthz', pem);
    assert.equal(r.status, 200);
    assert.equal(r.alpn, 'h2', 'HTTP/2 negotiated by ALPN');
    const byName = await h2Get(first.url.replace('127.0.0.1', 'localhost'), '/healthz', pem, 'localhost');
    assert.equal(byName.status, 200);
  } finally {
    await first.strom.close();
  }
  const second = await startStrom({ dataDir, 'tls.selfSigned': true, 'rtmp.enabled': false });
  try {
    assert.equal(spkiHash(readFileSync(certFile, 'utf8')), spki, 'the same key after a restart');
    assert.equal((await h2Get(second.url, '/healthz', readFileSync(certFile))).status, 200);
  } finally {
    await second.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a client that does not trust the certificate is refused', async () => {
  const s = await startStrom({ 'tls.selfSigned': true, 'rtmp.enabled': false });
  try {
    await assert.rejects(h2Get(s.url, '/healthz', Buffer.from('')), /self[- ]signed|unable to verify|certificate/i);
  } finally {
    await s.stop();
  }
});
