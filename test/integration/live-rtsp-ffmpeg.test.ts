/**
 * RTSP with real clients, one server: ffmpeg publishes over TCP (key in the path) and UDP (Digest
 * credentials: user = stream id, password = key) and the streams play as HTTP-FLV and LL-HLS;
 * ffmpeg reads over TCP and UDP and decodes frames, of an RTMP-published stream too; a wrong
 * password gets 401 and no stream; malformed requests get 400/413/501/505 and the server keeps
 * serving; an idle session times out; signed streams take the playback token as `?token=` or the Basic
 * password; H.265 + Opus go in and out; GStreamer publishes H.264 + Opus (rtspclientsink) and reads
 * (rtspsrc) when installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fail } from '../../src/errors.js';
import { ffmpegPublish, run, startLive, type LiveHarness } from '../helpers/live-fixtures.js';
import { until, within } from '../helpers/until.js';

const PUBLISH_S = 30;
let h: LiveHarness;
let port = 0;
const url = (name: string) => `rtsp://127.0.0.1:${port}/live/${name}`;

/** ffmpeg publishing H.264 + AAC test patterns over RTSP. */
function rtspPublish(target: string, transport: 'tcp' | 'udp', seconds = PUBLISH_S) {
  return run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'aac', '-t', String(seconds), '-f', 'rtsp', '-rtsp_transport', transport, target], (seconds + 20) * 1000);
}

/** Frames per stream index that ffmpeg decodes from `input` in `seconds` (framemd5 lists one line per decoded frame). */
async function decodedFrames(args: string[], seconds: number): Promise<{ video: number; audio: number }> {
  const r = await run('ffmpeg', ['-v', 'error', ...args, '-t', String(seconds), '-f', 'framemd5', '-'], 30_000).done;
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  return { video: lines.filter((l) => l.startsWith('0,')).length, audio: lines.filter((l) => l.startsWith('1,')).length };
}

async function probe(input: string, extra: string[] = []): Promise<Array<{ codec_name: string; width?: number }>> {
  const r = await run('ffprobe', ['-v', 'error', ...extra, '-show_entries', 'stream=codec_name,width', '-of', 'json', input], 20_000).done;
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { streams: Array<{ codec_name: string; width?: number }> }).streams;
}

/**
 * Send raw bytes on a new connection; resolves once `responses` answers have arrived (plus a
 * moment to see whether the server closes), when the server closes, or after 3 s.
 */
function raw(data: string | Buffer, responses = 1): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(data));
    let text = '';
    let closed = false;
    const done = () => {
      s.destroy();
      resolve({ text, closed });
    };
    s.on('data', (d) => {
      text += d.toString('latin1');
      if ((text.match(/RTSP\/1\.0 \d{3} /g) ?? []).length >= responses) setTimeout(done, 150);
    });
    s.on('close', () => {
      closed = true;
      done();
    });
    s.on('error', () => {});
    setTimeout(done, 3000).unref();
  });
}

test.before(async () => {
  h = await startLive({ 'rtsp.enabled': 'true', 'rtsp.sessionTimeoutMs': '2000', 'live.staticKeys': 'cam1:secret,cam2:other,cam3:third,cam4:fourth,cam5:fifth' });
  port = h.strom.live.rtsp!.port()!;
});
const pubs: Array<ReturnType<typeof run>> = [];
test.after(async () => {
  for (const p of pubs) p.child.kill('SIGKILL'); // publishers first: the server then closes without live sessions
  await h.close();
});

