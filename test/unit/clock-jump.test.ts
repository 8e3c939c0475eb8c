/**
 * Fault: the system clock steps (NTP correction, a VM resumed, an operator's `date -s`). The
 * machine clock cannot be changed in a test, so `Date` (`Date.now`, `new Date()`) is shifted by an hour forward or back
 * while real timers keep running, and the code paths whose correctness depends on time are
 * checked: a running job's lease guard (monotonic: a forward step does not stop a job whose
 * heartbeats succeed; a backward step does not let it run past its lease while they fail), the
 * LL-HLS idle stop of a watched stream (monotonic), and playback token expiry (wall time by
 * design: `exp` is an absolute date, so a token expires when the wall clock passes it).
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/logger.js';
import { WorkerPool } from '../../src/jobs/worker-pool.js';
import { openStore, type Store } from '../../src/store/db/database.js';
import { storeUnavailable } from '../../src/store/db/store-outage.js';
import { PlaybackTokens } from '../../src/auth/playback-tokens.js';
import { isStromError } from '../../src/errors.js';
import { LlHlsMuxer } from '../../src/live/formats/hls/ll-hls-muxer.js';

const HOUR = 3_600_000;
const RealDate = Date;
/** Step the wall clock seen by `Date.now` and `new Date()` by `ms` (timers are not affected, as with a real step). */
function stepClock(ms: number): void {
  const base = Date.now;
  const now = (): number => base() + ms;
  globalThis.Date = class extends RealDate {
    constructor(...a: [] | [string | number | Date]) {
      super(...((a.length === 0 ? [now()] : a) as [number]));
    }

    static override now(): number {
      return now();
    }
  } as DateConstructor;
}
afterEach(() => {
  globalThis.Date = RealDate;
});

/** A pool running one job that takes `workMs` unless aborted; resolves with how it ended. */
async function runOne(store: Store, workMs: number, during: () => void): Promise<{ outcome: string; pool: WorkerPool }> {
  let ended!: (outcome: string) => void;
  const outcome = new Promise<string>((r) => (ended = r));
  const pool = new WorkerPool({
    jobs: store.jobs, log: createLogger('silent'), concurrency: 1, timeoutMs: 60_000, leaseMs: 900, pollMs: 50,
    handlers: {
      work: (_job, ctx) => new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => {
          ended('completed');
          resolve();
        }, workMs);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t);
          ended(`aborted: ${String(ctx.signal.reason)}`);
          reject(new Error('stopped'));
        });
        setTimeout(during, 200);
      }),
    },
  });
  await store.jobs.enqueue({ kind: 'work' });
  pool.start();
  const o = await outcome;
  await pool.stop();
  return { outcome: o, pool };
}

test('a forward step of an hour does not stop a running job whose heartbeats succeed', async () => {
  const store = await openStore(':memory:');
  try {
    const { outcome } = await runOne(store, 2000, () => stepClock(HOUR));
    assert.equal(outcome, 'completed');
  } finally {
    await store.close();
  }
});

test('a backward step of an hour does not let a job run past its lease while heartbeats fail', async () => {
  const store = await openStore(':memory:');
  try {
    const t0 = performance.now();
    const { outcome } = await runOne(store, 5000, () => {
      stepClock(-HOUR);
      store.jobs.heartbeat = () => Promise.reject(storeUnavailable('SQLite test', new Error('disk I/O error')));
    });
    assert.equal(outcome, 'aborted: cancelled');
    assert.ok(performance.now() - t0 < 2000, `stopped within the 900 ms lease (${(performance.now() - t0).toFixed(0)} ms)`);
  } finally {
    await store.close();
  }
});

test('the LL-HLS idle clock is monotonic: a forward step does not make a just-watched stream idle', () => {
  const mux = new LlHlsMuxer({ video: true, audio: false }, { partTargetMs: 500, segmentTargetMs: 2000, windowSegments: 8 });
  const before = mux.lastAccess;
  stepClock(HOUR);
  assert.ok(performance.now() - before < 1000, 'lastAccess is on the monotonic clock, unaffected by the step');
});

test('playback tokens expire by the wall clock: an hour-long token is refused after a two-hour forward step, accepted after a backward one', async () => {
  const store = await openStore(':memory:');
  try {
    const tokens = new PlaybackTokens(store.signingKeys, 100);
    const { token } = await tokens.sign('v_clock', { ttlMs: HOUR });
    assert.equal((await tokens.verify(token, 'v_clock')).sub, 'v_clock');
    stepClock(2 * HOUR);
    assert.equal(tokens.cached(token), undefined, 'the cache honours exp');
    await assert.rejects(tokens.verify(token, 'v_clock'), (e: unknown) => isStromError(e, 'PLAYBACK_DENIED') && /expired/.test(e.message));
    globalThis.Date = RealDate;
    stepClock(-2 * HOUR);
    assert.equal((await tokens.verify(token, 'v_clock')).sub, 'v_clock', 'a clock set back keeps the token valid (exp is still ahead)');
  } finally {
    await store.close();
  }
});
