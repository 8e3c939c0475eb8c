/**
 * The whole VOD path with real clients: tus-js-client uploads a generated clip, the job queue
 * transcodes it with real ffmpeg, SSE reports progress until ready, and hls.js and dash.js in
 * Chromium play the result to the end. Also `strom ingest --json` on the command line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tus from 'tus-js-client';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import { launchBrowser, playInBrowser } from '../helpers/browser.js';

const ROOT = new URL('../../', import.meta.url).pathname;

function makeClip(dir: string): string {
  const file = path.join(dir, 'clip.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30:duration=5',
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=5', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', file]);
  return file;
}

test('tus upload → transcode → SSE progress → hls.js and dash.js play to the end', { timeout: 240_000 }, async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-e2e-vod-'));
  const strom = await buildStrom(testConfig({ dataDir, 'rtmp.port': 0, 'vod.ladder': '360:600,240:300', 'vod.preset': 'ultrafast', 'vod.segmentSeconds': 2, 'jobs.pollMs': 100 }));
  const { url } = await strom.listen();
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await strom.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const token = await signApiToken(strom.config, loadApiSecret(strom.config), { scopes: ['videos:read', 'videos:write'], ttlS: 600, sub: 'e2e' });
  const clip = makeClip(dataDir);

  // SSE subscriber: the progress stream a web page would read.
  const sse = await fetch(`${url}/api/v1/events`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(sse.status, 200);
  const seen: string[] = [];
  let videoId = '';
  const ready = (async () => {
    const reader = sse.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('SSE ended early');
      buf += dec.decode(value, { stream: true });
      for (const m of buf.matchAll(/event: (\S+)\ndata: (.*)\n/g)) {
        const data = JSON.parse(m[2]!) as { videoId?: string; code?: string };
        if (videoId && data.videoId === videoId && !seen.includes(m[1]!)) seen.push(m[1]!);
        if (videoId && data.videoId === videoId && (m[1] === 'video.ready' || m[1] === 'video.errored')) {
          await reader.cancel();
          return m[1];
        }
      }
      buf = buf.slice(buf.lastIndexOf('\n\n') + 2);
    }
  })();

  const bytes = readFileSync(clip);
  await new Promise<void>((resolve, reject) => {
    const upload = new tus.Upload(bytes, {
      endpoint: `${url}/api/v1/uploads`,
      headers: { Authorization: `Bearer ${token}` },
      metadata: { filename: 'clip.mp4', title: 'e2e clip' },
      chunkSize: 128 * 1024,
      onAfterResponse: (_req, res) => {
        const id = res.getHeader('Strom-Video-Id');
        if (id) videoId = id;
      },
      onError: reject,
      onSuccess: () => resolve(),
    });
    upload.start();
  });
  assert.match(videoId, /^v_/);
  assert.equal(await ready, 'video.ready');
  assert.ok(seen.includes('video.progress'), `progress events seen: ${seen.join(', ')}`);
  assert.ok(seen.includes('video.playable'), 'playable announced before ready');

  const res = await fetch(`${url}/api/v1/videos/${videoId}`, { headers: { authorization: `Bearer ${token}` } });
  const video = (await res.json()) as { status: string; playback: { hls: string; dash: string; mp4: string; poster: string }; durationS: number };
  assert.equal(video.status, 'ready');
  assert.ok(Math.abs(video.durationS - 5) < 0.5, `duration ${video.durationS}`);
  for (const p of [video.playback.mp4, video.playback.poster]) assert.equal((await fetch(url + p)).status, 200, p);

  // A thumbnail at a requested time: rendered once (then from memory), refused past the end or without a token.
  const thumbUrl = `${url}/api/v1/videos/${videoId}/thumbnail?time=2.5&width=160`;
  const thumb = await fetch(thumbUrl, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(thumb.status, 200);
  assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
  const jpeg = Buffer.from(await thumb.arrayBuffer());
  assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8], 'a JPEG');
  const probe = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=width', '-of', 'csv=p=0', '-i', 'pipe:0'], { input: jpeg, encoding: 'utf8' });
  assert.equal(probe.trim(), '160');
  const again = Buffer.from(await (await fetch(thumbUrl, { headers: { authorization: `Bearer ${token}` } })).arrayBuffer());
  assert.ok(again.equals(jpeg), 'the same render');
  assert.equal(existsSync(path.join(dataDir, 'assets', videoId, 'thumbs')), false, 'nothing written to disk');
  assert.equal((await fetch(`${url}/api/v1/videos/${videoId}/thumbnail?time=99&width=160`, { headers: { authorization: `Bearer ${token}` } })).status, 400);
  assert.equal((await fetch(thumbUrl)).status, 401);

  const hls = await playInBrowser(browser, { player: 'hls', src: url + video.playback.hls, untilEnded: true, timeoutMs: 60_000 });
  assert.deepEqual(hls.errors.filter((e) => e.includes('fatal')), []);
  assert.equal(hls.ended, true, `hls.js reached ${hls.currentTime} s`);
  const dash = await playInBrowser(browser, { player: 'dash', src: url + video.playback.dash, untilEnded: true, timeoutMs: 60_000 });
  assert.deepEqual(dash.errors, []);
  assert.equal(dash.ended, true, `dash.js reached ${dash.currentTime} s`);
});

test('strom ingest --json prints the ready video resource; a bad file exits 1', { timeout: 120_000 }, async (t) => {
  if (!existsSync(path.join(ROOT, 'dist/main.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-ingest-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const clip = makeClip(dataDir);
  const args = ['--data', dataDir, '--set', 'vod.ladder=360:600', '--set', 'vod.preset=ultrafast'];
  const out = execFileSync(process.execPath, [path.join(ROOT, 'bin/strom.js'), 'ingest', clip, '--title', 'CLI', '--json', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const v = JSON.parse(out) as { id: string; status: string; title: string; playback: Record<string, string> };
  assert.equal(v.status, 'ready');
  assert.equal(v.title, 'CLI');
  assert.deepEqual(v.playback, { hls: `/v/${v.id}/master.m3u8`, dash: `/v/${v.id}/manifest.mpd`, mp4: `/v/${v.id}/download.mp4`, poster: `/v/${v.id}/poster.jpg` });
  assert.ok(existsSync(path.join(dataDir, 'assets', v.id, 'master.m3u8')));

  const bad = path.join(dataDir, 'bad.mp4');
  execFileSync('sh', ['-c', `head -c 5000 /dev/urandom > ${bad}`]);
  let code = 0;
  let stdout = '';
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'bin/strom.js'), 'ingest', bad, '--json', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    code = (err as { status: number }).status;
    stdout = (err as { stdout: string }).stdout;
  }
  assert.equal(code, 1);
  const errored = JSON.parse(stdout) as { status: string; error: { code: string } };
  assert.equal(errored.status, 'errored');
  assert.match(errored.error.code, /^MEDIA_/);
});
