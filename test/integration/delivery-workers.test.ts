/**
 * Multi-process delivery: with `delivery.workers` 1 and 2 the main hands player
 * connections to worker processes round-robin (keeping its own share) and everything must look
 * like one server: exact bytes and headers for 200/206/304/HEAD on many keep-alive connections,
 * some of them provably served by workers (their request counts, asked over IPC); an API request
 * on a handed-off connection answered by the main (a bodyless one transparently, one with a body
 * 421 + close, then a retry on a new connection works); signed playback, key revocation and asset
 * deletion seen by the worker; `/metrics` summing every process; a SIGKILLed worker restarted; the
 * traversal corpus and the fd-leak check against worker connections; SIGTERM of a real `strom
 * serve` letting in-flight downloads on the main and on a worker finish, exit 0, no orphan.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { startStrom, tempDir, type Running } from '../helpers/http-client.js';
import { RawConn as Conn, type RawReply as Reply } from '../helpers/raw-http.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';

const ID = 'a1';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Poll `check` until it returns a truthy value (loaded machine: generous limits, no fixed sleeps). */
async function until<T>(what: string, check: () => T | Promise<T>, limitMs = 30_000): Promise<NonNullable<T>> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Requests served by workers so far (over IPC). */
async function workerRequests(s: Running): Promise<number> {
  return (await s.strom.deliveryWorkers!.stats()).reduce((n, w) => n + w.requests, 0);
}

/** The media request count of `/metrics` (2xx+3xx+4xx, every process). */
async function metricsMediaCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^strom_http_request_duration_seconds_count\{group="media",status="[^"]+"\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

const dataDir = tempDir('workers');
const assetDir = path.join(dataDir, 'assets', ID);
const file = (rel: string) => readFileSync(path.join(assetDir, rel));
const BIG = 12 * 1024 * 1024; // above delivery.maxObjectBytes (8 MB): streamed from disk

before(async () => {
  await makeFixtureAsset({ dataDir, id: ID, seconds: 2 });
  writeFileSync(path.join(assetDir, 'big.mp4'), Buffer.alloc(BIG, 5));
  writeFileSync(path.join(dataDir, 'secret.m4s'), 'TOP-SECRET-BYTES');
  symlinkSync(path.join(dataDir, 'secret.m4s'), path.join(assetDir, 'leak.m4s'));
});
after(() => rmSync(dataDir, { recursive: true, force: true }));

