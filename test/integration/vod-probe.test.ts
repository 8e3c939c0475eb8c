/** probeMedia on real files generated at test time: every rejection code and the typed result. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { isStromError, type ErrorCode } from '../../src/errors.js';
import { probeMedia, type ProbeLimits } from '../../src/vod/probe.js';
import { makeClip, scratch } from '../helpers/vod-fixtures.js';

const run = promisify(execFile);
const LIMITS: ProbeLimits = { maxDurationS: 3600, maxHeight: 2160, maxBytes: 1 << 30 };
let dir: string;
let clip: string;

before(async () => {
  dir = scratch('probe');
  clip = await makeClip(path.join(dir, 'clip.mp4'), { width: 320, height: 180, seconds: 2 });
});
after(() => rm(dir, { recursive: true, force: true }));

async function rejects(file: string, code: ErrorCode, limits: ProbeLimits = LIMITS, mentions?: string): Promise<void> {
  await assert.rejects(probeMedia(file, { limits }), (err: unknown) => {
    assert.ok(isStromError(err, code), `expected ${code}, got ${String(err)}`);
    assert.ok(err.message.length > 10);
    if (mentions) assert.ok(err.message.includes(mentions), `${err.message} mentions ${mentions}`);
    return true;
  });
}

test('a normal clip probes to typed video and audio', async () => {
  const p = await probeMedia(clip, { limits: LIMITS });
  assert.equal(p.video?.codec, 'h264');
  assert.deepEqual([p.video?.width, p.video?.height, p.video?.displayWidth, p.video?.displayHeight, p.video?.rotation], [320, 180, 320, 180, 0]);
  assert.equal(p.video?.fps, 30);
  assert.equal(p.video?.pixFmt, 'yuv420p');
  assert.deepEqual(p.audio, { codec: 'aac', channels: 1, sampleRate: 48000 });
  assert.ok(Math.abs(p.durationS - 2) < 0.1, `duration ${p.durationS}`);
  assert.match(p.formatName, /mp4/);
});

test('zero bytes → MEDIA_EMPTY', async () => {
  const f = path.join(dir, 'empty.mp4');
  await writeFile(f, '');
  await rejects(f, 'MEDIA_EMPTY');
});

test('a text file named .mp4 → MEDIA_NOT_MEDIA', async () => {
  const f = path.join(dir, 'notes.mp4');
  await writeFile(f, 'These are my holiday notes, not a video.\n'.repeat(20));
  await rejects(f, 'MEDIA_NOT_MEDIA', LIMITS, 'notes.mp4');
});

test('a truncated MP4 (moov at the end, cut) → MEDIA_CORRUPT', async () => {
  const f = path.join(dir, 'cut.mp4');
  await writeFile(f, (await readFile(clip)).subarray(0, 4000));
  await rejects(f, 'MEDIA_CORRUPT', LIMITS, 'moov');
});

test('a file with only a subtitle stream → MEDIA_NO_STREAMS', async () => {
  const srt = path.join(dir, 'subs.srt');
  await writeFile(srt, '1\n00:00:00,000 --> 00:00:01,000\nhello\n');
  const f = path.join(dir, 'subs.mp4');
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', srt, '-c:s', 'mov_text', f]);
  await rejects(f, 'MEDIA_NO_STREAMS', LIMITS, 'subtitle');
});

test('audio-only input probes with video null (an audio-only asset, not a rejection)', async () => {
  const f = await makeClip(path.join(dir, 'song.m4a'), { video: false, seconds: 2 });
  const p = await probeMedia(f, { limits: LIMITS });
  assert.equal(p.video, null);
  assert.equal(p.audio?.codec, 'aac');
});

test('limits: too long, too large, resolution too high — each names the value and the limit', async () => {
  await rejects(clip, 'MEDIA_TOO_LONG', { ...LIMITS, maxDurationS: 1 }, 'limit of 1 s');
  await rejects(clip, 'MEDIA_TOO_LARGE', { ...LIMITS, maxBytes: 1000 }, 'limit of 1000 bytes');
  await rejects(clip, 'MEDIA_RESOLUTION_TOO_HIGH', { ...LIMITS, maxHeight: 144 }, '320x180');
});

test('rotation metadata swaps the display axes; non-square pixels widen the display size', async () => {
  const rot = path.join(dir, 'rot.mp4');
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', clip, '-c', 'copy', '-metadata:s:v', 'rotate=90', rot]);
  const p = await probeMedia(rot, { limits: LIMITS });
  assert.equal(p.video?.rotation, 90);
  assert.deepEqual([p.video?.width, p.video?.height, p.video?.displayWidth, p.video?.displayHeight], [320, 180, 180, 320]);
  const anamorphic = await makeClip(path.join(dir, 'sar.mp4'), { width: 320, height: 240, seconds: 1, audio: false, extra: ['-aspect', '16:9'] });
  const q = await probeMedia(anamorphic, { limits: LIMITS });
  assert.deepEqual([q.video?.width, q.video?.displayWidth, q.video?.displayHeight], [320, 427, 240]);
});
