/**
 * The delivery origin over real HTTP/1.1 sockets: every rule of SPECS.md "HTTP delivery" —
 * types, validators, Cache-Control by kind, CORS, HEAD, ranges (single, suffix, open, multipart,
 * 416), If-Range, the RFC 9110 §13.2.2 precondition order, 304 contents, preflight, 405 — on two
 * servers over the same files: one serving from the in-memory cache, one with a tiny
 * `delivery.maxObjectBytes` so every object streams from disk in small chunks. Both must give the
 * file's exact bytes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { parseByteranges, request, startStrom, tempDir, type FullResponse, type Running } from '../helpers/http-client.js';

const ID = 'a1';
const ORIGIN = 'https://player.example';
const dataDir = tempDir('http');
const assetDir = path.join(dataDir, 'assets', ID);
let cached: Running;
let streamed: Running;

const file = (rel: string) => readFileSync(path.join(assetDir, rel));

before(async () => {
  await makeFixtureAsset({ dataDir, id: ID, seconds: 2 });
  writeFileSync(path.join(assetDir, 'subs.vtt'), 'WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n');
  writeFileSync(path.join(assetDir, 'manifest.mpd'), '<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011"/>\n');
  writeFileSync(path.join(assetDir, 'audio.m4a'), Buffer.alloc(300, 7));
  writeFileSync(path.join(assetDir, 'live.flv'), Buffer.from('FLV\x01\x05\0\0\0\x09'));
  writeFileSync(path.join(assetDir, 'notes.txt'), 'internal notes\n');
  writeFileSync(path.join(assetDir, 'state.json'), '{"secret":true}\n');
  writeFileSync(path.join(assetDir, 'empty.m4s'), '');
  mkdirSync(path.join(assetDir, 'dir.mp4'));
  cached = await startStrom({ dataDir });
  streamed = await startStrom({ dataDir, 'delivery.maxObjectBytes': '16KB', 'delivery.streamChunkBytes': 4096, 'delivery.corsOrigin': ORIGIN });
});

after(async () => {
  await cached?.stop();
  await streamed?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const servers = () => [
  { name: 'cached', s: cached },
  { name: 'streamed', s: streamed },
];

/** Headers that describe the message rather than the object (differ between any two responses). */
const PER_MESSAGE = new Set(['date', 'connection', 'keep-alive']);
function objectHeaders(r: FullResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (!PER_MESSAGE.has(k)) out[k] = String(v);
  return out;
}

