/**
 * Reconnect window and slate: when the publisher of a stream leaves, viewers stay connected and get
 * a slate picture (encoded by real ffmpeg at the stream's size, frame rate and audio format) with
 * timestamps continuing; a publisher that comes back takes over at its keyframe
 * (`publish.resumed`); without one the stream ends when the window does. LL-HLS viewers get a
 * discontinuity with a new init segment at each change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { FlvTag } from '../../src/live/formats/flv/flv-demuxer.js';
import { SlateRenderer } from '../../src/live/slate/slate-renderer.js';
import { parseAvcConfig, parseHevcConfig } from '../../src/live/formats/video/nal.js';
import { ffmpegPublish, flvViewer, startLive, syntheticPublisher, sendFrames, waitUntil } from '../helpers/live-fixtures.js';
import { within } from '../helpers/until.js';

/** Coded video frames of a viewer (not sequence headers): timestamp and keyframe flag. */
function videoFrames(tags: readonly FlvTag[]): Array<{ ts: number; key: boolean }> {
  return tags.filter((t) => t.type === 9 && t.body[1] === 1).map((t) => ({ ts: t.timestamp, key: (t.body[0]! >> 4) === 1 }));
}

/** Coded video frames after the `n`th AVC sequence header (0-based) and before the next one. */
function framesAfterConfig(tags: readonly FlvTag[], n: number): Array<{ ts: number; key: boolean }> {
  const at = tags.map((t, i) => (t.type === 9 && t.body[1] === 0 ? i : -1)).filter((i) => i >= 0);
  return at[n] === undefined ? [] : videoFrames(tags.slice(at[n], at[n + 1]));
}

/** AVC sequence headers a viewer got, as hex (one per configuration change). */
function videoConfigs(tags: readonly FlvTag[]): string[] {
  return tags.filter((t) => t.type === 9 && t.body[1] === 0).map((t) => t.body.toString('hex'));
}

