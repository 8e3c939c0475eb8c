/**
 * Live thumbnails with real ffmpeg publishing over RTMP: `GET /live/<id>/thumbnail.jpg` is a JPEG
 * of the latest keyframe at most `live.thumbnailWidth` wide, rendered once per interval however
 * many requests arrive (concurrent ones share the ffmpeg run), served from cache within the
 * interval with a stable ETag (304 on If-None-Match), 404 before the stream is live and after it
 * ended (its cache entry dropped), and guarded like the other live outputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fail, isStromError } from '../../src/errors.js';
import { keyframeAnnexB } from '../../src/live/thumbnail/live-thumbnails.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { ffmpegPublish, run, startLive, waitUntil } from '../helpers/live-fixtures.js';

const INTERVAL_MS = 2000;

async function probe(jpeg: Buffer): Promise<{ codec_name: string; width: number; height: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-thumb-'));
  try {
    const file = path.join(dir, 't.jpg');
    writeFileSync(file, jpeg);
    const { code, stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', file]).done;
    assert.equal(code, 0);
    return (JSON.parse(stdout) as { streams: Array<{ codec_name: string; width: number; height: number }> }).streams[0]!;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function renders(url: string, result: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^strom_live_thumbnail_renders_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

test('live thumbnail: one render per interval, cached with ETag, 404 when not live, guarded', async (t) => {
  const h = await startLive({ 'live.thumbnailIntervalMs': INTERVAL_MS, 'live.thumbnailWidth': 160 });
  const pub = ffmpegPublish(h.rtmpPort, 'secret', 30);
  t.after(async () => {
    pub.child.kill('SIGKILL');
    await h.close();
  });
  const url = `${h.httpUrl}/live/cam1/thumbnail.jpg`;
  const thumbs = h.strom.live.thumbnails;

  // Unknown stream: typed 404, never cached.
  const unknown = await fetch(`${h.httpUrl}/live/nope/thumbnail.jpg`);
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'LIVE_STREAM_NOT_FOUND');
  assert.equal(unknown.headers.get('cache-control'), 'no-store');

  await waitUntil(() => h.strom.live.registry.active('cam1')?.latestKeyframe() != null, 'a keyframe arrived', 15_000);

  // Concurrent requests share one ffmpeg run.
  const many = await Promise.all(Array.from({ length: 6 }, () => fetch(url)));
  const bodies = await Promise.all(many.map(async (r) => Buffer.from(await r.arrayBuffer())));
  for (const r of many) {
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'image/jpeg');
    assert.equal(r.headers.get('cache-control'), `public, max-age=${INTERVAL_MS / 1000}`);
  }
  const etag = many[0]!.headers.get('etag');
  assert.match(etag ?? '', /^"[A-Za-z0-9_-]+"$/);
  for (const r of many) assert.equal(r.headers.get('etag'), etag);
  assert.equal(thumbs.stats.renders, 1, 'one ffmpeg run for six concurrent requests');
  assert.equal(await renders(h.httpUrl, 'ok'), 1);
  const info = await probe(bodies[0]!);
  assert.equal(info.codec_name, 'mjpeg');
  assert.equal(info.width, 160, 'capped at live.thumbnailWidth');
  assert.equal(info.height, 120, 'aspect ratio kept (320x240 source)');

  // Within the interval: the cached JPEG, same ETag; If-None-Match → 304.
  const again = await fetch(url);
  assert.equal(again.status, 200);
  assert.equal(again.headers.get('etag'), etag);
  assert.ok(Buffer.from(await again.arrayBuffer()).equals(bodies[0]!));
  const notModified = await fetch(url, { headers: { 'If-None-Match': etag! } });
  assert.equal(notModified.status, 304);
  assert.equal(thumbs.stats.renders, 1, 'served from cache');

  // After the interval (ffmpeg sends a keyframe every second): a new render.
  await sleep(INTERVAL_MS + 100);
  const later = await fetch(url);
  assert.equal(later.status, 200);
  await later.arrayBuffer();
  assert.equal(thumbs.stats.renders, 2);
  assert.equal(thumbs.stats.failures, 0);

  // Signed streams: the playback guard runs first.
  h.strom.live.setPlaybackGuard((req, streamId) => {
    if (!new URL(req.url ?? '/', 'http://x').searchParams.has('token')) throw fail('PLAYBACK_DENIED', streamId, 'token required');
  });
  const denied = await fetch(url);
  assert.equal(denied.status, 403);
  assert.equal(denied.headers.get('cache-control'), 'no-store');
  await denied.arrayBuffer();
  const allowed = await fetch(`${url}?token=abc`);
  assert.equal(allowed.status, 200);
  await allowed.arrayBuffer();
  h.strom.live.setPlaybackGuard(null);

  // Stream ended: 404 and the cache entry is gone.
  assert.equal(thumbs.size, 1);
  const stopped = h.strom.live.events.next('publish.stop', (e) => e.streamId === 'cam1');
  pub.child.kill('SIGKILL');
  await stopped;
  assert.equal(thumbs.size, 0, 'cache entry dropped when the stream ended');
  const ended = await fetch(url);
  assert.equal(ended.status, 404);
  assert.equal(((await ended.json()) as { error: { code: string } }).error.code, 'LIVE_STREAM_NOT_FOUND');
});

test('keyframeAnnexB: AVC parameter sets then the keyframe with start codes; other codecs → 415', () => {
  const sps = Buffer.from([0x67, 0x64, 0, 0x1f]);
  const pps = Buffer.from([0x68, 0xee]);
  const record = Buffer.concat([Buffer.from([1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, sps.length]), sps, Buffer.from([1, 0, pps.length]), pps]);
  const idr = Buffer.from([0x65, 1, 2, 3]);
  const unit = (codec: MediaUnit['codec'], payload: Buffer): MediaUnit => ({ kind: 'video', codec, dts: 0, pts: 0, keyframe: true, config: false, payload, body: payload });
  const out = keyframeAnnexB('cam1', unit('avc', Buffer.concat([Buffer.from([0, 0, 0, idr.length]), idr])), unit('avc', record));
  assert.equal(out.format, 'h264');
  const sc = Buffer.from([0, 0, 0, 1]);
  assert.ok(out.data.equals(Buffer.concat([sc, sps, sc, pps, sc, idr])));
  assert.throws(() => keyframeAnnexB('cam1', unit('vp9', idr), unit('vp9', idr)), (e: unknown) => isStromError(e, 'LIVE_THUMBNAIL_UNSUPPORTED') && e.statusCode === 415);
  assert.throws(() => keyframeAnnexB('cam1', unit('avc', Buffer.from([0, 0, 0, 9, 1])), unit('avc', record)), (e: unknown) => isStromError(e, 'LIVE_THUMBNAIL_FAILED'));
});
