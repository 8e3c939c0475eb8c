/**
 * The live thumbnail renderer against a registry fed by hand: HEVC keyframes (Enhanced RTMP units,
 * which ffmpeg cannot publish over FLV) render through the VPS/SPS/PPS of the decoder
 * configuration; a hung ffmpeg is killed at the timeout and not retried within the interval; the
 * global cap answers BUSY; other codecs are 415.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { testConfig } from '../../src/config.js';
import { isStromError } from '../../src/errors.js';
import { avcConfigUnit, avcDecoderConfig, avcUnit } from '../../src/live/formats/flv/unit-builders.js';
import { hevcConfigUnit, hevcDecoderConfig, hevcUnit } from '../../src/live/formats/ts/hevc.js';
import { avcType, hevcType, splitAnnexB } from '../../src/live/formats/video/nal.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { staticKeyResolver, StreamRegistry } from '../../src/live/stream/stream-registry.js';
import { LiveThumbnails, type ThumbnailOptions } from '../../src/live/thumbnail/live-thumbnails.js';
import { run } from '../helpers/live-fixtures.js';

const log = pino({ level: 'silent' });

/** One 320x240 frame encoded by ffmpeg as an Annex B elementary stream, split into NAL units. */
async function encodeFrame(codec: 'libx264' | 'libx265'): Promise<Buffer[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-thumb-'));
  try {
    const file = path.join(dir, codec === 'libx264' ? 'f.h264' : 'f.hevc');
    const { code, stderr } = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=1', '-frames:v', '1', '-c:v', codec,
      ...(codec === 'libx265' ? ['-x265-params', 'log-level=error'] : []), '-f', codec === 'libx264' ? 'h264' : 'hevc', file]).done;
    assert.equal(code, 0, stderr);
    return splitAnnexB(readFileSync(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function registryWith(): StreamRegistry {
  return new StreamRegistry(testConfig({ dataDir: tmpdir() }), staticKeyResolver([]), log);
}

function publish(reg: StreamRegistry, id: string, units: MediaUnit[]): void {
  const s = reg.startPublish(id, { id: `p-${id}`, remote: 'test', close: () => undefined });
  for (const u of units) s.push(u, u.body.length);
}

async function avcUnits(): Promise<MediaUnit[]> {
  const nalus = await encodeFrame('libx264');
  const sps = nalus.find((n) => avcType(n) === 7)!;
  const pps = nalus.filter((n) => avcType(n) === 8);
  return [avcConfigUnit(avcDecoderConfig(sps, pps), 0), avcUnit(nalus.filter((n) => avcType(n) !== 7 && avcType(n) !== 8), 0, 0, true)];
}

const opts = (o: Partial<ThumbnailOptions> = {}): ThumbnailOptions => ({ thumbnailIntervalMs: 5000, thumbnailWidth: 160, thumbnailMaxRenders: 2, thumbnailTimeoutMs: 5000, ffmpegPath: 'ffmpeg', ...o });

test('HEVC keyframe → JPEG through the VPS/SPS/PPS of the decoder configuration', async () => {
  const nalus = await encodeFrame('libx265');
  const by = (t: number) => nalus.filter((n) => hevcType(n) === t);
  const record = hevcDecoderConfig(by(32), by(33), by(34));
  assert.ok(record);
  const reg = registryWith();
  publish(reg, 'h1', [hevcConfigUnit(record, 0), hevcUnit(nalus.filter((n) => ![32, 33, 34].includes(hevcType(n))), 0, 0, true)]);
  const thumbs = new LiveThumbnails(reg, opts(), log);
  const t = await thumbs.get('h1');
  assert.equal(t.jpeg.readUInt16BE(0), 0xffd8, 'a JPEG (SOI)');
  assert.equal(thumbs.stats.renders, 1);
  assert.equal((await thumbs.get('h1')).etag, t.etag, 'cached within the interval');
  assert.equal(thumbs.stats.renders, 1);
  thumbs.close();
});

test('a hung ffmpeg is killed at the timeout, the failure is not retried within the interval; the global cap → BUSY', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-thumb-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hang = path.join(dir, 'ffmpeg-hang.sh');
  writeFileSync(hang, '#!/bin/sh\nexec sleep 30\n');
  chmodSync(hang, 0o755);
  const reg = registryWith();
  const units = await avcUnits();
  publish(reg, 'a', units);
  publish(reg, 'b', units);
  const thumbs = new LiveThumbnails(reg, opts({ ffmpegPath: hang, thumbnailTimeoutMs: 600, thumbnailMaxRenders: 1 }), log);
  const first = thumbs.get('a');
  await assert.rejects(thumbs.get('b'), (e: unknown) => isStromError(e, 'BUSY') && e.statusCode === 503 && e.headers?.['Retry-After'] === '1');
  assert.equal(thumbs.stats.refused, 1);
  const started = Date.now();
  await assert.rejects(first, (e: unknown) => isStromError(e, 'LIVE_THUMBNAIL_FAILED') && /killed after 600 ms/.test(e.message));
  assert.ok(Date.now() - started < 3000, 'killed, not waited for');
  assert.equal(thumbs.stats.timeouts, 1);
  assert.equal(thumbs.stats.running, 0);
  await assert.rejects(thumbs.get('a'), (e: unknown) => isStromError(e, 'LIVE_THUMBNAIL_FAILED'));
  assert.equal(thumbs.stats.failures, 1, 'the failure is repeated, not re-rendered, within the interval');
  // The stream ends: its entry goes.
  assert.equal(thumbs.size, 2);
  const s = reg.active('a')!;
  reg.stopPublish(s, s.publisher!, 'test');
  assert.equal(thumbs.size, 1, 'only b is left');
  await assert.rejects(thumbs.get('a'), (e: unknown) => isStromError(e, 'LIVE_STREAM_NOT_FOUND'));
  thumbs.close();
});

test('other video codecs → 415; no keyframe yet → 404', async () => {
  const reg = registryWith();
  const body = Buffer.from([0x90, 0x76, 0x70, 0x30, 0x39, 1, 2, 3]);
  const vp9 = (config: boolean): MediaUnit => ({ kind: 'video', codec: 'vp9', dts: 0, pts: 0, keyframe: true, config, payload: body.subarray(5), body });
  publish(reg, 'v', [vp9(true), vp9(false)]);
  publish(reg, 'empty', (await avcUnits()).slice(0, 1));
  const thumbs = new LiveThumbnails(reg, opts(), log);
  await assert.rejects(thumbs.get('v'), (e: unknown) => isStromError(e, 'LIVE_THUMBNAIL_UNSUPPORTED') && e.statusCode === 415);
  await assert.rejects(thumbs.get('empty'), (e: unknown) => isStromError(e, 'LIVE_STREAM_NOT_FOUND'));
  assert.equal(thumbs.stats.renders + thumbs.stats.failures, 0, 'no ffmpeg run');
  thumbs.close();
});