test('ffmpeg publishes over RTSP/TCP (key in the path) and RTSP/UDP (Digest), and both play as HTTP-FLV and LL-HLS', async () => {
  const live = h.strom.live;
  const started = new Set<string>();
  live.events.on('publish.start', (e) => started.add(e.streamId));
  pubs.push(rtspPublish(url('secret'), 'tcp'), rtspPublish(`rtsp://cam2:other@127.0.0.1:${port}/live/cam2`, 'udp'), ffmpegPublish(h.rtmpPort, 'third', PUBLISH_S));
  await until(() => started.has('cam1') && started.has('cam2') && started.has('cam3'), 'cam1 (RTSP/TCP), cam2 (RTSP/UDP, Digest) and cam3 (RTMP) published', 20_000);
  await sleep(1500);
  const [flv1, flv2, hls2] = await Promise.all([probe(`${h.httpUrl}/live/cam1.flv`), probe(`${h.httpUrl}/live/cam2.flv`), probe(`${h.httpUrl}/live/cam2/index.m3u8`)]);
  for (const s of [flv1, flv2, hls2]) {
    assert.deepEqual(s.map((x) => x.codec_name).sort(), ['aac', 'h264']);
    assert.equal(s.find((x) => x.codec_name === 'h264')!.width, 320);
  }
  const frames = await decodedFrames(['-i', `${h.httpUrl}/live/cam2.flv`], 2);
  assert.ok(frames.video >= 25 && frames.audio >= 25, `HTTP-FLV of the UDP publisher decodes: ${JSON.stringify(frames)}`);
  const st = live.status('cam2');
  assert.equal(st.video?.width, 320);
  assert.equal(st.publisher?.remote.startsWith('127.0.0.1:'), true);
  assert.equal(h.strom.live.rtsp!.stats.publishers, 2);
});

test('ffmpeg reads RTSP over TCP and UDP and decodes frames, of RTSP- and RTMP-published streams', async () => {
  const viewers = until(() => h.strom.live.status('cam1').viewers.rtsp >= 1, 'the RTSP reader is counted as a viewer', 10_000);
  const [tcp, udp, rtmp] = await Promise.all([
    decodedFrames(['-rtsp_transport', 'tcp', '-i', url('cam1')], 2),
    decodedFrames(['-rtsp_transport', 'udp', '-i', url('cam2')], 2),
    decodedFrames(['-rtsp_transport', 'tcp', '-i', url('cam3')], 2),
    viewers,
  ]);
  for (const [name, f] of [['tcp', tcp], ['udp', udp], ['rtmp→rtsp', rtmp]] as const) {
    assert.ok(f.video >= 25, `${name}: ${f.video} video frames in 2 s`);
    assert.ok(f.audio >= 25, `${name}: ${f.audio} audio frames in 2 s`);
  }
  const streams = await probe(url('cam3'), ['-rtsp_transport', 'tcp']);
  assert.deepEqual(streams.map((x) => x.codec_name).sort(), ['aac', 'h264']);
  const stats = h.strom.live.rtsp!.stats;
  assert.ok(stats.bytesOut > 100_000 && stats.bytesIn > 100_000, JSON.stringify(stats));
  assert.ok((stats.requests['PLAY 200'] ?? 0) >= 3);
});

test('a wrong password or unknown key gets 401 and publishes nothing', async () => {
  const before = h.strom.live.rtsp!.stats.authFailures.publish ?? 0;
  const wrong = await rtspPublish(`rtsp://cam4:wrong@127.0.0.1:${port}/live/cam4`, 'tcp', 2).done;
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /401|Unauthorized/);
  const unknown = await raw(`ANNOUNCE ${url('nokey')} RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: 0\r\n\r\n`);
  assert.match(unknown.text, /^RTSP\/1\.0 401 Unauthorized\r\n/);
  assert.match(unknown.text, /WWW-Authenticate: Digest realm="Strom", nonce="[^"]+", algorithm="MD5"\r\n/);
  assert.match(unknown.text, /WWW-Authenticate: Basic realm="Strom"\r\n/);
  assert.equal(h.strom.live.registry.get('cam4')?.active ?? false, false);
  assert.ok((h.strom.live.rtsp!.stats.authFailures.publish ?? 0) >= before + 1, 'the wrong password is counted (a first request without credentials is only challenged)');
});

