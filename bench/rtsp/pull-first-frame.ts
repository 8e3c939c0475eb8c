/**
 * bench/rtsp: how long Strom's RTSP pull takes from connect() to the first keyframe unit, against
 * a live camera with a 1 s GOP (25 fps, key-int-max=25) — GStreamer's RTSP server library
 * (test/fixtures/rtsp-camera.py, needs python3-gi and gir1.2-gst-rtsp-server-1.0).
 *
 *   npx tsx bench/rtsp/pull-first-frame.ts [--runs 7] [--transport udp|tcp|both]
 *
 * A background pull keeps the camera's encoder running for the whole bench (a real camera never
 * stops encoding), so each measured pull joins mid-GOP. A camera that starts a new client's video
 * at its next IDR makes it wait up to a GOP; Strom asks for a keyframe with an RTCP PLI as soon as
 * it drops a first non-key frame. (GStreamer's RTSP server gives a new client a keyframe within
 * ~100 ms with or without the PLI: measured with the PLI taken out.)
 * Printed per transport: every run's connect (PLAY answered) and first keyframe times, and p50.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { rtspConnector } from '../../src/live/pull/sources/rtsp-source.js';
import { camera } from '../../test/helpers/rtsp-camera.js';
import type { SourceSink } from '../../src/live/pull/connector/source-connector.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, transport: { type: 'string', default: 'both' } } });
const runs = Number(values.runs);
const log = pino({ level: 'silent' });
const opts = { timeoutMs: 10_000, maxBufferBytes: 8 * 1024 * 1024, log };
const idle: SourceSink = { unit() {}, meta() {}, received() {} };

const cam = await camera(['--gop', '25']);
const port = cam.port;
const base = `rtsp://127.0.0.1:${port}/cam`;
const warm = await rtspConnector.connect(new URL(`${base}?transport=tcp`), idle, opts);
await new Promise((r) => setTimeout(r, 2_000));

/** One pull: ms to PLAY answered and to the first keyframe unit. */
async function once(url: string): Promise<{ connect: number; keyframe: number }> {
  const t0 = performance.now();
  let first = 0;
  let resolveKey!: () => void;
  const key = new Promise<void>((r) => { resolveKey = r; });
  const sink: SourceSink = {
    unit(u) {
      if (u.kind === 'video' && u.keyframe && !u.config && first === 0) {
        first = performance.now() - t0;
        resolveKey();
      }
    },
    meta() {},
    received() {},
  };
  const conn = await rtspConnector.connect(new URL(url), sink, opts);
  const connect = performance.now() - t0;
  await Promise.race([key, new Promise((r) => setTimeout(r, 10_000))]);
  conn.close('bench');
  await conn.closed;
  return { connect, keyframe: first };
}

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const transports = values.transport === 'both' ? ['udp', 'tcp'] : [values.transport!];
for (const t of transports) {
  const results = [];
  for (let i = 0; i < runs; i++) {
    results.push(await once(t === 'tcp' ? `${base}?transport=tcp` : base));
    await new Promise((r) => setTimeout(r, 300 + Math.random() * 700)); // land at a different point of the GOP
  }
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
  process.stdout.write(`${t}: connect ms [${fmt(results.map((r) => r.connect))}] p50 ${p50(results.map((r) => r.connect)).toFixed(0)}; first keyframe ms [${fmt(results.map((r) => r.keyframe))}] p50 ${p50(results.map((r) => r.keyframe)).toFixed(0)}\n`);
}
warm.close('bench done');
await warm.closed;
cam.child.kill('SIGKILL');