for (const workers of [1, 2]) {
  describe(`delivery.workers = ${workers}`, () => {
    let s: Running;
    before(async () => {
      s = await startStrom({ dataDir, 'delivery.workers': workers, 'rtmp.enabled': false });
      await until('workers ready', () => s.strom.deliveryWorkers!.readyCount() === workers);
    });
    after(async () => {
      await s?.stop();
    });

    test('many keep-alive connections get exact bytes for 200, 206, 304 and HEAD; workers and the main both serve', async () => {
      const conns = Array.from({ length: 4 * (workers + 1) }, () => new Conn(s.port));
      try {
        const master = file('master.m3u8');
        const seg = readdirSync(path.join(assetDir, 'v360')).find((f) => f.endsWith('.m4s'))!;
        const segBytes = file(`v360/${seg}`);
        const before = await workerRequests(s);
        const before2 = await metricsMediaCount(s.url);
        let sent = 0;
        for (let round = 0; round < 3; round++) {
          await Promise.all(conns.map(async (c) => {
            const r = await c.send('GET', `/v/${ID}/master.m3u8`);
            assert.equal(r.status, 200);
            assert.deepEqual(r.body, master);
            assert.equal(r.headers['content-type'], 'application/vnd.apple.mpegurl');
            assert.equal(r.headers['content-length'], String(master.length));
            assert.equal(r.headers.connection, 'keep-alive');
            assert.match(r.headers.date ?? '', /GMT$/);
            const etag = r.headers.etag!;
            const seg200 = await c.send('GET', `/v/${ID}/v360/${seg}`);
            assert.deepEqual(seg200.body, segBytes);
            const ranged = await c.send('GET', `/v/${ID}/v360/${seg}`, ['Range: bytes=10-99']);
            assert.equal(ranged.status, 206);
            assert.equal(ranged.headers['content-range'], `bytes 10-99/${segBytes.length}`);
            assert.deepEqual(ranged.body, segBytes.subarray(10, 100));
            const notModified = await c.send('GET', `/v/${ID}/master.m3u8`, [`If-None-Match: ${etag}`]);
            assert.equal(notModified.status, 304);
            const head = await c.send('HEAD', `/v/${ID}/v360/${seg}`);
            assert.equal(head.status, 200);
            assert.equal(head.headers['content-length'], String(segBytes.length));
            assert.equal(head.body.length, 0);
            const missing = await c.send('GET', `/v/${ID}/nope.m4s`);
            assert.equal(missing.status, 404);
            sent += 6;
          }));
        }
        const byWorkers = (await workerRequests(s)) - before;
        assert.ok(byWorkers > 0, 'workers served some requests');
        assert.ok(byWorkers < sent, `the main served its share too (${byWorkers} of ${sent} by workers)`);
        const perWorker = await s.strom.deliveryWorkers!.stats();
        assert.equal(perWorker.length, workers);
        for (const w of perWorker) assert.ok(w.requests > 0, `worker ${w.index} (pid ${w.pid}) served requests`);
        assert.equal((await metricsMediaCount(s.url)) - before2, sent, '/metrics counts every process');
      } finally {
        for (const c of conns) c.close();
      }
    });

    test('an API request on a handed-off connection: bodyless goes back to the main, with a body 421 + close, retry works', async () => {
      const conns = Array.from({ length: 2 * (workers + 1) }, () => new Conn(s.port));
      try {
        const onWorker: Conn[] = [];
        for (const c of conns) {
          const n0 = await workerRequests(s);
          assert.equal((await c.send('GET', `/v/${ID}/master.m3u8`)).status, 200);
          if ((await workerRequests(s)) > n0) onWorker.push(c);
        }
        assert.ok(onWorker.length > 0 && onWorker.length < conns.length);
        for (const c of onWorker) {
          const health = await c.send('GET', '/healthz');
          assert.equal(health.status, 200);
          assert.equal(JSON.parse(health.body.toString()).status, 'ok');
          // the connection now belongs to the main; delivery still works on it
          assert.deepEqual((await c.send('GET', `/v/${ID}/master.m3u8`)).body, file('master.m3u8'));
        }
        const fresh = onWorker.length;
        const others = Array.from({ length: 2 * (workers + 1) }, () => new Conn(s.port));
        conns.push(...others);
        let misdirected = 0;
        for (const c of others) {
          const n0 = await workerRequests(s);
          await c.send('GET', `/v/${ID}/master.m3u8`);
          const worker = (await workerRequests(s)) > n0;
          const r = await c.send('POST', '/api/v1/signing-keys', [], '{}');
          if (worker) {
            misdirected++;
            assert.equal(r.status, 421);
            assert.equal(r.headers.connection, 'close');
            assert.equal(JSON.parse(r.body.toString()).error.code, 'MISDIRECTED_REQUEST');
            await until('connection closed after 421', () => c.closed, 10_000);
            const retry = new Conn(s.port);
            conns.push(retry);
            assert.equal((await retry.send('POST', '/api/v1/signing-keys', [], '{}')).status, 401, 'the main answers the retry');
          } else {
            assert.equal(r.status, 401, 'the main answers API requests on its own connections');
          }
        }
        assert.ok(fresh > 0 && misdirected > 0);
      } finally {
        for (const c of conns) c.close();
      }
    });

    test('/metrics shows the workers and the handed-off connections', async () => {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      assert.match(text, new RegExp(`^strom_delivery_workers ${workers}$`, 'm'));
      assert.match(text, /^strom_delivery_connections_handed_off_total [1-9]\d*$/m);
      assert.match(text, /^strom_hot_cache_hits_total [1-9]\d*$/m);
    });
  });
}

/** Everything a connection receives until it is quiet for `quietMs` (or closes). */
function exchange(port: number, chunks: Array<string | Buffer>, quietMs = 400, gapMs = 150): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let closed = false;
    let timer: NodeJS.Timeout | null = null;
    const finish = () => {
      sock.destroy();
      resolve({ data: Buffer.concat(got), closed });
    };
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(finish, quietMs);
    };
    sock.on('data', (d: Buffer) => {
      got.push(d);
      arm();
    });
    sock.on('close', () => {
      closed = true;
      if (timer) clearTimeout(timer);
      resolve({ data: Buffer.concat(got), closed });
    });
    sock.on('error', () => undefined);
    sock.on('connect', async () => {
      for (let i = 0; i < chunks.length; i++) {
        if (i > 0) await sleep(gapMs);
        sock.write(chunks[i]!);
      }
      arm();
    });
  });
}