describe('200 responses', () => {
  const types: Array<[string, string, string]> = [
    ['master.m3u8', 'application/vnd.apple.mpegurl', 'public, max-age=3600'],
    ['v360/index.m3u8', 'application/vnd.apple.mpegurl', 'public, max-age=3600'],
    ['v360/init_0.mp4', 'video/mp4', 'public, max-age=31536000, immutable'],
    ['v360/seg_00000.m4s', 'video/iso.segment', 'public, max-age=31536000, immutable'],
    ['v240/seg_00001.m4s', 'video/iso.segment', 'public, max-age=31536000, immutable'],
    ['download.mp4', 'video/mp4', 'public, max-age=31536000, immutable'],
    ['audio.m4a', 'audio/mp4', 'public, max-age=31536000, immutable'],
    ['manifest.mpd', 'application/dash+xml', 'public, max-age=3600'],
    ['subs.vtt', 'text/vtt', 'public, max-age=86400'],
    ['live.flv', 'video/x-flv', 'public, max-age=86400'],
    ['poster.jpg', 'image/jpeg', 'public, max-age=86400'],
  ];
  for (const [rel, type, cacheControl] of types) {
    test(`${rel}: exact bytes, ${type}, validators, Cache-Control, CORS`, async () => {
      const want = file(rel);
      const st = statSync(path.join(assetDir, rel));
      for (const { name, s } of servers()) {
        const r = await request(`${s.url}/v/${ID}/${rel}`, { headers: { origin: ORIGIN } });
        assert.equal(r.status, 200, name);
        assert.ok(r.body.equals(want), `${name}: body equals the file`);
        assert.equal(r.headers['content-length'], String(want.length), name);
        assert.equal(String(r.headers['content-type']).split(';')[0], type, name);
        assert.match(String(r.headers.etag), /^"[^"]+"$/, `${name}: strong ETag`);
        assert.equal(r.headers['last-modified'], new Date(Math.floor(st.mtimeMs / 1000) * 1000).toUTCString(), name);
        assert.equal(r.headers['cache-control'], cacheControl, name);
        assert.equal(r.headers['accept-ranges'], 'bytes', name);
        assert.equal(r.headers['transfer-encoding'], undefined, `${name}: length known up front`);
        const expose = String(r.headers['access-control-expose-headers']).split(/\s*,\s*/).map((h) => h.toLowerCase());
        for (const h of ['content-range', 'content-length', 'age', 'etag']) assert.ok(expose.includes(h), `${name}: exposes ${h}`);
      }
    });
  }

  test('CORS: "*" by default, a configured origin adds Vary: Origin', async () => {
    const a = await request(`${cached.url}/v/${ID}/master.m3u8`);
    assert.equal(a.headers['access-control-allow-origin'], '*');
    const b = await request(`${streamed.url}/v/${ID}/master.m3u8`);
    assert.equal(b.headers['access-control-allow-origin'], ORIGIN);
    assert.match(String(b.headers.vary), /\bOrigin\b/);
  });

  test('ETags differ between objects and are stable across requests and servers', async () => {
    const a = await request(`${cached.url}/v/${ID}/v360/seg_00000.m4s`);
    const b = await request(`${cached.url}/v/${ID}/v360/seg_00001.m4s`);
    const c = await request(`${streamed.url}/v/${ID}/v360/seg_00000.m4s`);
    const d = await request(`${cached.url}/v/${ID}/v360/seg_00000.m4s`);
    assert.notEqual(a.headers.etag, b.headers.etag);
    assert.equal(a.headers.etag, c.headers.etag);
    assert.equal(a.headers.etag, d.headers.etag);
  });

  test('an empty object is a 200 with Content-Length 0', async () => {
    for (const { name, s } of servers()) {
      const r = await request(`${s.url}/v/${ID}/empty.m4s`);
      assert.equal(r.status, 200, name);
      assert.equal(r.headers['content-length'], '0', name);
      assert.equal(r.body.length, 0, name);
    }
  });
});

describe('HEAD', () => {
  for (const rel of ['master.m3u8', 'v360/seg_00000.m4s', 'download.mp4']) {
    test(`HEAD ${rel} has the GET headers and no body`, async () => {
      for (const { name, s } of servers()) {
        const get = await request(`${s.url}/v/${ID}/${rel}`);
        const head = await request(`${s.url}/v/${ID}/${rel}`, { method: 'HEAD' });
        assert.equal(head.status, 200, name);
        assert.equal(head.body.length, 0, name);
        assert.deepEqual(objectHeaders(head), objectHeaders(get), name);
      }
    });
  }

  test('Range is ignored on HEAD (SPECS: Range only applies to GET)', async () => {
    for (const { name, s } of servers()) {
      const r = await request(`${s.url}/v/${ID}/download.mp4`, { method: 'HEAD', headers: { range: 'bytes=0-9' } });
      assert.equal(r.status, 200, name);
      assert.equal(r.headers['content-range'], undefined, name);
      assert.equal(r.headers['content-length'], String(file('download.mp4').length), name);
    }
  });
});

