/**
 * srt:// sources: Strom's SRT caller reads a stream (published over RTMP by ffmpeg) from a Strom
 * with SRT on, clear and encrypted; wrong passphrases, unknown streams and silent ports fail with
 * the right catalog error; srt-live-transmit (libsrt) serves as a third-party SRT listener.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { srtConnector } from '../../src/live/pull/sources/srt-source.js';
import { isStromError } from '../../src/errors.js';
import { ffmpegPublish, startLive, waitUntil } from '../helpers/live-fixtures.js';
import { freePort } from '../helpers/free-port.js';
import { assertLiveUnits, assertSourceError, videoFrames } from '../helpers/pull-checks.js';
import { connectOptions, RecordingSink } from '../helpers/source-sink.js';

const PASS = 'pull-passphrase-0123';

async function srtStrom(overrides: Record<string, string> = {}, seconds = 20) {
  const h = await startLive({ 'srt.enabled': 'true', ...overrides });
  const pub = ffmpegPublish(h.rtmpPort, 'secret', seconds);
  await waitUntil(() => h.strom.live.registry.active('cam1') !== null, 'ffmpeg is publishing', 15_000);
  return { h, pub, port: h.strom.live.srt!.port()!, close: async () => { pub.child.kill('SIGKILL'); await h.close(); } };
}

test('reads a live stream from Strom over SRT (#!:: and read: stream ids): config first, keyframe first, rising dts, size from the SPS; ends when the publisher stops', async (t) => {
  const s = await srtStrom({}, 7);
  t.after(() => s.close());
  const sink = new RecordingSink();
  const conn = await srtConnector.connect(new URL(`srt://127.0.0.1:${s.port}?streamid=#!::r=cam1,m=request&latency=120`), sink, connectOptions());
  await videoFrames(sink, 50);
  assertLiveUnits(sink, 50);
  assert.deepEqual(sink.metas.at(-1), { width: 320, height: 240 });
  assert.ok(sink.bytes > 10_000);
  assert.equal(s.h.strom.live.status('cam1').viewers.srt, 1);

  const other = new RecordingSink();
  const second = await srtConnector.connect(new URL(`srt://127.0.0.1:${s.port}?streamid=read:cam1`), other, connectOptions());
  await videoFrames(other, 10);
  second.close('enough');
  assert.deepEqual(await second.closed, { reason: 'enough', permanent: false });

  const end = await conn.closed; // ffmpeg stops after 7 s
  assert.equal(end.permanent, false);
  assert.match(end.reason, /SRT connection closed|no media/);
});

test('encryption: the right passphrase reads, a wrong or missing one is refused; unknown stream refused; a silent port times out; nothing left open', async (t) => {
  const s = await srtStrom({ 'srt.passphrase': PASS });
  t.after(() => s.close());
  const url = (q: string) => new URL(`srt://127.0.0.1:${s.port}?streamid=#!::r=cam1,m=request${q}`);
  const sink = new RecordingSink();
  const conn = await srtConnector.connect(url(`&passphrase=${PASS}&pbkeylen=32`), sink, connectOptions());
  await videoFrames(sink, 25);
  assertLiveUnits(sink, 25);
  conn.close('done');
  await conn.closed;

  const udpSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
  const baseline = udpSockets();
  const wrong = 'wrong-passphrase-987';
  await assertSourceError(srtConnector.connect(url(`&passphrase=${wrong}`), new RecordingSink(), connectOptions()), 'LIVE_SOURCE_REFUSED', /1010|passphrase/, [wrong]);
  await assertSourceError(srtConnector.connect(url(''), new RecordingSink(), connectOptions()), 'LIVE_SOURCE_REFUSED', /SRT rejection/);
  await assertSourceError(srtConnector.connect(new URL(`srt://127.0.0.1:${s.port}?streamid=#!::r=nope_Zq81xLmw,m=request&passphrase=${PASS}`), new RecordingSink(), connectOptions()), 'LIVE_SOURCE_REFUSED', /1404/, ['nope_Zq81xLmw', PASS]);
  const silent = await freePort();
  await assertSourceError(srtConnector.connect(new URL(`srt://127.0.0.1:${silent}?streamid=read:cam1`), new RecordingSink(), connectOptions({ timeoutMs: 800 })), 'LIVE_SOURCE_TIMEOUT', /800 ms/);
  assert.equal(udpSockets(), baseline, 'no caller socket left open after the failures');
  assert.throws(() => srtConnector.validate(new URL('srt://example.com?streamid=x')), (e: unknown) => isStromError(e, 'LIVE_SOURCE_BAD_URL') && /no port/.test(e.message));
  assert.throws(() => srtConnector.validate(new URL('srt://example.com:9000?mode=listener')), (e: unknown) => isStromError(e, 'LIVE_SOURCE_BAD_URL'));
});

test('reads from srt-live-transmit (libsrt) as a listener fed MPEG-TS over UDP by ffmpeg', async (t) => {
  if (spawnSync('srt-live-transmit', ['-version'], { stdio: 'ignore' }).error) {
    t.skip('srt-live-transmit is not installed (package srt-tools; scripts/setup.sh test installs it)');
    return;
  }
  const [udpPort, srtPort] = [await freePort(), await freePort()];
  const listener = spawn('srt-live-transmit', ['-q', `udp://:${udpPort}`, `srt://:${srtPort}?mode=listener`], { stdio: 'ignore' });
  t.after(() => listener.kill('SIGKILL'));
  const ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-c:a', 'aac', '-t', '20', '-f', 'mpegts', `udp://127.0.0.1:${udpPort}?pkt_size=1316`], { stdio: 'ignore' });
  t.after(() => ffmpeg.kill('SIGKILL'));
  const sink = new RecordingSink();
  let conn = null;
  for (let i = 0; i < 20 && conn === null; i++) {
    try {
      conn = await srtConnector.connect(new URL(`srt://127.0.0.1:${srtPort}`), sink, connectOptions({ timeoutMs: 1000 }));
    } catch (err) {
      if (!isStromError(err, 'LIVE_SOURCE_TIMEOUT')) throw err; // srt-live-transmit still starting
    }
  }
  assert.ok(conn, 'connected to srt-live-transmit');
  await videoFrames(sink, 40);
  assertLiveUnits(sink, 40);
  assert.deepEqual(sink.metas.at(-1), { width: 320, height: 240 });
  conn.close('done');
  assert.equal((await conn.closed).reason, 'done');
});
