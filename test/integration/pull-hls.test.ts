/**
 * Pulled HLS sources: ffmpeg writes a live HLS playlist (MPEG-TS and fMP4 segments, a window of 5,
 * old segments deleted) served by a small static server; hlsConnector delivers config units first,
 * keyframes, increasing timestamps per track, audio and video, paced on the wall clock. A master
 * playlist: the highest BANDWIDTH is followed, a separate audio rendition beside it. Strom's own
 * LL-HLS output of an ffmpeg-RTMP publish as a source. Bad sources: a 404 master (refused), a
 * malformed playlist, a segment above the byte limit, a server that never answers, a redirect
 * loop (each fails the connect, nothing left open); ENDLIST plays out; a stalled playlist ends.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isStromError } from '../../src/errors.js';
import { hlsConnector } from '../../src/live/pull/sources/hls-source.js';
import { ffmpegPublish, run, startLive } from '../helpers/live-fixtures.js';
import { connectOptions, RecordingSink } from '../helpers/source-sink.js';
import { until, within } from '../helpers/until.js';

/** A static server over `dir` (or `handler` first); records the paths asked for and counts open connections. */
async function serve(t: TestContext, dir: string | null, handler?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean) {
  const state = { asked: [] as string[], open: 0, url: '' };
  const server = http.createServer((req, res) => {
    state.asked.push(req.url!);
    if (handler?.(req, res) === true) return;
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    readFile(path.join(dir ?? '/nonexistent', path.normalize(req.url!.split('?')[0]!))).then((b) => {
      if (range === null) return res.end(b);
      res.writeHead(206, { 'content-range': `bytes ${range[1]}-${range[2]}/${b.length}` }).end(b.subarray(Number(range[1]), Number(range[2]) + 1));
    }, () => res.writeHead(404).end());
  });
  server.on('connection', (s) => {
    state.open++;
    s.on('close', () => state.open--);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-pull-hls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** ffmpeg writing live HLS (1 s segments, window 5) into `dir` for `seconds`. */
function liveHls(t: TestContext, dir: string, seconds: number, args: string[], playlist: string) {
  const p = run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-c:a', 'aac', '-t', String(seconds),
    '-f', 'hls', '-hls_time', '1', '-hls_list_size', '5', '-hls_flags', 'delete_segments', ...args, path.join(dir, playlist)], (seconds + 20) * 1000);
  t.after(() => p.child.kill('SIGKILL'));
  return p;
}

/** What every source must deliver: per track config first, a keyframe, increasing dts. */
function assertMedia(sink: RecordingSink): void {
  for (const kind of ['video', 'audio'] as const) {
    const units = sink.of(kind);
    assert.ok(units.length > 20, `${kind}: ${units.length} units`);
    assert.equal(units[0]!.config, true, `${kind}: config first`);
    const frames = units.filter((u) => !u.config);
    for (let i = 1; i < frames.length; i++) assert.ok(frames[i]!.dts >= frames[i - 1]!.dts, `${kind} dts ${frames[i - 1]!.dts} → ${frames[i]!.dts}`);
  }
  assert.equal(sink.of('video')[0]!.codec, 'avc');
  assert.equal(sink.of('audio')[0]!.codec, 'aac');
  assert.ok(sink.of('video').find((u) => !u.config)!.keyframe, 'the first video frame is a keyframe');
}

/** Units came at the rate they play: their media span and the wall time they took agree (loosely). */
function assertPaced(sink: RecordingSink): void {
  const video = sink.units.filter((d) => d.u.kind === 'video' && !d.u.config);
  const media = video.at(-1)!.u.dts - video[0]!.u.dts;
  const wall = video.at(-1)!.at - video[0]!.at;
  assert.ok(media > 1500, `media span ${media} ms`);
  assert.ok(wall > 0.6 * media && wall < 1.5 * media + 1000, `wall ${wall} ms for ${media} ms of media`);
}

async function pull(url: string, sink: RecordingSink, ms: number, o = connectOptions({ timeoutMs: 15_000 })): Promise<void> {
  const conn = await hlsConnector.connect(new URL(url), sink, o);
  await new Promise((r) => setTimeout(r, ms));
  conn.close('test done');
  assert.equal((await within(conn.closed, 'closed')).reason, 'test done');
}

for (const type of ['mpegts', 'fmp4'] as const) {
  test(`live ${type} HLS from ffmpeg: config first, keyframes, increasing dts, paced`, async (t) => {
    const dir = tempDir(t);
    const ext = type === 'fmp4' ? 'm4s' : 'ts';
    liveHls(t, dir, 14, ['-hls_segment_type', type, '-hls_segment_filename', path.join(dir, `s%d.${ext}`)], 'live.m3u8');
    const server = await serve(t, dir);
    await until(async () => (await readFile(path.join(dir, 'live.m3u8'), 'utf8').catch(() => '')).split('#EXTINF').length > 4, 'four segments written', 20_000);
    const sink = new RecordingSink();
    await pull(`${server.url}/live.m3u8?token=hush`, sink, 5_000);
    assertMedia(sink);
    assertPaced(sink);
    assert.ok(sink.metas.some((m) => m.width === 320 && m.height === 240), JSON.stringify(sink.metas));
    assert.ok(server.asked.filter((a) => a.startsWith('/live.m3u8')).length >= 3, 'the playlist was reloaded');
    await until(() => server.open === 0, 'no connection left open');
  });
}

test('master playlist: the highest BANDWIDTH variant; a separate audio rendition followed beside it', async (t) => {
  const dir = tempDir(t);
  const ladder = ['-map', '0:v', '-map', '1:a', '-map', '0:v', '-map', '1:a', '-s:v:0', '160x120', '-b:v:0', '80k', '-b:v:1', '400k', '-var_stream_map', 'v:0,a:0 v:1,a:1'];
  liveHls(t, dir, 12, ['-hls_segment_type', 'mpegts', ...ladder, '-master_pl_name', 'master.m3u8', '-hls_segment_filename', path.join(dir, 'v%v_%d.ts')], 'v%v.m3u8');
  const separate = tempDir(t);
  liveHls(t, separate, 12, ['-map', '0:v', '-map', '1:a', '-hls_segment_type', 'fmp4', '-var_stream_map', 'v:0,agroup:aud a:0,agroup:aud', '-master_pl_name', 'master.m3u8', '-hls_segment_filename', path.join(separate, 'p%v_%d.m4s')], 'p%v.m3u8');
  const a = await serve(t, dir);
  const b = await serve(t, separate);
  const written = (d: string, f: string) => async () => (await readFile(path.join(d, f), 'utf8').catch(() => '')).split('#EXTINF').length > 4;
  await until(written(dir, 'v1.m3u8'), 'ladder segments', 20_000);
  await until(written(separate, 'p1.m3u8'), 'audio rendition segments', 20_000);
  const sink = new RecordingSink();
  await pull(`${a.url}/master.m3u8`, sink, 2_500);
  assertMedia(sink);
  assert.ok(a.asked.some((p) => p.startsWith('/v1')) && !a.asked.some((p) => p.startsWith('/v0')), a.asked.join(' '));
  assert.ok(sink.metas.every((m) => m.width === 320), JSON.stringify(sink.metas));
  const both = new RecordingSink();
  await pull(`${b.url}/master.m3u8`, both, 2_500);
  assertMedia(both);
  assert.ok(b.asked.some((p) => p.startsWith('/p0_')) && b.asked.some((p) => p.startsWith('/p1_')), b.asked.join(' '));
  const audioDts = both.of('audio').filter((u) => !u.config).map((u) => u.dts);
  const videoDts = both.of('video').filter((u) => !u.config).map((u) => u.dts);
  assert.ok(Math.abs(audioDts[0]! - videoDts[0]!) < 3000, `audio ${audioDts[0]} and video ${videoDts[0]} start together`);
});

test('Strom’s own LL-HLS output of an RTMP publish as a source', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const started = h.strom.live.events.next('publish.start');
  const pub = ffmpegPublish(h.rtmpPort, 'secret', 14);
  t.after(() => pub.child.kill('SIGKILL'));
  await within(started, 'publish.start');
  await until(async () => (await fetch(`${h.httpUrl}/live/cam1/index.m3u8`)).status === 200, 'LL-HLS playlist up', 15_000);
  await new Promise((r) => setTimeout(r, 3_000));
  const sink = new RecordingSink();
  await pull(`${h.httpUrl}/live/cam1/master.m3u8`, sink, 4_000);
  assertMedia(sink);
  assertPaced(sink);
});

