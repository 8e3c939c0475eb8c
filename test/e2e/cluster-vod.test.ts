/**
 * A VOD asset's whole life on a three-node cluster, each node a real `strom serve` process with its
 * own data directory, sharing a private PostgreSQL, Redis and S3 server (s3rver, through the AWS
 * SDK): tus-js-client starts the upload on node 1, aborts, and resumes it on node 2; nodes 1 and 2
 * run no jobs (`jobs.concurrency=0`), so node 3 transcodes; SSE on node 2 shows progress; node 3
 * is SIGKILLed mid-transcode and a fresh node 4 finishes the job once node 3's lease expires; SSE
 * on node 2 shows `video.ready`, and a client resuming on node 1 with `Last-Event-ID` receives
 * exactly the events node 2 showed after that id, in order; hls.js in Chromium plays the asset
 * from node 1, which never had a file of it. One asset, one job row, nothing left in staging.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import * as tus from 'tus-js-client';
import { resolveConfig } from '../../src/config.js';
import { signApiToken } from '../../src/auth/api-auth.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { testConfig } from '../../src/config.js';
import { launchBrowser, playInBrowser } from '../helpers/browser.js';
import { startPostgres } from '../helpers/postgres.js';
import { startRedis } from '../helpers/redis.js';
import { startS3 } from '../helpers/s3.js';
import { startNode, type NodeProcess } from '../helpers/node-processes.js';

const JWT = 'cluster-e2e-api-secret-0123456789';

interface SseEvent {
  id: string;
  type: string;
  data: { videoId?: string; percent?: number };
}

/** Read server-sent events from `url` into `into` until `stop(e)` is true; resolves with that event. */
async function readEvents(url: string, token: string, into: SseEvent[], stop: (e: SseEvent) => boolean, lastEventId?: string): Promise<SseEvent> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  const res = await fetch(`${url}/api/v1/events`, { headers });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`SSE from ${url} ended early`);
    buf += dec.decode(value, { stream: true });
    let cut: number;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const id = /^id: (.*)$/m.exec(frame)?.[1];
      const type = /^event: (.*)$/m.exec(frame)?.[1];
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      if (id === undefined || type === undefined || data === undefined) continue;
      const e = { id, type, data: JSON.parse(data) as SseEvent['data'] };
      into.push(e);
      if (stop(e)) {
        await reader.cancel();
        return e;
      }
    }
  }
}

