/**
 * The metadata store: migrations applied once and recorded, WAL mode, data surviving a reopen,
 * video status/progress updates, visibility listeners, and the job queue's lease / heartbeat /
 * retry / release / cancel semantics.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { openStore } from '../../src/store/db/database.js';
import { migrations } from '../../src/store/db/migrations.js';

function tmpDir(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('migrations run once, WAL is on, rows survive a reopen', async (t) => {
  const dir = tmpDir(t);
  const a = await openStore(dir);
  const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(a.db);
  assert.equal(mode.rows[0]!.journal_mode, 'wal');
  const v = await a.videos.create({ title: 'kept', metadata: { x: 1 } });
  await a.close();
  const b = await openStore(dir);
  t.after(() => b.close());
  const applied = await b.db.selectFrom('schema_migrations').selectAll().execute();
  assert.deepEqual(applied.map((m) => m.version), migrations.map((m) => m.version));
  const back = await b.videos.get(v.id);
  assert.equal(back?.title, 'kept');
  assert.equal(back?.metadata, '{"x":1}');
});

test('videos: ids, status and progress updates, error set and cleared, visibility listener', async (t) => {
  const s = await openStore(':memory:');
  t.after(() => s.close());
  const heard: Array<[string, string | null]> = [];
  s.videos.onVisibility = (id, v) => heard.push([id, v]);
  const v = await s.videos.create({ visibility: 'signed' });
  assert.match(v.id, /^v_[A-Za-z0-9]{16}$/);
  await s.videos.setStatus(v.id, 'processing', { progress: 1.7 });
  assert.equal((await s.videos.get(v.id))?.progress, 1, 'progress is clamped to 0..1');
  await s.videos.setStatus(v.id, 'errored', { error: { code: 'FFMPEG_FAILED', message: 'exit 1' } });
  let row = await s.videos.get(v.id);
  assert.deepEqual([row?.status, row?.error_code, row?.error_message], ['errored', 'FFMPEG_FAILED', 'exit 1']);
  await s.videos.update(v.id, { status: 'ready', error: null, playable: true, durationS: 4.5, width: 640, height: 360 });
  row = await s.videos.get(v.id);
  assert.deepEqual([row?.status, row?.error_code, row?.playable, row?.duration_s], ['ready', null, 1, 4.5]);
  await s.videos.update(v.id, { visibility: 'public' });
  await s.videos.delete(v.id);
  assert.deepEqual(heard, [[v.id, 'signed'], [v.id, 'public'], [v.id, null]]);
  assert.equal(await s.videos.update('v_nope', { title: 'x' }), undefined);
});

test('jobs: lease the oldest due job, expired leases are re-leased, failures retry then fail, release and cancel', async (t) => {
  const s = await openStore(':memory:');
  t.after(() => s.close());
  const now = Date.now();
  const j1 = await s.jobs.enqueue({ kind: 'transcode', videoId: 'v1', payload: { a: 1 }, maxAttempts: 2, runAfter: now - 10 });
  const later = await s.jobs.enqueue({ kind: 'transcode', runAfter: now + 60_000 });
  await s.jobs.enqueue({ kind: 'other' });
  const got = await s.jobs.lease(['transcode'], 1000, now);
  assert.equal(got?.id, j1.id);
  assert.deepEqual([got?.state, got?.attempts, got?.lease_until], ['running', 1, now + 1000]);
  assert.equal(await s.jobs.lease(['transcode'], 1000, now), undefined, 'leased job and future job are not runnable');
  const stolen = await s.jobs.lease(['transcode'], 1000, now + 2000);
  assert.equal(stolen?.id, j1.id, 'an expired lease is taken over');
  assert.equal(stolen?.attempts, 2);
  assert.equal((await s.jobs.fail(j1.id, 'boom', 0))?.state, 'failed', 'no attempts left');

  const j2 = await s.jobs.enqueue({ kind: 'probe', maxAttempts: 3 });
  await s.jobs.lease(['probe'], 1000);
  const retried = await s.jobs.fail(j2.id, 'transient', 5000);
  assert.equal(retried?.state, 'queued');
  assert.ok(retried!.run_after >= Date.now() + 4000);
  assert.equal(retried?.last_error, 'transient');
  assert.equal((await s.jobs.fail(j2.id, 'permanent', 0, false))?.state, 'failed', 'retry=false fails at once');

  const j3 = await s.jobs.enqueue({ kind: 'thumb' });
  await s.jobs.lease(['thumb'], 1000);
  assert.equal(await s.jobs.heartbeat(j3.id, 60_000), true);
  await s.jobs.release(j3.id);
  const released = await s.jobs.get(j3.id);
  assert.deepEqual([released?.state, released?.attempts], ['queued', 0]);
  await s.jobs.lease(['thumb'], 1000);
  await s.jobs.complete(j3.id);
  assert.equal((await s.jobs.get(j3.id))?.state, 'done');

  assert.deepEqual(await s.jobs.cancelForVideo('v1'), [], 'j1 already failed');
  const j4 = await s.jobs.enqueue({ kind: 'transcode', videoId: 'v9' });
  assert.deepEqual(await s.jobs.cancelForVideo('v9'), [j4.id]);
  assert.equal((await s.jobs.get(later.id))?.state, 'queued');
});

test('live streams: unique keys, lookup by key, rotation', async (t) => {
  const s = await openStore(':memory:');
  t.after(() => s.close());
  const a = await s.liveStreams.create({ title: 'a' });
  const b = await s.liveStreams.create({ title: 'b' });
  assert.notEqual(a.stream_key, b.stream_key);
  assert.equal((await s.liveStreams.findLiveStreamByKey(b.stream_key))?.id, b.id);
  const r = await s.liveStreams.rotateKey(a.id);
  assert.equal(await s.liveStreams.findLiveStreamByKey(a.stream_key), undefined);
  assert.equal((await s.liveStreams.findLiveStreamByKey(r!.stream_key))?.id, a.id);
  assert.equal(await s.liveStreams.findLiveStreamByKey("' OR '1'='1"), undefined);
});
