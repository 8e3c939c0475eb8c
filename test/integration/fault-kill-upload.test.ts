/**
 * Fault: the server process is SIGKILLed in the middle of a tus upload (`strom serve` as an
 * operator runs it). After a restart on the same data directory, tus-js-client resumes from the
 * offset the server reports — the bytes written before the kill are kept — and the stored source is
 * byte-identical to what was sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tus from 'tus-js-client';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import { testConfig } from '../../src/config.js';
import { cleanEnv, ensureDist } from '../helpers/strom-process.js';
import { noise, sha256 } from '../helpers/upload-server.js';
import { until } from '../helpers/until.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** tus-js-client's Node build has FileUrlStorage, but its type declarations omit it. */
const FileUrlStorage = (tus as unknown as { FileUrlStorage: new (file: string) => tus.UrlStorage }).FileUrlStorage;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function serve(dataDir: string, port: number): ChildProcess {
  return spawn(process.execPath, [path.join(ROOT, 'bin/strom.js'), 'serve', '--data', dataDir, '--port', String(port), '--rtmp-port', '0',
    '--set', 'jobs.enabled=false', '--set', 'logLevel=warn'], { stdio: ['ignore', 'ignore', 'inherit'], env: cleanEnv() });
}

async function healthy(url: string): Promise<void> {
  await until(async () => (await fetch(`${url}/healthz`).catch(() => null))?.status === 200, 'the server answers /healthz', 60_000, 100);
}

test('SIGKILL mid-upload: after a restart tus-js-client resumes at the kept offset and the source is byte-identical', { timeout: 120_000 }, async (t) => {
  await ensureDist(ROOT);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-kill-upload-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let server = serve(dataDir, port);
  t.after(() => server.kill('SIGKILL'));
  await healthy(url);
  const cfg = testConfig({ dataDir });
  const token = await signApiToken(cfg, loadApiSecret(cfg), { scopes: ['videos:write'], ttlS: 600, sub: 'uploader' });
  const data = noise(8 * 1024 * 1024 + 777);
  const urls = new FileUrlStorage(path.join(dataDir, 'client-urls.json'));
  const opts: tus.UploadOptions = {
    endpoint: `${url}/api/v1/uploads`, chunkSize: 512 * 1024, retryDelays: [], headers: { Authorization: `Bearer ${token}` },
    metadata: { filename: 'kill.mp4', title: 'killed mid-upload' }, urlStorage: urls, storeFingerprintForResuming: true, removeFingerprintOnSuccess: true,
  };

  // First attempt: the server is killed once 3 MiB were accepted; the client's next PATCH fails.
  const killed = new Promise<number>((resolve) => {
    const up = new tus.Upload(data, {
      ...opts,
      onChunkComplete: (_size, accepted) => {
        if (accepted >= 3 * 1024 * 1024 && server.exitCode === null && server.signalCode === null) {
          server.kill('SIGKILL');
          resolve(accepted);
        }
      },
      onError: () => undefined, // expected: the server went away
      onSuccess: () => assert.fail('finished before the kill'),
    });
    up.start();
  });
  const accepted = await killed;
  await new Promise((r) => (server.exitCode !== null || server.signalCode !== null ? r(undefined) : server.once('exit', r)));

  server = serve(dataDir, port);
  await healthy(url);
  const previous = await new tus.Upload(data, opts).findPreviousUploads();
  assert.equal(previous.length, 1, 'the client kept the upload URL');
  const head = await fetch(previous[0]!.uploadUrl!, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0', authorization: `Bearer ${token}` } });
  assert.equal(head.status, 200);
  const offset = Number(head.headers.get('upload-offset'));
  assert.ok(offset >= accepted && offset < data.length, `bytes before the kill were kept: offset ${offset}, ${accepted} accepted`);

  const videoId = head.headers.get('strom-video-id')!;
  assert.match(videoId, /^v_/);
  await new Promise<void>((resolve, reject) => {
    const up = new tus.Upload(data, { ...opts, onError: reject, onSuccess: () => resolve() });
    up.resumeFromPreviousUpload(previous[0]!);
    up.start();
  });
  const source = path.join(dataDir, 'sources', videoId, 'source');
  await until(() => existsSync(source), 'the source is stored', 30_000, 100);
  assert.equal(sha256(source), sha256(data), 'the stored source is byte-identical');
});