test('publisher leaves → viewers get the slate, the publisher returns → its picture, leaves again → the stream ends after the window', async (t) => {
  // 6 s: the encoder must be back within it, and the checks below plus an ffmpeg start take 2–3 s on a loaded machine.
  const h = await startLive({ 'live.reconnectWindowS': '6', 'llhls.partTargetMs': '200', 'llhls.segmentTargetMs': '1000' });
  const reg = h.strom.live.registry;
  let enc = ffmpegPublish(h.rtmpPort, 'secret', 40);
  t.after(async () => {
    enc.child.kill('SIGKILL');
    await h.close();
  });
  const bus: string[] = [];
  h.strom.bus.subscribe((e) => bus.push(e.type));
  await waitUntil(() => reg.status('cam1').state === 'active', 'the encoder is live', 15_000);
  const viewer = flvViewer(`${h.httpUrl}/live/cam1.flv`);
  await viewer.waitTags(60, 10_000);
  const firstSession = reg.status('cam1').publisher!.sessionId;
  const playlistBefore = await (await fetch(`${h.httpUrl}/live/cam1/index.m3u8`)).text();
  assert.doesNotMatch(playlistBefore, /#EXT-X-DISCONTINUITY\n/);

  // The encoder dies: the stream stays active and the viewer gets slate frames at the stream's rate.
  const interrupted = reg.events.next('publish.interrupted');
  const configsBefore = videoConfigs(viewer.tags).length;
  enc.child.kill('SIGKILL');
  const ev = await within(interrupted, 'publish.interrupted', 5_000);
  assert.deepEqual({ sessionId: ev.sessionId, window: ev.reconnectWindowS }, { sessionId: firstSession, window: 6 });
  const st = reg.status('cam1');
  assert.equal(st.state, 'active');
  assert.ok(st.slate !== null && Date.parse(st.slate.until) - Date.parse(st.slate.since) === 6000, JSON.stringify(st.slate));
  await waitUntil(() => framesAfterConfig(viewer.tags, configsBefore).length >= 25, 'a second of slate frames', 8_000);
  const slate = framesAfterConfig(viewer.tags, configsBefore);
  assert.equal(slate[0]!.key, true, 'the slate starts with a keyframe');
  assert.equal(videoConfigs(viewer.tags).length, configsBefore + 1, 'a new decoder configuration before the slate');
  const rec = parseAvcConfig(Buffer.from(videoConfigs(viewer.tags).at(-1)!, 'hex').subarray(5));
  assert.ok(rec !== null && rec.nalus.length >= 2, 'the slate carries SPS and PPS');
  const gaps = slate.slice(1, 25).map((f, i) => f.ts - slate[i]!.ts);
  assert.ok(gaps.every((g) => g >= 39 && g <= 41), `slate frames at the stream's 25 fps: ${gaps.join(',')}`);
  assert.ok(viewer.tags.some((t, i) => i > 0 && t.type === 8 && t.body[1] === 1 && t.timestamp > slate[0]!.ts), 'silent audio continues');
  // LL-HLS: the playlist goes on with a discontinuity and a new init segment.
  let pl = '';
  for (let i = 0; i < 40 && !/#EXT-X-DISCONTINUITY\n/.test(pl); i++) {
    pl = await (await fetch(`${h.httpUrl}/live/cam1/index.m3u8`)).text();
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(pl, /#EXT-X-DISCONTINUITY\n/);
  assert.match(pl, /#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="[^"]*_\d+\.mp4"/, "a new init segment after the discontinuity");

  // The encoder comes back within the window: it takes over at its keyframe.
  const resumed = reg.events.next('publish.resumed');
  const framesAtReturn = videoFrames(viewer.tags).length;
  enc = ffmpegPublish(h.rtmpPort, 'secret', 40);
  const back = await within(resumed, 'publish.resumed', 30_000);
  assert.equal(back.previousSessionId, firstSession);
  assert.ok(back.afterMs > 0 && back.afterMs < 6000, `${back.afterMs} ms`);
  const secondSession = back.sessionId;
  assert.equal(reg.status('cam1').publisher?.sessionId, secondSession);
  assert.equal(reg.status('cam1').slate, null);
  await waitUntil(() => videoFrames(viewer.tags).length >= framesAtReturn + 50, 'the returned encoder\'s frames', 8_000);
  assert.equal(videoConfigs(viewer.tags).length, configsBefore + 2, 'the encoder\'s configuration again');

  // It leaves for good: slate for the 6 s window, then the stream ends with one publish.stop.
  const stop = reg.events.next('publish.stop');
  const left = Date.now();
  enc.child.kill('SIGKILL');
  await within(reg.events.next('publish.interrupted'), 'second interruption', 5_000);
  const stopped = await within(stop, 'publish.stop after the window', 11_000);
  assert.ok(Date.now() - left >= 5900, `ended after the window (${Date.now() - left} ms)`);
  assert.equal(stopped.sessionId, secondSession);
  assert.match(stopped.reason, /reconnect window/);
  await within(viewer.ended, 'the viewer is ended with the stream', 5_000);
  assert.equal(reg.status('cam1').state, 'idle');
  const ts = videoFrames(viewer.tags).map((f) => f.ts);
  for (let i = 1; i < ts.length; i++) assert.ok(ts[i]! > ts[i - 1]!, `timestamps increase across every change: ${ts[i - 1]} → ${ts[i]} at ${i}`);
  assert.deepEqual(bus.filter((x) => /publish/.test(x)), ['live.publish.start', 'live.publish.interrupted', 'live.publish.resumed', 'live.publish.interrupted', 'live.publish.stop']);
  const metrics = await (await fetch(`${h.httpUrl}/metrics`)).text();
  assert.match(metrics, /strom_live_slate_total\{event="started"\} 2/);
  assert.match(metrics, /strom_live_slate_total\{event="resumed"\} 1/);
  assert.match(metrics, /strom_live_slate_total\{event="expired"\} 1/);
  assert.match(metrics, /strom_live_slate_renders_total\{result="cached"\} 1/);
});

test('a slate that cannot be rendered (missing live.slateImage) ends the stream at once, logged', async (t) => {
  const h = await startLive({ 'live.reconnectWindowS': '30', 'live.slateImage': '/nonexistent/slate.png' });
  t.after(() => h.close());
  const reg = h.strom.live.registry;
  const c = await syntheticPublisher(h.rtmpPort);
  sendFrames(c, 0, 20);
  await waitUntil(() => reg.status('cam1').state === 'active', 'live');
  const viewer = flvViewer(`${h.httpUrl}/live/cam1.flv`);
  await viewer.res;
  const stop = reg.events.next('publish.stop');
  c.destroy();
  const e = await within(stop, 'publish.stop', 5_000);
  assert.doesNotMatch(e.reason, /reconnect window/);
  await within(viewer.ended, 'viewer ended', 5_000);
  assert.equal(reg.status('cam1').state, 'idle');
  assert.ok(h.logs.some((l) => l.msg === 'no slate could be made: the stream ends' && JSON.stringify(l.err).includes('/nonexistent/slate.png')));
});

test('a publisher returning as a backup, or a second one, replaces the slate; shutdown during a slate ends cleanly', async (t) => {
  const h = await startLive({ 'live.reconnectWindowS': '60' });
  t.after(() => h.close());
  const reg = h.strom.live.registry;
  const a = await syntheticPublisher(h.rtmpPort);
  sendFrames(a, 0, 20);
  await waitUntil(() => reg.status('cam1').state === 'active', 'live');
  a.destroy();
  await within(reg.events.next('publish.interrupted'), 'slate', 5_000);
  const b = await syntheticPublisher(h.rtmpPort, 'secret?backup=1');
  await waitUntil(() => reg.status('cam1').standby?.role === 'primary', 'the backup waits for its keyframe');
  const resumed = reg.events.next('publish.resumed');
  sendFrames(b, 0, 3);
  const e = await within(resumed, 'resumed by the backup', 5_000);
  assert.equal(reg.status('cam1').publisher?.sessionId, e.sessionId);
  assert.equal(reg.status('cam1').standby, null, 'the slate is not kept as a standby');
  b.destroy();
  await within(reg.events.next('publish.interrupted'), 'slate again', 5_000);
  // Shutdown with a slate playing: no slate timers or renders keep the process alive.
});

test('slate clips match HEVC video and Opus audio, and are cached per parameter set', async () => {
  const r = new SlateRenderer(null, pino({ level: 'silent' }));
  const hevcConfig = { kind: 'video', codec: 'hevc', dts: 0, pts: 0, keyframe: false, config: true, payload: Buffer.alloc(0), body: Buffer.alloc(0) } as const;
  const req = { tracks: { video: { codec: 'hevc' as const, codecString: 'hvc1', config: { ...hevcConfig } }, audio: { codec: 'opus' as const, codecString: 'opus', channels: 2, config: { ...hevcConfig, kind: 'audio' as const, codec: 'opus' as const } } }, meta: { width: 426, height: 240 }, fps: 30 };
  const clip = await r.clipFor(req);
  assert.equal(clip.video?.config.codec, 'hevc');
  assert.ok(parseHevcConfig(clip.video!.config.payload) !== null, 'an HEVC decoder configuration record');
  assert.equal(clip.video!.frames.length, 30);
  assert.equal(clip.video!.frames[0]!.keyframe, true);
  assert.ok(clip.video!.frames.slice(1).every((f) => !f.keyframe), 'one GOP');
  assert.equal(clip.video!.durationMs, 1000);
  assert.equal(clip.audio?.config.codec, 'opus');
  assert.equal(clip.audio!.frameMs, 20);
  assert.equal(await r.clipFor(req), clip, 'cached');
  assert.deepEqual(r.stats, { renders: 1, failures: 0, cacheHits: 1 });
  const audioOnly = await r.clipFor({ tracks: { audio: { codec: 'aac', codecString: 'mp4a.40.2', sampleRate: 44_100, channels: 1, config: { ...hevcConfig, kind: 'audio', codec: 'aac' } } }, meta: {}, fps: 0 });
  assert.equal(audioOnly.video, null);
  assert.equal(audioOnly.audio?.config.codec, 'aac');
  assert.ok(Math.abs(audioOnly.audio!.frameMs - 1024_000 / 44_100) < 1e-9);
});

test('live ABR renditions go on through the slate (the transcoder gets the slate like any viewer)', { timeout: 120_000 }, async (t) => {
  const h = await startLive({ 'live.reconnectWindowS': '30', 'live.abrAll': 'true', 'live.abrLadder': '180p', 'live.abrPreset': 'ultrafast', 'llhls.segmentTargetMs': '1000', 'llhls.partTargetMs': '500' });
  const enc = ffmpegPublish(h.rtmpPort, 'secret', 40, ['-vf', 'scale=640:360']);
  t.after(async () => {
    enc.child.kill('SIGKILL');
    await h.close();
  });
  const reg = h.strom.live.registry;
  await waitUntil(() => reg.status('cam1').state === 'active', 'live', 15_000);
  const base = `${h.httpUrl}/live/cam1`;
  const msnOf = (text: string) => Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)![1]) + (text.match(/#EXTINF/g) ?? []).length;
  let master = '';
  for (let i = 0; i < 200 && !master.includes('180p/index.m3u8'); i++) {
    const r = await fetch(`${base}/master.m3u8`);
    master = r.status === 200 ? await r.text() : '';
    await new Promise((res) => setTimeout(res, 150));
  }
  assert.match(master, /180p\/index\.m3u8/, 'the 180p rendition is listed');
  const pid = h.strom.live.llhls.abr.transcoder('cam1')?.pid;
  enc.child.kill('SIGKILL');
  await within(reg.events.next('publish.interrupted'), 'slate', 5_000);
  const atSlate = msnOf(await (await fetch(`${base}/180p/index.m3u8`)).text());
  let pl = '';
  for (let msn = atSlate + 1; msn <= atSlate + 4; msn++) { // blocking reloads one segment ahead (§6.2.5.2: 400 further ahead)
    const r = await fetch(`${base}/180p/index.m3u8?_HLS_msn=${msn}`);
    assert.equal(r.status, 200, `the rendition reaches msn ${msn} (${atSlate} when the slate started)`);
    pl = await r.text();
  }
  assert.ok(msnOf(pl) >= atSlate + 4, pl);
  assert.equal(h.strom.live.llhls.abr.transcoder('cam1')?.pid, pid, 'the same transcoder child, not restarted');
});