describe('ranges', () => {
  const rels = ['v360/init_0.mp4', 'v360/seg_00000.m4s', 'download.mp4'];

  test('single, suffix and open ranges → 206 with Content-Range and the exact bytes', async () => {
    for (const rel of rels) {
      const want = file(rel);
      const n = want.length;
      const cases: Array<[string, number, number]> = [
        ['bytes=0-0', 0, 0],
        ['bytes=0-99', 0, 99],
        ['bytes=100-1099', 100, 1099],
        [`bytes=${n - 10}-${n + 5000}`, n - 10, n - 1],
        ['bytes=-500', n - 500, n - 1],
        [`bytes=-${n + 100}`, 0, n - 1],
        [`bytes=${n - 700}-`, n - 700, n - 1],
        ['bytes=0-', 0, n - 1],
      ];
      for (const { name, s } of servers()) {
        for (const [range, start, end] of cases) {
          const r = await request(`${s.url}/v/${ID}/${rel}`, { headers: { range } });
          const what = `${name} ${rel} ${range}`;
          assert.equal(r.status, 206, what);
          assert.equal(r.headers['content-range'], `bytes ${start}-${end}/${n}`, what);
          assert.equal(r.headers['content-length'], String(end - start + 1), what);
          assert.ok(r.body.equals(want.subarray(start, end + 1)), `${what}: bytes`);
          assert.ok(r.headers.etag, `${what}: 206 keeps ETag`);
          assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable', what);
        }
      }
    }
  });

  test('several ranges → multipart/byteranges whose parts match the file', async () => {
    for (const rel of rels) {
      const want = file(rel);
      const n = want.length;
      const spec: Array<[number, number]> = [[n - 100, n - 1], [0, 9], [200, 299]];
      for (const { name, s } of servers()) {
        const r = await request(`${s.url}/v/${ID}/${rel}`, { headers: { range: `bytes=${n - 100}-,0-9,200-299` } });
        const what = `${name} ${rel}`;
        assert.equal(r.status, 206, what);
        assert.equal(r.headers['content-range'], undefined, `${what}: no top-level Content-Range on multipart`);
        assert.equal(Number(r.headers['content-length']), r.body.length, what);
        const parts = parseByteranges(String(r.headers['content-type']), r.body);
        assert.equal(parts.length, 3, what);
        parts.forEach((p, i) => {
          assert.deepEqual([p.start, p.end, p.total], [...spec[i]!, n], `${what} part ${i}`);
          assert.equal(p.contentType.split(';')[0], rel.endsWith('.m4s') ? 'video/iso.segment' : 'video/mp4');
          assert.ok(p.body.equals(want.subarray(p.start, p.end + 1)), `${what} part ${i} bytes`);
        });
      }
    }
  });

  test('overlapping ranges are coalesced; one resulting range is never multipart', async () => {
    const want = file('download.mp4');
    for (const { name, s } of servers()) {
      const r = await request(`${s.url}/v/${ID}/download.mp4`, { headers: { range: 'bytes=0-99,50-199,100-149' } });
      assert.equal(r.status, 206, name);
      assert.equal(r.headers['content-range'], `bytes 0-199/${want.length}`, name);
      assert.ok(!String(r.headers['content-type']).startsWith('multipart/'), name);
      assert.ok(r.body.equals(want.subarray(0, 200)), name);
    }
  });

  test('unsatisfiable → 416 with Content-Range: bytes */len and no body', async () => {
    for (const rel of rels) {
      const n = file(rel).length;
      for (const { name, s } of servers()) {
        for (const range of [`bytes=${n}-`, `bytes=${n + 10}-${n + 20}`, 'bytes=-0', `bytes=${n}-,${n + 1}-${n + 9}`]) {
          const r = await request(`${s.url}/v/${ID}/${rel}`, { headers: { range } });
          const what = `${name} ${rel} ${range}`;
          assert.equal(r.status, 416, what);
          assert.equal(r.headers['content-range'], `bytes */${n}`, what);
          assert.equal(r.body.length, 0, what);
          // an error for one Range value must not be stored by caches for the URL
          assert.equal(r.headers['cache-control'], 'no-store', what);
        }
      }
    }
  });

  test('an unparseable Range or another unit is ignored → 200 full', async () => {
    const want = file('v360/seg_00000.m4s');
    for (const { name, s } of servers()) {
      for (const range of ['bytes=abc', 'bytes=5-2', 'items=0-5', 'bytes', 'bytes=0-1;2-3']) {
        const r = await request(`${s.url}/v/${ID}/v360/seg_00000.m4s`, { headers: { range } });
        assert.equal(r.status, 200, `${name} ${range}`);
        assert.ok(r.body.equals(want), `${name} ${range}`);
      }
    }
  });

  test('more than 32 ranges → 200 full', async () => {
    const want = file('download.mp4');
    const many = `bytes=${Array.from({ length: 33 }, (_, i) => `${i * 100}-${i * 100 + 9}`).join(',')}`;
    for (const { name, s } of servers()) {
      const r = await request(`${s.url}/v/${ID}/download.mp4`, { headers: { range: many } });
      assert.equal(r.status, 200, name);
      assert.ok(r.body.equals(want), name);
    }
  });

  test('If-Range: strong ETag or exact date → 206; mismatch, weak tag or other date → 200', async () => {
    const want = file('download.mp4');
    for (const { name, s } of servers()) {
      const url = `${s.url}/v/${ID}/download.mp4`;
      const { headers } = await request(url, { method: 'HEAD' });
      const etag = String(headers.etag);
      const lm = String(headers['last-modified']);
      const later = new Date(Date.parse(lm) + 1000).toUTCString();
      for (const [ifRange, status] of [[etag, 206], [lm, 206], ['"nope"', 200], [`W/${etag}`, 200], [later, 200]] as const) {
        const r = await request(url, { headers: { range: 'bytes=10-19', 'if-range': ifRange } });
        assert.equal(r.status, status, `${name} If-Range ${ifRange}`);
        assert.ok(r.body.equals(status === 206 ? want.subarray(10, 20) : want), `${name} If-Range ${ifRange} body`);
      }
    }
  });
});