/** Raw response bytes with the Date value blanked (the only field allowed to differ). */
const undated = (b: Buffer) => b.toString('latin1').replace(/\r\nDate: [^\r]+/g, '\r\nDate: -');

describe('the lean HTTP/1.1 path answers exactly like node:http', () => {
  let single: Running;
  let multi: Running;
  let tiny: Running;
  before(async () => {
    single = await startStrom({ dataDir, 'rtmp.enabled': false });
    multi = await startStrom({ dataDir, 'delivery.workers': 1, 'rtmp.enabled': false });
    tiny = await startStrom({ dataDir, 'delivery.workers': 1, 'rtmp.enabled': false, 'delivery.cacheBytes': '64KB' });
    await until('workers ready', () => multi.strom.deliveryWorkers!.readyCount() === 1 && tiny.strom.deliveryWorkers!.readyCount() === 1);
  });
  after(async () => {
    await single?.stop();
    await multi?.stop();
    await tiny?.stop();
  });

  const seg = () => readdirSync(path.join(assetDir, 'v360')).find((f) => f.endsWith('.m4s'))!;
  const req = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: t\r\n${extra}\r\n`;

  test('byte-identical responses (but Date) on fresh and reused connections, both processes', async () => {
    const variants = [
      [req(`/v/${ID}/v360/index.m3u8`)],
      [req(`/v/${ID}/v360/${seg()}`)],
      [`HEAD /v/${ID}/v360/${seg()} HTTP/1.1\r\nHost: x\r\n\r\n`],
      [req(`/v/${ID}/v360/index.m3u8`) + req(`/v/${ID}/v360/${seg()}`) + req(`/v/${ID}/poster.jpg`)], // pipelined
      [req(`/v/${ID}/v360/index.m3u8`) + req(`/v/${ID}/v360/${seg()}`, 'Range: bytes=0-9\r\n') + req(`/v/${ID}/v360/index.m3u8`)], // node:http takes over mid-buffer
      [req(`/v/${ID}/v360/index.m3u8`).slice(0, 30), req(`/v/${ID}/v360/index.m3u8`).slice(30)], // head split over two reads
      [req(`/v/${ID}/v360/index.m3u8`, 'Connection: close\r\n')],
      [`GET /v/${ID}/v360/index.m3u8 HTTP/1.0\r\n\r\n`],
      [`GET /v/${ID}/v360/index.m3u8 HTTP/1.1\r\n\r\n`], // no Host: 400
      [`GET /v/${ID}/v360/index.m3u8 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`],
      [req(`/v/${ID}/v360/index.m3u8?x=1`)],
      [req(`/v/${ID}/missing.m4s`)],
      [req(`/v/${ID}/leak.m4s`)],
      [req(`/v/${ID}/v360/index.m3u8`, 'If-None-Match: *\r\n')],
      [req(`/v/${ID}/v360/index.m3u8`, 'Transfer-Encoding: chunked\r\n') + '0\r\n\r\n'],
      // field-line edge cases: answered by the lean path only when node:http would answer the same
      [`GET /v/${ID}/v360/index.m3u8 HTTP/1.1\r\nhost: x\r\nconnection: KEEP-ALIVE\r\nTest: 1\r\nTea: 2\r\n\r\n`],
      [req(`/v/${ID}/v360/index.m3u8`, 'Connection: keep-alive, Upgrade\r\n')],
      [req(`/v/${ID}/v360/index.m3u8`, 'X-Folded: a\r\n b\r\n')], // obs-fold
      [req(`/v/${ID}/v360/index.m3u8`, 'Bad Name: x\r\n')],
      [req(`/v/${ID}/v360/index.m3u8`, 'CMCD-Request: bl=1000\r\n')],
      [req(`/v/${ID}/v360/${seg()}`) + req(`/v/${ID}/v360/index.m3u8`, 'If-None-Match: *\r\n') + req(`/v/${ID}/v360/${seg()}`)], // conditional between two plain ones
    ];
    for (const chunks of variants) {
      const want = await exchange(single.port, chunks);
      assert.ok(want.data.length > 0, `reference answered ${JSON.stringify(chunks[0]!.slice(0, 60))}`);
      for (let i = 0; i < 2; i++) {
        // two fresh connections: one served by the main's lean path, one by the worker's
        const got = await exchange(multi.port, chunks);
        assert.equal(undated(got.data), undated(want.data), `${JSON.stringify(chunks.join('').slice(0, 80))} (connection ${i})`);
        assert.equal(got.closed, want.closed, `close after ${JSON.stringify(chunks[0]!.slice(0, 60))}`);
      }
    }
  });

  test('uncached misses (cache 64 KB: not admitted, pooled buffers) keep exact bytes under concurrency', async () => {
    const segs = readdirSync(path.join(assetDir, 'v360')).filter((f) => f.endsWith('.m4s') || f.endsWith('.mp4'));
    const conns = Array.from({ length: 8 }, () => new Conn(tiny.port));
    try {
      for (let round = 0; round < 4; round++) {
        await Promise.all(conns.map(async (c, i) => {
          const rel = `v360/${segs[(i + round) % segs.length]}`;
          const r = await c.send('GET', `/v/${ID}/${rel}`);
          assert.equal(r.status, 200);
          assert.deepEqual(r.body, file(rel), rel);
        }));
      }
    } finally {
      for (const c of conns) c.close();
    }
  });
});

describe('workers: guard state, crashes, safety', () => {
  let s: Running;
  let admin: string;
  before(async () => {
    s = await startStrom({ dataDir, 'delivery.workers': 1, 'rtmp.enabled': false });
    await until('worker ready', () => s.strom.deliveryWorkers!.readyCount() === 1);
    admin = await signApiToken(s.strom.config, loadApiSecret(s.strom.config), { scopes: ['admin'], ttlS: 600 });
  });
  after(async () => {
    await s?.stop();
  });

  /** A connection whose first request a worker served. */
  async function workerConn(first: string): Promise<{ c: Conn; r: Reply }> {
    for (let i = 0; i < 6; i++) {
      const c = new Conn(s.port);
      const n0 = await workerRequests(s);
      const r = await c.send('GET', first);
      if ((await workerRequests(s)) > n0) return { c, r };
      c.close();
    }
    throw new Error('no connection reached the worker');
  }

  test('signed playback in a worker: valid token 200, bad token 403, key revocation and deletion seen within seconds', async () => {
    const { store } = s.strom.control;
    const sv = await store.videos.create({ visibility: 'signed' });
    const dir = path.join(dataDir, 'assets', sv.id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'master.m3u8'), '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000\nv1/index.m3u8\n');
    writeFileSync(path.join(dir, 'seg_00001.m4s'), Buffer.alloc(256, 2));
    const key = (await (await fetch(`${s.url}/api/v1/signing-keys`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } })).json()) as { kid: string };
    const tr = await fetch(`${s.url}/api/v1/videos/${sv.id}/playback-token`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(tr.status, 200);
    const { token } = (await tr.json()) as { token: string };

    const { c, r } = await workerConn(`/s/${token}/${sv.id}/seg_00001.m4s`);
    try {
      assert.equal(r.status, 200, 'valid token on a worker');
      assert.equal(r.body.length, 256);
      assert.equal((await c.send('GET', `/v/${sv.id}/seg_00001.m4s`)).status, 403, 'signed asset without a token');
      const bad = await c.send('GET', `/s/${token.slice(0, -3)}xyz/${sv.id}/seg_00001.m4s`);
      assert.equal(bad.status, 403);
      assert.equal(JSON.parse(bad.body.toString()).error.code, 'PLAYBACK_DENIED');
      assert.equal((await fetch(`${s.url}/api/v1/signing-keys/${key.kid}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } })).status, 200);
      const w = await workerConn(`/v/${ID}/master.m3u8`);
      try {
        await until('revocation reaches the worker', async () => (await w.c.send('GET', `/s/${token}/${sv.id}/seg_00001.m4s`)).status === 403, 5_000);
      } finally {
        w.c.close();
      }
    } finally {
      c.close();
    }

    // An asset the worker has cached, then deleted through the API: 404 from the worker.
    const pub = await store.videos.create();
    const pdir = path.join(dataDir, 'assets', pub.id);
    mkdirSync(pdir, { recursive: true });
    writeFileSync(path.join(pdir, 'master.m3u8'), '#EXTM3U\n');
    const w = await workerConn(`/v/${pub.id}/master.m3u8`);
    try {
      assert.equal(w.r.status, 200);
      assert.equal((await fetch(`${s.url}/api/v1/videos/${pub.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } })).status, 204);
      await until('deletion reaches the worker', async () => (await w.c.send('GET', `/v/${pub.id}/master.m3u8`)).status === 404, 5_000);
    } finally {
      w.c.close();
    }
  });

  test('the traversal corpus through worker connections: 400/404 and never a secret byte', async () => {
    const corpus = [
      `/v/${ID}/../../secret.m4s`, '/v/../../etc/passwd', `/v/${ID}/%2e%2e/%2e%2e/secret.m4s`, `/v/${ID}/..%2f..%2fsecret.m4s`,
      `/v/${ID}/..\\..\\secret.m4s`, `/v/${ID}/master.m3u8%00.txt`, `/v/${ID}/.fixture`, `/v/${ID}/./x/../../../secret.m4s`,
      `/v/${ID}//../../secret.m4s`, '/v//etc/passwd', `/v/${ID}/master.m3u8/..`, `/v/${ID}/leak.m4s`, `/v/${ID}/secret.m4s`,
      `/v/${'x'.repeat(65)}/master.m3u8`, `/v/${ID}/${'a/'.repeat(300)}x.m4s`, '/v/evil/secret.m4s',
    ];
    const n0 = await workerRequests(s);
    for (const target of corpus) {
      for (let i = 0; i < 2; i++) {
        // two fresh connections per target: round-robin puts one of them on the worker
        const c = new Conn(s.port);
        try {
          const r = await c.send('GET', target).catch(() => null);
          if (r === null) continue; // the parser refused the request line and closed: nothing leaked
          assert.ok(r.status === 400 || r.status === 404, `${target}: ${r.status}`);
          assert.ok(!r.body.includes('TOP-SECRET'), `${target}: leaked the secret`);
          assert.ok(!/root:[^:]*:0:0:/.test(r.body.toString('latin1')), `${target}: leaked /etc/passwd`);
        } finally {
          c.close();
        }
      }
    }
    assert.ok((await workerRequests(s)) - n0 >= corpus.length / 2, 'the worker answered its share of the corpus');
  });

  test('aborted streamed downloads on worker connections leave the worker fd count at its baseline', async () => {
    const pid = s.strom.deliveryWorkers!.pids()[0]!;
    const fds = () => readdirSync(`/proc/${pid}/fd`).length;
    const baseline = fds();
    for (let i = 0; i < 100; i++) {
      await new Promise<void>((resolve) => {
        const sock = net.connect(s.port, '127.0.0.1', () => sock.write(`GET /v/${ID}/big.mp4 HTTP/1.1\r\nHost: x\r\n\r\n`));
        sock.once('data', () => {
          sock.destroy();
          resolve();
        });
        sock.on('error', () => resolve());
      });
    }
    await until(`worker fd count back to ${baseline}`, () => fds() <= baseline + 3, 20_000);
  });

  test('a SIGKILLed worker is restarted and serves again', async () => {
    const dw = s.strom.deliveryWorkers!;
    const old = dw.pids()[0]!;
    process.kill(old, 'SIGKILL');
    await until('a new worker', () => dw.readyCount() === 1 && dw.pids()[0] !== old);
    assert.match(await (await fetch(`${s.url}/metrics`)).text(), /^strom_delivery_worker_restarts_total 1$/m);
    const { r } = await workerConn(`/v/${ID}/master.m3u8`);
    assert.deepEqual(r.body, file('master.m3u8'));
  });
});