test('cluster VOD: upload across nodes, transcode survives a SIGKILLed node, SSE resumes elsewhere, plays from a third node', { timeout: 420_000 }, async (t) => {
  const work = mkdtempSync(path.join(tmpdir(), 'strom-cluster-e2e-'));
  const pgServer = await startPostgres();
  const redis = await startRedis();
  const s3 = await startS3();
  const storeUrl = await pgServer.createDatabase();
  const nodes: NodeProcess[] = [];
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    for (const n of nodes) await n.kill();
    await pgServer.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const common = {
    ...s3.settings('e2e/'),
    'store.url': storeUrl,
    'cluster.redisUrl': redis.url,
    'cluster.secret': 'cluster-e2e-secret-0123456789',
    'auth.jwtSecret': JWT,
    'vod.ladder': '360:600,240:300',
    'vod.preset': 'ultrafast',
    'vod.segmentSeconds': 2,
    'jobs.pollMs': 100,
    'jobs.leaseMs': 2000,
    'storage.s3.partBytes': '5MB',
  };
  const start = async (name: string, concurrency: number) => {
    const n = await startNode(name, { ...common, 'cluster.nodeId': name, 'jobs.concurrency': concurrency });
    nodes.push(n);
    return n;
  };
  const [n1, n2, n3] = [await start('node1', 0), await start('node2', 0), await start('node3', 1)];
  const token = await signApiToken(resolveConfig({ 'auth.jwtSecret': JWT }), new TextEncoder().encode(JWT), { scopes: ['videos:read', 'videos:write'], ttlS: 3600, sub: 'e2e' });

  // A 40 s clip: long enough that node 3 is still transcoding when it is killed.
  const clip = path.join(work, 'clip.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30:duration=40',
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=40', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '1500k', '-c:a', 'aac', clip]);
  const data = readFileSync(clip);

  // SSE on node 2 from the start.
  const onNode2: SseEvent[] = [];
  let videoId = '';
  let onProgress: () => void = () => undefined;
  const progressed = new Promise<void>((resolve) => (onProgress = resolve));
  const ready = readEvents(n2.url, token, onNode2, (e) => {
    if (videoId !== '' && e.data.videoId === videoId && e.type === 'video.progress' && (e.data.percent ?? 0) > 0) onProgress();
    return videoId !== '' && e.data.videoId === videoId && (e.type === 'video.ready' || e.type === 'video.errored');
  });

  // tus: begin on node 1, abort after the first chunk, resume on node 2.
  const opts: tus.UploadOptions = { chunkSize: 2 * 1024 * 1024, retryDelays: [], headers: { Authorization: `Bearer ${token}` }, metadata: { filename: 'clip.mp4', title: 'Cluster clip' } };
  const uploadUrl = await new Promise<string>((resolve, reject) => {
    const up: tus.Upload = new tus.Upload(data, {
      ...opts,
      endpoint: `${n1.url}/api/v1/uploads`,
      onAfterResponse: (_req, res) => {
        const id = res.getHeader('Strom-Video-Id');
        if (id) videoId = id;
      },
      onChunkComplete: () => void up.abort().then(() => resolve(up.url!)),
      onError: reject,
      onSuccess: () => reject(new Error('finished before the abort')),
    });
    up.start();
  });
  assert.match(videoId, /^v_/);
  const onNode2Url = `${n2.url}${new URL(uploadUrl).pathname}`;
  await new Promise<void>((resolve, reject) => {
    new tus.Upload(data, { ...opts, uploadUrl: onNode2Url, onError: reject, onSuccess: () => resolve() }).start();
  });

  // Node 3 transcodes (the only node that runs jobs); kill it once it reports progress.
  await progressed;
  await n3.kill();
  nodes.splice(nodes.indexOf(n3), 1);
  const n4 = await start('node4', 1);

  const last = await ready;
  assert.equal(last.type, 'video.ready', `the job finished on node 4: ${JSON.stringify(onNode2.filter((e) => e.data.videoId === videoId).map((e) => e.type))}`);
  const mine = onNode2.filter((e) => e.data.videoId === videoId);
  assert.ok(mine.some((e) => e.type === 'video.progress'), 'node 2 showed progress of a job that ran on nodes 3 and 4');

  // Last-Event-ID on another node: the events after the first progress event, in the same order.
  const firstProgress = mine.find((e) => e.type === 'video.progress')!;
  const expected = onNode2.slice(onNode2.indexOf(firstProgress) + 1);
  const resumed: SseEvent[] = [];
  await readEvents(n1.url, token, resumed, (e) => e.id === last.id, firstProgress.id);
  assert.deepEqual(resumed.map((e) => [e.id, e.type]), expected.map((e) => [e.id, e.type]), 'node 1 replays exactly what followed on node 2');

  // One asset, one job row, nothing left in staging.
  const db = new pg.Client({ connectionString: storeUrl });
  await db.connect();
  const jobs = await db.query('select state, attempts from jobs where video_id = $1', [videoId]);
  const video = await db.query('select status from videos where id = $1', [videoId]);
  await db.end();
  assert.equal(jobs.rows.length, 1, 'one job row');
  assert.equal(jobs.rows[0].state, 'done');
  assert.ok(Number(jobs.rows[0].attempts) >= 2, 'leased again after node 3 died');
  assert.equal(video.rows[0].status, 'ready');
  const bucket = new S3Storage(testConfig(s3.settings('e2e/')).storage.s3);
  t.after(() => bucket.close());
  assert.deepEqual(await bucket.list('staging/'), [], 'no staged leftovers');
  assert.ok((await bucket.list(`assets/${videoId}/`)).some((k) => k.key.endsWith('master.m3u8')), 'published in the bucket');

  // hls.js plays it from node 1, which never held a file of it.
  const play = await playInBrowser(browser, { player: 'hls', src: `${n1.url}/v/${videoId}/master.m3u8`, untilEnded: true, timeoutMs: 120_000 });
  assert.deepEqual(play.errors.filter((e) => e.endsWith('/fatal')), [], 'no fatal player error');
  assert.ok(play.currentTime > 39, `played to the end (${play.currentTime} s)`);
  void n4;
});