describe('preconditions (RFC 9110 §13.2.2 order)', () => {
  test('the whole order over the wire', async () => {
    for (const { name, s } of servers()) {
      for (const rel of ['v360/seg_00000.m4s', 'download.mp4']) {
        const url = `${s.url}/v/${ID}/${rel}`;
        const want = file(rel);
        const { headers } = await request(url, { method: 'HEAD' });
        const etag = String(headers.etag);
        const lm = Date.parse(String(headers['last-modified']));
        const before = new Date(lm - 60_000).toUTCString();
        const later = new Date(lm + 60_000).toUTCString();
        const cases: Array<[Record<string, string>, number, string]> = [
          [{ 'if-match': etag }, 200, 'If-Match matches'],
          [{ 'if-match': '*' }, 200, 'If-Match *'],
          [{ 'if-match': '"other"' }, 412, 'If-Match fails'],
          [{ 'if-match': `W/${etag}` }, 412, 'If-Match is strong'],
          [{ 'if-match': '"other"', 'if-none-match': etag }, 412, 'If-Match before If-None-Match'],
          [{ 'if-match': etag, 'if-unmodified-since': before }, 200, 'If-Unmodified-Since ignored with If-Match'],
          [{ 'if-unmodified-since': before }, 412, 'If-Unmodified-Since fails'],
          [{ 'if-unmodified-since': later }, 200, 'If-Unmodified-Since passes'],
          [{ 'if-unmodified-since': before, 'if-none-match': etag }, 412, 'If-Unmodified-Since before If-None-Match'],
          [{ 'if-none-match': etag }, 304, 'If-None-Match matches'],
          [{ 'if-none-match': `"x", W/${etag}` }, 304, 'If-None-Match weak comparison in a list'],
          [{ 'if-none-match': '"other"', 'if-modified-since': later }, 200, 'If-None-Match present: If-Modified-Since ignored'],
          [{ 'if-modified-since': later }, 304, 'If-Modified-Since not modified'],
          [{ 'if-modified-since': before }, 200, 'If-Modified-Since modified'],
          [{ 'if-none-match': etag, range: 'bytes=0-9' }, 304, 'If-None-Match before Range'],
          [{ 'if-match': '"other"', range: 'bytes=0-9' }, 412, 'If-Match before Range'],
          [{ 'if-match': etag, range: 'bytes=0-9' }, 206, 'Range after passing preconditions'],
        ];
        for (const [h, status, why] of cases) {
          const r = await request(url, { headers: h });
          const what = `${name} ${rel}: ${why}`;
          assert.equal(r.status, status, what);
          if (status === 200) assert.ok(r.body.equals(want), what);
          if (status === 412) {
            assert.equal(r.body.length, 0, what);
            assert.equal(r.headers['cache-control'], 'no-store', `${what}: a failed precondition is not cacheable`);
          }
        }
      }
    }
  });

  test('304 keeps ETag, Cache-Control, CORS, Vary and Date, and has no body', async () => {
    for (const { name, s } of servers()) {
      const url = `${s.url}/v/${ID}/v360/seg_00001.m4s`;
      const full = await request(url, { headers: { origin: ORIGIN } });
      const conditions: Array<Record<string, string>> = [{ 'if-none-match': String(full.headers.etag) }, { 'if-modified-since': String(full.headers['last-modified']) }];
      for (const h of conditions) {
        const r = await request(url, { headers: { ...h, origin: ORIGIN } });
        assert.equal(r.status, 304, name);
        assert.equal(r.body.length, 0, name);
        assert.equal(r.headers.etag, full.headers.etag, name);
        assert.equal(r.headers['cache-control'], full.headers['cache-control'], name);
        assert.equal(r.headers['access-control-allow-origin'], full.headers['access-control-allow-origin'], name);
        assert.equal(r.headers['access-control-expose-headers'], full.headers['access-control-expose-headers'], name);
        assert.equal(r.headers.vary, full.headers.vary, name);
        assert.ok(r.headers.date, name);
        assert.equal(r.headers['transfer-encoding'], undefined, name);
      }
    }
  });

  test('HEAD with a matching If-None-Match is 304', async () => {
    const { headers } = await request(`${cached.url}/v/${ID}/master.m3u8`, { method: 'HEAD' });
    const r = await request(`${cached.url}/v/${ID}/master.m3u8`, { method: 'HEAD', headers: { 'if-none-match': String(headers.etag) } });
    assert.equal(r.status, 304);
  });
});