test('malformed requests are refused with 400/413/501/505 and the server keeps serving', async () => {
  const noCseq = await raw('OPTIONS * RTSP/1.0\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 7\r\n\r\n', 2);
  assert.match(noCseq.text, /^RTSP\/1\.0 400 Bad Request\r\n[\s\S]*CSeq header missing[\s\S]*RTSP\/1\.0 200 OK\r\nCSeq: 7\r\n[\s\S]*Public: OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY/, 'a missing CSeq is a 400, and the connection goes on');
  const garbage = await raw('HELLO THERE\r\n\r\n');
  assert.match(garbage.text, /^RTSP\/1\.0 400 Bad Request\r\n[\s\S]*malformed request line/);
  assert.equal(garbage.closed, true);
  const huge = await raw(`OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  assert.match(huge.text, /^RTSP\/1\.0 413 /);
  const v2 = await raw('OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n');
  assert.match(v2.text, /^RTSP\/1\.0 505 /);
  const method = await raw('FLY * RTSP/1.0\r\nCSeq: 1\r\n\r\n');
  assert.match(method.text, /^RTSP\/1\.0 501 Not Implemented\r\n/);
  const notLive = await raw(`DESCRIBE ${url('nobody')} RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
  assert.match(notLive.text, /^RTSP\/1\.0 404 Not Found\r\n[\s\S]*nobody is not live/);
  const badSession = await raw(`PLAY ${url('cam1')} RTSP/1.0\r\nCSeq: 1\r\nSession: 12345\r\n\r\n`);
  assert.match(badSession.text, /^RTSP\/1\.0 454 Session Not Found/);
  const badTransport = await raw(`SETUP ${url('cam1')}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;multicast\r\n\r\n`);
  assert.match(badTransport.text, /^RTSP\/1\.0 461 Unsupported Transport/);
  const ok = await decodedFrames(['-rtsp_transport', 'tcp', '-i', url('cam1')], 1);
  assert.ok(ok.video > 0, 'still serving after the refusals');
  const refused = h.strom.live.rtsp!.stats.requests;
  assert.ok((refused['OTHER 400'] ?? 0) >= 1 && (refused['OPTIONS 400'] ?? 0) >= 1, JSON.stringify(refused));
});

test('a guarded stream: readers pass the playback token as ?token= or as the Basic password', async (t) => {
  h.strom.live.setPlaybackGuard((req, streamId) => {
    if (streamId !== 'cam3') return;
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
    if (token !== 'good') throw fail('PLAYBACK_DENIED', streamId, token === null ? 'a playback token is required' : 'bad token');
  });
  t.after(() => h.strom.live.setPlaybackGuard(null));
  const none = await raw(`DESCRIBE ${url('cam3')} RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
  assert.match(none.text, /^RTSP\/1\.0 401 Unauthorized\r\n[\s\S]*WWW-Authenticate: Basic realm="Strom"/);
  assert.doesNotMatch(none.text, /Digest/, 'Digest cannot carry a playback token: only Basic is offered to readers');
  const bad = await raw(`DESCRIBE ${url('cam3')}?token=nope RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
  assert.match(bad.text, /^RTSP\/1\.0 403 Forbidden\r\n/);
  const [byQuery, byPassword] = await Promise.all([
    probe(`${url('cam3')}?token=good`, ['-rtsp_transport', 'tcp']),
    probe(`rtsp://viewer:good@127.0.0.1:${port}/live/cam3`, ['-rtsp_transport', 'tcp']),
  ]);
  assert.deepEqual(byQuery.map((x) => x.codec_name).sort(), ['aac', 'h264']);
  assert.deepEqual(byPassword.map((x) => x.codec_name).sort(), ['aac', 'h264']);
  assert.ok((h.strom.live.rtsp!.stats.authFailures.read ?? 0) >= 1, 'the refused token is counted');
  const metrics = await (await fetch(`${h.httpUrl}/metrics`)).text();
  assert.match(metrics, /strom_rtsp_requests_total\{method="DESCRIBE",status="401"\} \d+/);
  assert.match(metrics, /strom_rtsp_sessions\{role="publish"\} \d+/);
  assert.match(metrics, /strom_rtsp_auth_failures_total\{role="read"\} [1-9]/);
});

const x265 = /libx265/.test(spawnSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' }).stdout) && /libopus/.test(spawnSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' }).stdout);