test('ENDLIST (behind a redirect, with byte ranges) plays out to `source ended`; a playlist that stops advancing ends the source', async (t) => {
  const dir = tempDir(t);
  const { code, stderr } = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'aac', '-t', '2', '-f', 'hls', '-hls_time', '1', '-hls_list_size', '0', path.join(dir, 'vod.m3u8')]).done;
  assert.equal(code, 0, stderr);
  const single = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', path.join(dir, 'vod.m3u8'), '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_list_size', '0', '-hls_flags', 'single_file', path.join(dir, 'single.m3u8')]).done;
  assert.equal(single.code, 0, single.stderr);
  const vod = await readFile(path.join(dir, 'vod.m3u8'), 'utf8');
  writeFileSync(path.join(dir, 'stalled.m3u8'), vod.replace('#EXT-X-ENDLIST', ''));
  const server = await serve(t, dir, (req, res) => {
    if (!req.url!.startsWith('/old/moved.m3u8')) return false;
    res.writeHead(302, { location: '/vod.m3u8' }).end();
    return true;
  });
  const sink = new RecordingSink();
  // Through a redirect: segment URIs resolve against the playlist that answered.
  const conn = await hlsConnector.connect(new URL(`${server.url}/old/moved.m3u8`), sink, connectOptions());
  const end = await within(conn.closed, 'the VOD played out', 10_000);
  assert.deepEqual(end, { reason: 'source ended', permanent: false });
  assertMedia(sink);
  const lastVideo = sink.of('video').at(-1)!;
  assert.ok(lastVideo.dts - sink.of('video')[0]!.dts > 1800, 'played to the last frame');
  const ranged = new RecordingSink();
  const one = await hlsConnector.connect(new URL(`${server.url}/single.m3u8`), ranged, connectOptions());
  assert.equal((await within(one.closed, 'the byte-range playlist played out', 10_000)).reason, 'source ended');
  assertMedia(ranged);
  assert.equal(ranged.of('video').length, sink.of('video').length, 'EXT-X-BYTERANGE: the same frames from one file');
  const stalled = await hlsConnector.connect(new URL(`${server.url}/stalled.m3u8`), new RecordingSink(), connectOptions());
  const gone = await within(stalled.closed, 'a stalled playlist ends', 15_000);
  assert.match(gone.reason, /not advanced/);
  await until(() => server.open === 0, 'no connection left open');
});