describe('methods, CORS preflight and errors', () => {
  test('OPTIONS preflight allows GET/HEAD/OPTIONS and the Range and CMCD-* request headers', async () => {
    for (const { name, s } of servers()) {
      const r = await request(`${s.url}/v/${ID}/master.m3u8`, {
        method: 'OPTIONS',
        headers: { origin: ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'range, cmcd-request' },
      });
      assert.ok(r.status === 204 || r.status === 200, name);
      assert.equal(r.body.length, 0, name);
      const methods = String(r.headers['access-control-allow-methods']).split(/\s*,\s*/);
      assert.deepEqual([...methods].sort(), ['GET', 'HEAD', 'OPTIONS'], name);
      const allowed = String(r.headers['access-control-allow-headers']).split(/\s*,\s*/).map((h) => h.toLowerCase());
      for (const h of ['range', 'if-range', 'cmcd-object', 'cmcd-request', 'cmcd-session', 'cmcd-status']) assert.ok(allowed.includes(h), `${name}: allows ${h}`);
      assert.ok(r.headers['access-control-allow-origin'], name);
      assert.ok(Number(r.headers['access-control-max-age']) > 0, name);
    }
  });

  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    test(`${method} → 405 with Allow`, async () => {
      const r = await request(`${cached.url}/v/${ID}/master.m3u8`, { method, body: method === 'DELETE' ? undefined : 'x' });
      assert.equal(r.status, 405);
      assert.deepEqual(String(r.headers.allow).split(/\s*,\s*/).sort(), ['GET', 'HEAD', 'OPTIONS']);
      assert.equal(JSON.parse(r.body.toString()).error.code, 'METHOD_NOT_ALLOWED');
    });
  }

  test('unknown extensions, directories and missing objects are 404 even when the file exists', async () => {
    for (const rel of ['notes.txt', 'state.json', 'dir.mp4', 'nothing.m4s', 'v360/seg_99999.m4s', 'v360']) {
      const r = await request(`${cached.url}/v/${ID}/${rel}`);
      assert.equal(r.status, 404, rel);
      assert.equal(r.headers['cache-control'], 'no-store', rel);
      assert.ok(!r.body.toString().includes('internal notes') && !r.body.toString().includes('secret'), rel);
      assert.equal(JSON.parse(r.body.toString()).error.code, 'OBJECT_NOT_FOUND', rel);
    }
    const missing = await request(`${cached.url}/v/nope/master.m3u8`);
    assert.equal(missing.status, 404);
  });

  test('dot files are a 400', async () => {
    const r = await request(`${cached.url}/v/${ID}/.fixture`);
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.body.toString()).error.code, 'BAD_PATH');
  });

  test('a query string does not change which object is served', async () => {
    const r = await request(`${cached.url}/v/${ID}/master.m3u8?token=abc&CMCD=sid%3D%22x%22`);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(file('master.m3u8')));
  });
});

