/**
 * The `strom` executable as an operator runs it (`node bin/strom.js`, compiled dist/): help and
 * version, start-up refusing bad settings with a message naming the setting, `/healthz`, and a
 * graceful SIGTERM — no new connections, the in-flight download completes in full, exit code 0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from '../helpers/http-client.js';
import { cleanEnv, ensureDist, refused } from '../helpers/strom-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin', 'strom.js');
const dataDir = tempDir('cli');
const BIG = 24 * 1024 * 1024; // well above delivery.maxObjectBytes (8 MB) and any socket buffer

/** Run the CLI to completion. */
function strom(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: cleanEnv(env), timeout: 30_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

before(async () => {
  await ensureDist(root);
  const asset = path.join(dataDir, 'assets', 'big');
  mkdirSync(asset, { recursive: true });
  const buf = Buffer.alloc(BIG);
  for (let i = 0; i < BIG; i += 4) buf.writeUInt32LE(i, i); // position-dependent content
  writeFileSync(path.join(asset, 'big.mp4'), buf);
});

after(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('strom --help / --version', () => {
  test('--help lists the serve command and exits 0', async () => {
    for (const flag of ['--help', '-h']) {
      const r = await strom([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Usage: strom <command>/);
      assert.match(r.stdout, /\bserve\b/);
    }
  });

  test('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    const r = await strom(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), version);
  });

  test('serve --help shows the serve usage', async () => {
    const r = await strom(['serve', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: strom serve/);
    assert.match(r.stdout, /--set key=value/);
  });

  test('an unknown command exits non-zero', async () => {
    const r = await strom(['frobnicate']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });
});

describe('strom serve refuses bad settings', () => {
  const cases: Array<{ why: string; args: string[]; env?: Record<string, string>; names: RegExp }> = [
    { why: 'STROM_PORT=abc', args: [], env: { STROM_PORT: 'abc' }, names: /\bport\b/ },
    { why: '--port abc', args: ['--port', 'abc'], names: /\bport\b/ },
    { why: '--set delivery.cacheBytes=lots', args: ['--port', '0', '--set', 'delivery.cacheBytes=lots'], names: /delivery\.cacheBytes/ },
    { why: 'unknown --set foo=1', args: ['--port', '0', '--set', 'foo=1'], names: /\bfoo\b.*unknown setting/ },
    { why: '--set without =', args: ['--port', '0', '--set', 'delivery.cacheBytes'], names: /--set expects key=value/ },
    { why: 'unknown flag', args: ['--port', '0', '--bogus'], names: /bogus/ },
    { why: 'tls.cert without tls.key', args: ['--port', '0', '--set', 'tls.cert=/nonexistent.pem'], names: /tls\.key/ },
    { why: 'unreadable config file', args: ['--port', '0', '--config', '/nonexistent/strom.json'], names: /\/nonexistent\/strom\.json/ },
  ];
  for (const c of cases) {
    test(c.why, async () => {
      // no --port here: flags outrank env, so it would hide STROM_PORT; cases that could
      // start by mistake set --port 0 themselves
      const r = await strom(['serve', '--data', dataDir, '--rtmp-port', '0', ...c.args], c.env);
      assert.notEqual(r.code, 0, `exit code ${r.code}`);
      assert.notEqual(r.code, null, 'the process must exit on its own, not hang serving');
      assert.match(r.stderr, c.names, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'a clean message, not a stack trace');
    });
  }
});

/** A `strom serve` child process and the URL it announced. */
interface Server {
  child: ChildProcess;
  url: string;
  port: number;
  exited: Promise<number | null>;
  stderr: () => string;
}

async function startServe(args: string[]): Promise<Server> {
  const child = spawn(process.execPath, [bin, 'serve', '--data', dataDir, '--port', '0', '--rtmp-port', '0', ...args], { env: cleanEnv({ STROM_LOG_LEVEL: 'info' }), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = /Strom listening on (http:\/\/[^"\s]+)/.exec(out);
      if (m) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => reject(new Error(`strom serve exited with ${code} before listening: ${err}`)));
  });
  return { child, url, port: Number(new URL(url).port), exited, stderr: () => err };
}

describe('strom serve', () => {
  test('GET /healthz is 200', async (t) => {
    const srv = await startServe([]);
    t.after(() => { srv.child.kill('SIGKILL'); });
    const r = await fetch(`${srv.url}/healthz`);
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { status: string }).status, 'ok');
    srv.child.kill('SIGTERM');
    assert.equal(await srv.exited, 0, srv.stderr());
  });

  for (const keepAlive of [false, true]) {
    test(`SIGTERM: refuses new connections, finishes the slow in-flight download, exits 0 (keep-alive ${keepAlive})`, async (t) => {
      // A long keep-alive timeout makes sure an idle keep-alive socket cannot hold the exit.
      const srv = await startServe(['--set', 'timeouts.shutdownMs=60s', '--set', 'timeouts.keepAliveMs=120s', '--set', 'timeouts.idleMs=120s']);
      t.after(() => { srv.child.kill('SIGKILL'); });
      const agent = new http.Agent({ keepAlive });
      t.after(() => agent.destroy());
      const want = createHash('sha256').update(readFileSync(path.join(dataDir, 'assets', 'big', 'big.mp4'))).digest('hex');

      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        http.get(`${srv.url}/v/big/big.mp4`, { agent }, resolve).on('error', reject);
      });
      assert.equal(res.statusCode, 200);
      assert.equal(Number(res.headers['content-length']), BIG);
      const hash = createHash('sha256');
      let received = 0;
      let ended = false;
      const done = new Promise<void>((resolve, reject) => {
        res.on('data', (c: Buffer) => { received += c.length; hash.update(c); });
        res.on('end', () => { ended = true; resolve(); });
        res.on('error', reject);
        res.on('aborted', () => reject(new Error(`download aborted after ${received} bytes`)));
      });
      res.pause(); // the slow reader: nothing consumed while the server shuts down

      srv.child.kill('SIGTERM');
      let isRefused = false;
      for (let i = 0; i < 100 && !isRefused; i++) {
        isRefused = await refused(srv.port);
        if (!isRefused) await sleep(50);
      }
      assert.ok(isRefused, 'new connections are still accepted after SIGTERM');
      assert.equal(ended, false, 'the download is still in flight');
      assert.ok(received < BIG, 'not everything was delivered before reading resumed');

      // read slowly: small bites with pauses, then the rest
      for (let i = 0; i < 5; i++) {
        res.resume();
        await sleep(20);
        res.pause();
        await sleep(100);
      }
      res.resume();
      await done;
      assert.equal(received, BIG, 'the whole object arrived');
      assert.equal(hash.digest('hex'), want, 'the bytes are the file');
      const code = await Promise.race([srv.exited, sleep(20_000).then(() => 'still running')]);
      assert.equal(code, 0, `exit code (stderr: ${srv.stderr()})`);
    });
  }
});
