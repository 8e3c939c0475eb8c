/** A SourceSink that records what a pull connector delivers, and the checks the connector tests share. */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { SourceConnectOptions, SourceMeta, SourceSink } from '../../src/live/pull/source-connector.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { isStromError } from '../../src/errors.js';

/** What a recording sink collected. */
export interface RecordingSink extends SourceSink {
  units: MediaUnit[];
  metas: SourceMeta[];
  bytes: number;
  /** Resolves once `n` non-config video frames arrived (rejects after `ms`). */
  videoFrames(n: number, ms?: number): Promise<void>;
}

/** A sink keeping every unit and metadata call. */
export function recordingSink(): RecordingSink {
  const waiters: Array<() => void> = [];
  const s: RecordingSink = {
    units: [], metas: [], bytes: 0,
    unit(u) {
      s.units.push(u);
      for (const w of waiters.splice(0)) w();
    },
    meta(m) {
      s.metas.push(m);
    },
    received(n) {
      s.bytes += n;
    },
    videoFrames(n, ms = 15_000) {
      const count = () => s.units.filter((u) => u.kind === 'video' && !u.config).length;
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`only ${count()} of ${n} video frames after ${ms} ms`)), ms);
        const check = () => {
          if (count() >= n) {
            clearTimeout(t);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    },
  };
  return s;
}

/** Connect options for tests (silent log). */
export function sourceOptions(timeoutMs = 5000): SourceConnectOptions {
  return { timeoutMs, maxBufferBytes: 8 << 20, log: pino({ level: 'silent' }) };
}

/** Check what a live H.264 + AAC source delivered: config before frames, keyframe first, dts rising per track. */
export function assertLiveUnits(units: readonly MediaUnit[], minVideo: number): void {
  for (const kind of ['video', 'audio'] as const) {
    const track = units.filter((u) => u.kind === kind);
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