test('H.265 + Opus: ffmpeg publishes over RTSP and reads them back over RTSP', { skip: x265 ? false : 'this ffmpeg has no libx265/libopus' }, async () => {
  const started = h.strom.live.events.next('publish.start');
  const pub = run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'keyint=25:log-level=error', '-c:a', 'libopus', '-t', '20', '-f', 'rtsp', '-rtsp_transport', 'tcp', url('fifth')], 40_000);
  pubs.push(pub);
  assert.equal((await within(started, 'H.265 publish.start', 15_000)).streamId, 'cam5');
  await until(() => h.strom.live.status('cam5').video?.codec.startsWith('hvc1') === true && h.strom.live.status('cam5').audio?.codec === 'opus', 'H.265 and Opus configured', 10_000);
  assert.equal(h.strom.live.status('cam5').video?.width, 320);
  const frames = await decodedFrames(['-rtsp_transport', 'tcp', '-i', url('cam5')], 2);
  assert.ok(frames.video >= 25 && frames.audio >= 25, `H.265 + Opus decoded from RTSP: ${JSON.stringify(frames)}`);
  const streams = await probe(url('cam5'), ['-rtsp_transport', 'udp']);
  assert.deepEqual(streams.map((x) => x.codec_name).sort(), ['hevc', 'opus']);
  pub.child.kill('SIGKILL');
});

test('a session (or a bare connection) without requests or packets for rtsp.sessionTimeoutMs is closed', async () => {
  const bare = net.connect(port, '127.0.0.1');
  const bareClosed = new Promise((r) => bare.once('close', r));
  const s = net.connect(port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  let text = '';
  s.on('data', (d) => (text += d.toString()));
  const closed = new Promise((r) => s.once('close', r));
  s.write(`SETUP ${url('cam1')}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`);
  await until(() => text.includes('\r\n\r\n'), 'SETUP answered', 5_000);
  assert.match(text, /^RTSP\/1\.0 200 OK\r\n[\s\S]*Session: [0-9a-f]{16};timeout=2\r\n[\s\S]*Transport: RTP\/AVP\/TCP;unicast;interleaved=0-1;ssrc=[0-9A-F]{8}/);
  await within(closed, 'the idle session is closed', 8_000);
  await within(bareClosed, 'the idle connection without a session is closed', 2_000);
});

const gst = spawnSync('gst-inspect-1.0', ['rtspclientsink'], { stdio: 'ignore' }).status === 0 && spawnSync('gst-inspect-1.0', ['rtspsrc'], { stdio: 'ignore' }).status === 0;

test('GStreamer publishes H.264 + Opus with rtspclientsink and reads with rtspsrc', { skip: gst ? false : 'GStreamer with rtspclientsink/rtspsrc is not installed (scripts/setup.sh --test installs gstreamer1.0-tools, -rtsp, -plugins-good, -plugins-ugly, -libav)' }, async () => {
  const started = h.strom.live.events.next('publish.start');
  const pub = run('gst-launch-1.0', ['-q', 'videotestsrc', 'is-live=true', '!', 'video/x-raw,width=320,height=240,framerate=25/1', '!', 'x264enc', 'tune=zerolatency', 'speed-preset=ultrafast', 'key-int-max=25', '!', 'h264parse', '!', 's.',
    'audiotestsrc', 'is-live=true', '!', 'audioconvert', '!', 'opusenc', '!', 's.',
    'rtspclientsink', 'name=s', 'protocols=tcp', `location=${url('fourth')}`], 40_000);
  pubs.push(pub);
  const e = await within(started, 'GStreamer publish.start', 15_000);
  assert.equal(e.streamId, 'cam4');
  await sleep(1000);
  const st = h.strom.live.status('cam4');
  assert.equal(st.video?.width, 320);
  assert.equal(st.audio?.codec, 'opus');
  const viaRtsp = await probe(url('cam4'), ['-rtsp_transport', 'tcp']); // Opus out over RTP (RFC 7587) too
  assert.deepEqual(viaRtsp.map((x) => x.codec_name).sort(), ['h264', 'opus']);
  const read = await run('gst-launch-1.0', ['-q', 'rtspsrc', `location=${url('cam1')}`, 'protocols=tcp', '!', 'rtph264depay', '!', 'h264parse', '!', 'avdec_h264', '!', 'fakesink', 'num-buffers=25', 'sync=false'], 20_000).done;
  assert.equal(read.code, 0, `rtspsrc decoded 25 frames: ${read.stderr}`);
  pub.child.kill('SIGINT');
});
