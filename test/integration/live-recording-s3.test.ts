/**
 * Live recording → VOD with object storage: a record=true stream published to a node whose media
 * storage is a bucket (a private s3rver through the real AWS SDK) becomes a ready video whose asset
 * is in the bucket — published atomically (manifests last, no staging objects left) — and nowhere
 * on the node's disk; the node serves its VOD playlist and segments from the bucket. (The
 * synthetic publisher's frames are not decodable, so thumbnails are covered by vod-s3.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { testConfig } from '../../src/config.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { startApi } from '../helpers/api-server.js';
import { sendFrames, syntheticPublisher } from '../helpers/live-fixtures.js';
import { parseM3u8 } from '../helpers/vod-parsers.js';
import { startS3 } from '../helpers/s3.js';

const s3 = await startS3();
const bucket = new S3Storage(testConfig(s3.settings('rec/')).storage.s3);
process.once('exit', () => bucket.close());

test('a recording is published into the bucket and played from it', async (t) => {
  const api = await startApi(t, { ...s3.settings('rec/'), 'rtmp.enabled': true, 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500 });
  const token = await api.token(['admin']);
  const created = await api.call('POST', '/api/v1/live-streams', { token, json: { title: 'Bucket show', record: true } });
  assert.equal(created.status, 201);
  const stream = (await created.json()) as { streamKey: string };

  const ready = new Promise<string>((resolve) => {
    const off = api.strom.bus.subscribe((e) => {
      if (e.type !== 'video.ready') return;
      off();
      resolve((e.data as { videoId: string }).videoId);
    });
  });
  const pub = await syntheticPublisher(api.strom.live.rtmp.port()!, stream.streamKey);
  sendFrames(pub, 0, 0);
  for (let i = 0; i < 200 && api.strom.live.llhls.size === 0; i++) await sleep(10);
  sendFrames(pub, 1, 49);
  pub.destroy();
  const videoId = await ready;

  const keys = (await bucket.list(`assets/${videoId}/`)).map((e) => e.key.slice(`assets/${videoId}/`.length));
  for (const k of ['master.m3u8', 'index.m3u8', 'manifest.mpd', 'init.mp4']) assert.ok(keys.includes(k), `${k} in ${keys.join(', ')}`);
  assert.ok(keys.some((k) => k.endsWith('.m4s')));
  assert.ok(!keys.some((k) => k.endsWith('.jsonl') || k === 'recording.json'), 'no journal files published');
  assert.deepEqual(await bucket.list('staging/'), []);
  const tmp = path.join(api.dataDir, 'tmp');
  assert.deepEqual(existsSync(tmp) ? readdirSync(tmp).filter((f) => f.startsWith('rec-')) : [], [], 'the recording directory is gone');
  assert.equal(existsSync(path.join(api.dataDir, 'assets', videoId)), false, 'nothing under the node\'s assets/');

  const media = parseM3u8(await (await fetch(`${api.url}/v/${videoId}/index.m3u8`)).text());
  assert.equal(media.endList, true);
  const segs = media.segments ?? [];
  assert.ok(segs.length >= 4, `${segs.length} segments`);
  for (const s of segs.slice(0, 2)) {
    const r = await fetch(`${api.url}/v/${videoId}/${s.uri}`);
    assert.equal(r.status, 200);
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), await bucket.readAll(`assets/${videoId}/${s.uri}`));
  }
});