test('after the start: a missing segment is retried then skipped, a discontinuity keeps the timeline going forward', async (t) => {
  const dir = tempDir(t);
  const { code, stderr } = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'aac', '-t', '6', '-f', 'hls', '-hls_time', '1', '-hls_list_size', '0', '-hls_segment_filename', path.join(dir, 's%d.ts'), path.join(dir, 'all.m3u8')]).done;
  assert.equal(code, 0, stderr);
  // A live playlist looping over the six segments, one more each second, a discontinuity at each loop; segment 5 is missing.
  const t0 = Date.now();
  const server = await serve(t, dir, (req, res) => {
    const p = req.url!.split('?')[0]!;
    if (p === '/loop.m3u8') {
      const n = Math.floor((Date.now() - t0) / 1000) + 4;
      const lines = ['#EXTM3U', '#EXT-X-TARGETDURATION:1', `#EXT-X-MEDIA-SEQUENCE:${Math.max(0, n - 5)}`];
      for (let i = Math.max(0, n - 5); i < n; i++) lines.push(...(i % 6 === 0 && i > 0 ? ['#EXT-X-DISCONTINUITY'] : []), '#EXTINF:1.0,', `seg${i}.ts`);
      res.end(lines.join('\n') + '\n');
      return true;
    }
    const m = /^\/seg(\d+)\.ts$/.exec(p);
    if (m === null || m[1] === '5') return false;
    req.url = `/s${Number(m[1]) % 6}.ts`;
    return false;
  });
  const sink = new RecordingSink();
  await pull(`${server.url}/loop.m3u8`, sink, 8_500, connectOptions());
  assert.equal(server.asked.filter((a) => a === '/seg5.ts').length, 3, 'the missing segment tried 3 times');
  assert.ok(server.asked.includes('/seg7.ts'), `went on past the loop: ${server.asked.join(' ')}`);
  assertMedia(sink);
  const dts = sink.of('video').filter((u) => !u.config).map((u) => u.dts);
  assert.ok(dts.at(-1)! - dts[0]! > 5000, `media went on: ${dts[0]} → ${dts.at(-1)}`);
});

