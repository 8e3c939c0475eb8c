/**
 * Fault: the disk fills up while a live stream is being recorded. The data directory is a small
 * tmpfs (a real ENOSPC) nearly filled by another file; ffmpeg publishes over RTMP with recording
 * on. When a segment no longer fits, recording stops with one error line carrying STORAGE_FULL
 * and the stream's id, the partial segment is removed, and the live stream keeps playing for its
 * viewers. Once space is freed and the publisher stops, the recording is published as a video that
 * ends at its last complete segment: ready, every listed segment on disk and nothing else, no
 * recording directory left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { ffmpegPublish, flvViewer } from '../helpers/live-fixtures.js';
import { smallDisk } from '../helpers/small-disk.js';

test('disk full during a live recording: STORAGE_FULL logged, the stream plays on, the recording ends consistent at its last segment', { timeout: 120_000 }, async (t) => {
  const dataDir = smallDisk(t, 24);
  if (dataDir === null) return;
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const strom = await buildStrom(testConfig({ dataDir, 'live.staticKeys': 'cam:secret', 'live.recordAll': true }), pino({ level: 'warn' }, sink));
  const { url } = await strom.listen();
  t.after(() => strom.close());

  // Leave room for a few segments only (the database and its WAL live on this disk too).
  const fs = statfsSync(dataDir);
  const filler = path.join(dataDir, 'filler.bin');
  writeFileSync(filler, Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - 600 * 1024)));
  const pub = ffmpegPublish(strom.live.rtmp.port()!, 'secret', 60);
  t.after(() => pub.child.kill('SIGKILL'));
  for (let i = 0; i < 100 && strom.live.registry.get('cam')?.active !== true; i++) await sleep(100);
  const viewer = flvViewer(`${url}/live/cam.flv`);
  t.after(() => viewer.req.destroy());
  await viewer.waitTags(10, 20_000);

  let stopped: Record<string, unknown> | undefined;
  for (let i = 0; i < 600 && !stopped; i++, await sleep(100)) stopped = logs.find((l) => String(l.msg).startsWith('recording stopped'));
  assert.ok(stopped, `recording stopped when the disk filled (logs: ${JSON.stringify(logs).slice(0, 500)})`);
  assert.equal(stopped.level, 50, 'an error line');
  const err = stopped.err as { code?: string; message?: string };
  assert.equal(err.code, 'STORAGE_FULL');
  assert.match(err.message!, /recording of live stream cam/);
  assert.equal(stopped.streamId, 'cam');
  assert.ok(Number(stopped.keptSegments) >= 1, `segments kept: ${String(stopped.keptSegments)}`);

  const seen = viewer.tags.length;
  await viewer.waitTags(seen + 50, 20_000); // the live stream plays on
  assert.equal(strom.live.registry.get('cam')?.active, true);

  rmSync(filler); // the operator frees space; the publisher stops
  pub.child.kill('SIGINT');
  await pub.done;
  await strom.live.recorder!.idle;
  let video: { id: string; status: string } | undefined;
  for (let i = 0; i < 100 && video?.status !== 'ready'; i++, await sleep(100)) {
    video = (await strom.control.store.videos.list({ limit: 10 })).items.find((v) => v.title.includes('recording'));
  }
  assert.equal(video?.status, 'ready', 'the recording is published');
  const asset = path.join(dataDir, 'assets', video.id);
  const playlist = readFileSync(path.join(asset, 'index.m3u8'), 'utf8');
  assert.match(playlist, /#EXT-X-ENDLIST/);
  const listed = playlist.split('\n').filter((l) => l.endsWith('.m4s')).sort();
  const onDisk = readdirSync(asset).filter((f) => f.endsWith('.m4s')).sort();
  assert.deepEqual(onDisk, listed, 'segments on disk = segments listed');
  assert.equal(listed.length, Number(stopped.keptSegments), 'the recording ends at the last complete segment before the disk filled');
  assert.deepEqual(readdirSync(path.join(dataDir, 'tmp')).filter((n) => n.startsWith('rec-')), [], 'no recording directory left');
});
