/**
 * Key and license endpoints with `delivery.workers` 2: player connections handed to worker
 * processes get the same AES-128 key bytes and ClearKey licenses as the main (the workers derive
 * them from the secret the main hands over), a license POST on a worker's keep-alive connection is
 * answered there (not 421: workers hand back only bodyless requests), and a signed video's key is refused without a token on every process.
 * The assets are minimal: the endpoints only read the scheme from the first media playlist.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startStrom, type Running } from '../helpers/http-client.js';
import { ContentKeys, CONTENT_KEY_SECRET } from '../../src/vod/protection/content-keys.js';

const AES = 'v_protWorkersAes';
const CENC = 'v_protWorkersCen';
const SIGNED = 'v_protWorkersSig';
let s: Running;
let keys: ContentKeys;

function asset(id: string, keyLine: string): void {
  const dir = path.join(s.dataDir, 'assets', id);
  mkdirSync(path.join(dir, 'v'), { recursive: true });
  writeFileSync(path.join(dir, 'master.m3u8'), '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nv/index.m3u8\n');
  writeFileSync(path.join(dir, 'v', 'index.m3u8'), `#EXTM3U\n#EXT-X-TARGETDURATION:2\n${keyLine}\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2,\nseg_00000.m4s\n#EXT-X-ENDLIST\n`);
}

/** One request, on a fresh connection unless `agent` keeps one (the router hands some connections to workers). */
function request(method: string, p: string, body?: string, agent: http.Agent | false = false): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${s.url}${p}`, { method, agent, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

before(async () => {
  s = await startStrom({ 'rtmp.enabled': false, 'delivery.workers': 2, 'rateLimit.media.perMinute': 0 });
  keys = new ContentKeys(await s.strom.control.store.serverSecrets.getOrCreate(CONTENT_KEY_SECRET));
  asset(AES, '#EXT-X-KEY:METHOD=AES-128,URI="../keys/0.key",IV=0x00000000000000000000000000000000');
  asset(SIGNED, '#EXT-X-KEY:METHOD=AES-128,URI="../keys/0.key",IV=0x00000000000000000000000000000000');
  asset(CENC, '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;base64,AAAAAAAAAAAAAAAAAAAAAA==",KEYFORMAT="org.w3.clearkey"');
  await s.strom.control.store.videos.create({ id: SIGNED, visibility: 'signed', protection: 'aes-128', status: 'ready' });
  const deadline = Date.now() + 30_000;
  while (s.strom.deliveryWorkers!.readyCount() < 2) {
    if (Date.now() > deadline) throw new Error('workers did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
});

after(async () => {
  await s?.stop();
});

test('every process serves the same derived key, private and uncacheable; workers answer some', async () => {
  const before = (await s.strom.deliveryWorkers!.stats()).reduce((n, w) => n + w.requests, 0);
  for (let i = 0; i < 12; i++) {
    const r = await request('GET', `/v/${AES}/keys/${i % 3}.key`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['cache-control'], 'private, no-store');
    assert.deepEqual(r.body, keys.aesKey(AES, i % 3));
  }
  const after = (await s.strom.deliveryWorkers!.stats()).reduce((n, w) => n + w.requests, 0);
  assert.ok(after > before, 'some key requests were served by workers');
});

test('licenses from every process; a signed video\'s key is refused without a token everywhere', async () => {
  const c = keys.cenc(CENC);
  for (let i = 0; i < 8; i++) {
    // A GET first, so the connection may be a worker's; the license POST follows on it.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal((await request('GET', `/v/${AES}/keys/0.key`, undefined, agent)).status, 200);
    const r = await request('POST', `/v/${CENC}/license`, JSON.stringify({ kids: [c.kid.toString('base64url')], type: 'temporary' }), agent);
    agent.destroy();
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(JSON.parse(r.body.toString()), { keys: [{ kty: 'oct', k: c.key.toString('base64url'), kid: c.kid.toString('base64url') }], type: 'temporary' });
    assert.equal((await request('GET', `/v/${SIGNED}/keys/0.key`)).status, 403);
  }
  assert.equal((await request('GET', `/v/${AES}/keys/100001.key`)).status, 404);
  assert.equal((await request('POST', `/v/${AES}/license`, '{"kids":["AAAAAAAAAAAAAAAAAAAAAA"]}')).status, 404, 'an aes-128 video has no license');
});

test('/metrics counts key and license answers of every process', async () => {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const value = (labels: string) => Number(new RegExp(`^strom_content_key_requests_total\\{${labels}\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  assert.equal(value('endpoint="key",outcome="ok"'), 12 + 8);
  assert.equal(value('endpoint="license",outcome="ok"'), 8);
  assert.equal(value('endpoint="key",outcome="refused"'), 1, 'the out-of-range index (403s are refused by the guard, before the endpoint)');
  assert.equal(value('endpoint="license",outcome="refused"'), 1);
});