describe('repeated requests', () => {
  test('cache hits and misses give identical bytes for many concurrent requests', async () => {
    const rel = 'v240/seg_00000.m4s';
    const want = file(rel);
    for (const { name, s } of servers()) {
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => request(`${s.url}/v/${ID}/${rel}`, { headers: i % 2 ? { range: `bytes=${i}-${i + 999}` } : {} })));
      rs.forEach((r, i) => assert.ok(r.body.equals(i % 2 ? want.subarray(i, i + 1000) : want), `${name} #${i}`));
    }
  });
});

describe('/api/v1/video/stream/:id alias', () => {
  test('GET streams download.mp4 with the delivery headers', async () => {
    const want = file('download.mp4');
    const r = await request(`${cached.url}/api/v1/video/stream/${ID}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'video/mp4');
    assert.equal(r.headers['accept-ranges'], 'bytes');
    assert.equal(r.headers['content-length'], String(want.length));
    assert.ok(r.body.equals(want));
  });

  test('Range → 206, suffix, multipart and 416', async () => {
    const want = file('download.mp4');
    const n = want.length;
    const a = await request(`${cached.url}/api/v1/video/stream/${ID}`, { headers: { range: 'bytes=1000-2999' } });
    assert.equal(a.status, 206);
    assert.equal(a.headers['content-range'], `bytes 1000-2999/${n}`);
    assert.ok(a.body.equals(want.subarray(1000, 3000)));
    const b = await request(`${cached.url}/api/v1/video/stream/${ID}`, { headers: { range: 'bytes=-1234' } });
    assert.equal(b.status, 206);
    assert.ok(b.body.equals(want.subarray(n - 1234)));
    const c = await request(`${cached.url}/api/v1/video/stream/${ID}`, { headers: { range: 'bytes=0-3,100-103' } });
    const parts = parseByteranges(String(c.headers['content-type']), c.body);
    assert.deepEqual(parts.map((p) => p.body), [want.subarray(0, 4), want.subarray(100, 104)]);
    const d = await request(`${cached.url}/api/v1/video/stream/${ID}`, { headers: { range: `bytes=${n}-` } });
    assert.equal(d.status, 416);
    assert.equal(d.headers['content-range'], `bytes */${n}`);
  });

  test('HEAD, conditional GET, bad and unknown ids', async () => {
    const head = await request(`${cached.url}/api/v1/video/stream/${ID}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    const c = await request(`${cached.url}/api/v1/video/stream/${ID}`, { headers: { 'if-none-match': String(head.headers.etag) } });
    assert.equal(c.status, 304);
    assert.equal((await request(`${cached.url}/api/v1/video/stream/a.b`)).status, 400);
    assert.equal((await request(`${cached.url}/api/v1/video/stream/missing`)).status, 404);
  });
});