describe('shutdown after a worker that held handed-off sockets has exited', () => {
  // Node's net.Server#close waits for every child it sent sockets to; when all of them had exited
  // it waited forever (ownConnectionsOnly). Before the fix this close() never settled.
  test('a crashed worker, restarted, does not hold up close()', async () => {
    const s = await startStrom({ dataDir, 'delivery.workers': 1, 'rtmp.enabled': false });
    const dw = s.strom.deliveryWorkers!;
    await until('worker ready', () => dw.readyCount() === 1);
    // Hand at least one connection to the worker (round-robin with the main).
    for (let i = 0; i < 4; i++) {
      const c = new Conn(s.port);
      assert.equal((await c.send('GET', `/v/${ID}/master.m3u8`)).status, 200);
      c.close();
    }
    assert.ok((await workerRequests(s)) > 0, 'the worker served a handed-off connection');
    const old = dw.pids()[0]!;
    process.kill(old, 'SIGKILL');
    await until('a new worker', () => dw.readyCount() === 1 && dw.pids()[0] !== old);
    const closed = await Promise.race([s.stop().then(() => true), sleep(15_000).then(() => false)]);
    assert.ok(closed, 'close() settled within 15 s');
  });

  // net.Server#close, once sockets had gone to a worker, emitted 'close' as soon as the worker
  // reported them closed, with the main's own responses still being written: Fastify's close and
  // close() resolved, and `strom serve` exited and cut the main's download (ownConnectionsOnly).
  test("close() waits for the main's own download after the worker's has finished", async () => {
    const s = await startStrom({ dataDir, 'delivery.workers': 1, 'rtmp.enabled': false });
    const dw = s.strom.deliveryWorkers!;
    await until('worker ready', () => dw.readyCount() === 1);
    const handedOff = async () => Number(/^strom_delivery_connections_handed_off_total (\d+)$/m.exec(await (await fetch(`${s.url}/metrics`)).text())?.[1] ?? 0);
    const get = () => new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(`${s.url}/v/${ID}/big.mp4`, { agent: false }, resolve).on('error', reject);
    });
    const n0 = await handedOff();
    const first = await get();
    const firstOnWorker = (await handedOff()) > n0;
    const second = await get();
    assert.equal(await handedOff(), n0 + 1, 'one download on the worker, one on the main');
    const [onWorker, onMain] = firstOnWorker ? [first, second] : [second, first];
    const read = (res: http.IncomingMessage) => new Promise<number>((resolve, reject) => {
      let n = 0;
      res.on('data', (d: Buffer) => (n += d.length));
      res.on('end', () => resolve(n));
      res.on('error', reject);
    });
    onMain.pause();
    let settled = false;
    const closed = s.stop().then(() => (settled = true));
    assert.equal(await read(onWorker), BIG);
    await until('worker exited', () => dw.pids().length === 0, 10_000);
    await sleep(300);
    assert.equal(settled, false, "close() has not resolved while the main's download is unfinished");
    const got = read(onMain);
    onMain.resume();
    assert.equal(await got, BIG);
    await closed;
  });
});

