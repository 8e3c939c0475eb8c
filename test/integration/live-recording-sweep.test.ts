/**
 * Crash-safe recordings: a recording interrupted by a crash stays in <dataDir>/tmp/rec-*.
 * A new Strom on the same data dir finishes a directory with a journaled, complete segment and its
 * init (manifests written, published as a ready video whose playlist lists exactly the complete
 * segments, a torn trailing segment dropped) and deletes one without a complete segment.
 * The "crash" is a copy of a live recording directory taken while the stream is still publishing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sendFrames, startLive, syntheticPublisher, waitUntil } from '../helpers/live-fixtures.js';

test('interrupted recordings: complete ones are published at start, empty ones removed', async (t) => {
  const crashed = mkdtempSync(path.join(tmpdir(), 'strom-crash-'));
  t.after(() => rmSync(crashed, { recursive: true, force: true }));
  const h1 = await startLive({ 'live.recordAll': true, 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500 });
  t.after(() => h1.close());
  const c = await syntheticPublisher(h1.rtmpPort);
  t.after(() => c.destroy());
  // The recording starts asynchronously (its stream's record flag is looked up): send the rest of
  // the frames once it is attached, or a burst sent before that reaches it only as the GOP cache.
  sendFrames(c, 0, 5);
  await waitUntil(() => (h1.strom.live.recorder?.size ?? 0) === 1, 'the recording started');
  await new Promise((r) => setTimeout(r, 100));
  sendFrames(c, 6, 45);
  const tmp1 = path.join(h1.strom.config.dataDir, 'tmp');
  const journal = () => {
    const d = existsSync(tmp1) ? readdirSync(tmp1).find((n) => n.startsWith('rec-')) : undefined;
    return d === undefined || !existsSync(path.join(tmp1, d, 'segments.jsonl')) ? null : { d, n: readFileSync(path.join(tmp1, d, 'segments.jsonl'), 'utf8').trim().split('\n').length };
  };
  await waitUntil(() => (journal()?.n ?? 0) >= 3, 'three segments recorded');
  const { d } = journal()!;
  mkdirSync(path.join(crashed, 'tmp'), { recursive: true });
  cpSync(path.join(tmp1, d), path.join(crashed, 'tmp', d), { recursive: true }); // the state a crash leaves
  const lines = readFileSync(path.join(crashed, 'tmp', d, 'segments.jsonl'), 'utf8').trim().split('\n');
  const last = JSON.parse(lines.at(-1)!) as { msn: number };
  writeFileSync(path.join(crashed, 'tmp', d, `seg_${last.msn + 1}.m4s`), Buffer.alloc(100)); // torn: written, never journaled
  mkdirSync(path.join(crashed, 'tmp', 'rec-cam2-s9'));
  writeFileSync(path.join(crashed, 'tmp', 'rec-cam2-s9', 'init.mp4'), Buffer.alloc(10)); // crashed before its first segment

  const h2 = await startLive({ dataDir: crashed });
  t.after(() => h2.close());
  assert.deepEqual(readdirSync(path.join(crashed, 'tmp')).filter((n) => n.startsWith('rec-')), [], 'no rec-* left');
  const page = await h2.strom.control.store.videos.list({ limit: 10 });
  assert.equal(page.items.length, 1, 'one video published');
  const v = page.items[0]!;
  assert.equal(v.status, 'ready');
  assert.match(v.title, /recording/);
  const dir = path.join(crashed, 'assets', v.id);
  const playlist = readFileSync(path.join(dir, 'index.m3u8'), 'utf8');
  assert.match(playlist, /#EXT-X-ENDLIST/);
  assert.equal((playlist.match(/^seg_\d+\.m4s$/gm) ?? []).length, lines.length, 'exactly the journaled segments');
  assert.ok(!existsSync(path.join(dir, `seg_${last.msn + 1}.m4s`)), 'torn segment dropped');
  assert.ok(!existsSync(path.join(dir, 'segments.jsonl')), 'journal removed');
  assert.ok(existsSync(path.join(dir, 'manifest.mpd')) && existsSync(path.join(dir, 'master.m3u8')) && existsSync(path.join(dir, 'init.mp4')));
  assert.ok(h2.logs.some((l) => l.msg === 'interrupted recording without a complete segment removed'));
  const r = await fetch(`${h2.httpUrl}/v/${v.id}/index.m3u8`);
  assert.equal(r.status, 200, 'served like any video');
});