test('bad sources fail the connect with the right error, secrets masked, nothing left open', async (t) => {
  const bigSegment = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nbig.ts\n#EXT-X-ENDLIST\n';
  const server = await serve(t, null, (req, res) => {
    const p = req.url!.split('?')[0]!;
    if (p === '/garbage.m3u8') res.end('<html>not a playlist</html>');
    else if (p === '/notarget.m3u8') res.end('#EXTM3U\n#EXTINF:2,\na.ts\n');
    else if (p === '/big.m3u8') res.end(bigSegment);
    else if (p === '/big.ts') res.end(Buffer.alloc(300_000, 0x47));
    else if (p === '/nosegment.m3u8') res.end(bigSegment.replace('big.ts', 'gone.ts'));
    else if (p === '/loop.m3u8') res.writeHead(302, { location: '/loop.m3u8?again=1' }).end();
    else if (p === '/silent.m3u8') return true;
    else res.writeHead(404).end('no');
    return true;
  });
  const fails = async (name: string, o = connectOptions()) => {
    const err = await hlsConnector.connect(new URL(`${server.url}/${name}?token=hush`), new RecordingSink(), o).then(() => null, (e: unknown) => e);
    assert.ok(isStromError(err), `${name}: ${String(err)}`);
    assert.doesNotMatch(err.message, /hush/);
    return err;
  };
  assert.equal((await fails('missing.m3u8')).code, 'LIVE_SOURCE_REFUSED');
  assert.equal((await fails('garbage.m3u8')).code, 'LIVE_SOURCE_PROTOCOL');
  assert.equal((await fails('notarget.m3u8')).code, 'LIVE_SOURCE_PROTOCOL');
  const big = await fails('big.m3u8', connectOptions({ maxBufferBytes: 100_000 }));
  assert.equal(big.code, 'LIVE_SOURCE_PROTOCOL');
  assert.match(big.message, /100000 bytes/);
  const gone = await fails('nosegment.m3u8');
  assert.equal(gone.code, 'LIVE_SOURCE_UNREACHABLE', 'a missing first segment is not a refused source');
  assert.match(gone.message, /HTTP 404/);
  const loop = await fails('loop.m3u8');
  assert.equal(loop.code, 'LIVE_SOURCE_PROTOCOL');
  assert.match(loop.message, /redirects/);
  assert.equal((await fails('silent.m3u8', connectOptions({ timeoutMs: 400 }))).code, 'LIVE_SOURCE_TIMEOUT');
  await until(() => server.open === 0, 'no connection left open', 5_000);
});