describe('strom serve with workers (a real process)', () => {
  /**
   * Pids whose parent is `ppid`; with `cmd`, only those whose command line contains it (the main
   * also runs short-lived children of its own, such as the readiness `ffmpeg -version` a /metrics
   * scrape may start).
   */
  function children(ppid: number, cmd?: string): number[] {
    const out: number[] = [];
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== ppid) continue;
        if (cmd === undefined || readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(cmd)) out.push(Number(d));
      } catch {
        /* exited meanwhile */
      }
    }
    return out;
  }

  test('SIGTERM: slow downloads on the main and on a worker both finish, exit 0, no orphan worker', async (t) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts'), 'serve', '--host', '127.0.0.1', '--port', '0', '--data', dataDir,
      '--set', 'rtmp.enabled=false', '--set', 'delivery.workers=1', '--set', 'timeouts.shutdownMs=60s', '--set', 'logLevel=info'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    t.after(() => {
      child.kill('SIGKILL');
      for (const p of children(child.pid!)) process.kill(p, 'SIGKILL');
    });
    const url = await until('listening', () => /"url":"(http:\/\/[^"]+)"/.exec(out)?.[1], 60_000);
    await until('worker ready', async () => /^strom_delivery_workers 1$/m.test(await (await fetch(`${url}/metrics`)).text()), 60_000);
    const workerPids = children(child.pid!, 'worker-main.');
    assert.equal(workerPids.length, 1, 'one delivery worker');

    const want = createHash('sha256').update(Buffer.alloc(BIG, 5)).digest('hex');
    const downloads = await Promise.all([0, 1].map(() => new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(`${url}/v/${ID}/big.mp4`, { agent: false }, resolve).on('error', reject);
    })));
    const done = downloads.map((res) => {
      assert.equal(res.statusCode, 200);
      res.pause();
      const hash = createHash('sha256');
      let n = 0;
      res.on('data', (d: Buffer) => {
        n += d.length;
        hash.update(d);
      });
      return new Promise<string>((resolve, reject) => {
        res.on('end', () => resolve(n === BIG ? hash.digest('hex') : `short ${n}`));
        res.on('error', reject);
      });
    });
    assert.match(await (await fetch(`${url}/metrics`)).text(), /^strom_delivery_connections_handed_off_total 1$/m, 'one download is on the worker');
    child.kill('SIGTERM');
    await sleep(300);
    for (const res of downloads) res.resume();
    assert.deepEqual(await Promise.all(done), [want, want]);
    assert.equal(await exited, 0, out.slice(-2000));
    await until('worker exited', () => !existsSync(`/proc/${workerPids[0]}`) || readFileSync(`/proc/${workerPids[0]}/stat`, 'utf8').includes(') Z '), 10_000);
  });
});
