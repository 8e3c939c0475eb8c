/** Checks the pull connector tests share: waiting for frames, what a live H.264 + AAC source delivered, catalog errors. */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { isStromError } from '../../src/errors.js';
import type { RecordingSink } from './source-sink.js';

/** Wait until `n` non-config video frames arrived (fails after `ms`). */
export async function videoFrames(sink: RecordingSink, n: number, ms = 15_000): Promise<void> {
  const count = () => sink.of('video').filter((u) => !u.config).length;
  const end = Date.now() + ms;
  while (count() < n && Date.now() < end) await sleep(25);
  assert.ok(count() >= n, `only ${count()} of ${n} video frames after ${ms} ms`);
}

/** Check what a live H.264 + AAC source delivered: config before frames, keyframe first, dts rising per track. */
export function assertLiveUnits(sink: RecordingSink, minVideo: number): void {
  for (const kind of ['video', 'audio'] as const) {
    const track = sink.of(kind);
    assert.ok(track.length > 0, `${kind} units`);
    assert.equal(track[0]!.config, true, `${kind}: the decoder configuration comes first`);
    assert.equal(track[0]!.codec, kind === 'video' ? 'avc' : 'aac');
    const frames = track.filter((u) => !u.config);
    if (kind === 'video') {
      assert.ok(frames.length >= minVideo, `video frames: ${frames.length}`);
      assert.equal(frames[0]!.keyframe, true, 'the first video frame is a keyframe');
    }
    for (let i = 1; i < frames.length; i++) assert.ok(frames[i]!.dts > frames[i - 1]!.dts, `${kind} dts ${frames[i - 1]!.dts} → ${frames[i]!.dts}`);
  }
}

/** Assert `p` rejects with catalog error `code` whose message matches `re` and contains none of `secrets`. */
export async function assertSourceError(p: Promise<unknown>, code: string, re: RegExp, secrets: readonly string[] = []): Promise<Error> {
  let caught: unknown = null;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(isStromError(caught), `expected ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, re);
  for (const s of secrets) assert.ok(!caught.message.includes(s), `secret in ${caught.message}`);
  return caught;
}
