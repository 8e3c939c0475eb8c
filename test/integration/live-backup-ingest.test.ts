/**
 * Backup ingest: a primary and a backup publisher on one key. The backup waits as standby; when
 * the primary drops, an HTTP-FLV viewer that stays connected gets the backup's cached GOP (from its
 * keyframe) and then its live frames, with timestamps continuing monotonically; when a primary
 * returns it takes over at its first keyframe and the backup goes back to standby. Each switch is a
 * `publish.switch` event, the stream never stops, and the status shows the standby.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import type { FlvTag } from '../../src/live/formats/flv/flv-demuxer.js';
import type { LiveEventMap } from '../../src/live/stream/live-events.js';
import { aacFrameBody, avcFrameBody, ffmpegPublish, flvViewer, run, startLive, syntheticPublisher, waitUntil } from '../helpers/live-fixtures.js';
import { assertLlConformant } from '../helpers/ll-hls.js';

const BACKUP = 100_000;
const PRIMARY2 = 200_000;

/** 20 fps frames `from..to` (keyframe every 10th); the video payload carries `tag + i`; timestamps start at `tsBase`. */
function frames(c: RtmpClient, from: number, to: number, tag: number, tsBase: number): void {
  for (let i = from; i <= to; i++) {
    c.send(9, tsBase + i * 50, avcFrameBody(i % 10 === 0, tag + i, 300));
    c.send(8, tsBase + i * 50, aacFrameBody(40));
  }
}

/** Coded video frames (not sequence headers) of a viewer, with the number each carries. */
function videoFrames(tags: readonly FlvTag[]): Array<{ seq: number; ts: number; key: boolean }> {
  return tags.filter((t) => t.type === 9 && t.body[1] === 1).map((t) => ({ seq: t.body.readUInt32BE(5), ts: t.timestamp, key: (t.body[0]! >> 4) === 1 }));
}

test('primary drops → the viewer gets the backup within one GOP; the primary returns at its keyframe', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const reg = h.strom.live.registry;
  const switches: Array<LiveEventMap['publish.switch']> = [];
  const stops: string[] = [];
  reg.events.on('publish.switch', (e) => switches.push(e));
  reg.events.on('publish.stop', (e) => stops.push(e.sessionId));
  const busTypes: string[] = [];
  h.strom.bus.subscribe((e) => busTypes.push(e.type));

  const primary = await syntheticPublisher(h.rtmpPort);
  frames(primary, 0, 12, 0, 0);
  await waitUntil(() => reg.get('cam1')?.active === true, 'primary live');
  const viewer = flvViewer(`${h.httpUrl}/live/cam1.flv`);
  await viewer.res;
  const primaryId = reg.status('cam1').publisher!.sessionId;

  const backup = await syntheticPublisher(h.rtmpPort, 'secret?backup=1');
  await waitUntil(() => reg.status('cam1').standby !== null, 'backup waits as standby');
  const st = reg.status('cam1');
  assert.equal(st.publisher?.sessionId, primaryId, 'the primary stays active');
  assert.equal(st.standby?.role, 'backup');
  const backupId = st.standby!.sessionId;
  // The backup's encoder has another timeline (starts at 500 s) and keeps a GOP from its keyframe 10.
  frames(backup, 0, 14, BACKUP, 500_000);
  frames(primary, 13, 25, 0, 0);
  await waitUntil(() => videoFrames(viewer.tags).some((f) => f.seq === 25), 'primary frames reach the viewer');
  assert.ok(videoFrames(viewer.tags).every((f) => f.seq < BACKUP), 'standby frames are not fanned out');

  // Primary drops: the viewer stays and gets the backup's cached GOP from keyframe 10, then live frames.
  const switched = reg.events.next('publish.switch');
  const before = videoFrames(viewer.tags).length;
  primary.destroy();
  const s1 = await switched;
  assert.deepEqual({ from: s1.from, to: s1.to }, { from: primaryId, to: backupId });
  assert.match(s1.reason, /primary left/);
  frames(backup, 15, 30, BACKUP, 500_000);
  await waitUntil(() => videoFrames(viewer.tags).some((f) => f.seq === BACKUP + 30), 'backup live frames reach the viewer');
  const after = videoFrames(viewer.tags).slice(before);
  assert.deepEqual(after[0], { ...after[0]!, seq: BACKUP + 10, key: true }, 'the first backup frame is its cached keyframe');
  assert.deepEqual(after.map((f) => f.seq), Array.from({ length: 21 }, (_, i) => BACKUP + 10 + i), 'cached GOP then live frames, none lost');
  const last = videoFrames(viewer.tags)[before - 1]!;
  assert.ok(after[0]!.ts > last.ts && after[0]!.ts - last.ts <= 50, `rebased: ${last.ts} → ${after[0]!.ts} (one frame)`);
  let status = reg.status('cam1');
  assert.equal(status.state, 'active');
  assert.equal(status.publisher?.sessionId, backupId);
  assert.equal(status.standby, null);
  assert.deepEqual(stops, [], 'no publish.stop across a switch');

  // The primary returns: it waits until its first keyframe, then takes over; the backup goes back to standby.
  const primary2 = await syntheticPublisher(h.rtmpPort);
  await waitUntil(() => reg.status('cam1').standby?.role === 'primary', 'returning primary waits as standby');
  const primary2Id = reg.status('cam1').standby!.sessionId;
  frames(primary2, 5, 9, PRIMARY2, 9_000); // no keyframe yet: the backup stays active
  frames(backup, 31, 33, BACKUP, 500_000);
  await waitUntil(() => videoFrames(viewer.tags).some((f) => f.seq === BACKUP + 33), 'backup still on air');
  assert.equal(switches.length, 1);
  const back = reg.events.next('publish.switch');
  frames(primary2, 10, 20, PRIMARY2, 9_000);
  const s2 = await back;
  assert.deepEqual({ from: s2.from, to: s2.to }, { from: backupId, to: primary2Id });
  frames(backup, 34, 40, BACKUP, 500_000); // standby again: not fanned out
  await waitUntil(() => videoFrames(viewer.tags).some((f) => f.seq === PRIMARY2 + 20), 'primary frames after its keyframe');
  const tail = videoFrames(viewer.tags).slice(videoFrames(viewer.tags).findIndex((f) => f.seq === BACKUP + 33) + 1);
  assert.deepEqual(tail.map((f) => f.seq), Array.from({ length: 11 }, (_, i) => PRIMARY2 + 10 + i), 'the primary from its keyframe; no more backup frames');
  status = reg.status('cam1');
  assert.equal(status.publisher?.sessionId, primary2Id);
  assert.deepEqual(status.standby, { sessionId: backupId, remote: status.standby!.remote, role: 'backup' });

  const ts = videoFrames(viewer.tags).map((f) => f.ts);
  for (let i = 1; i < ts.length; i++) assert.ok(ts[i]! > ts[i - 1]!, `video timestamps increase: ${ts[i - 1]} → ${ts[i]} at ${i}`);
  assert.equal(switches.length, 2);
  assert.deepEqual(stops, []);
  assert.equal(busTypes.filter((x) => x === 'live.publish.switch').length, 2, 'webhooks and SSE get live.publish.switch');
  assert.ok(!busTypes.includes('live.publish.stop'));
  assert.ok(h.logs.some((l) => l.msg === 'publisher switch' && l.streamId === 'cam1' && typeof l.reason === 'string'), 'switches are logged');
  const metrics = await (await fetch(`${h.httpUrl}/metrics`)).text();
  assert.match(metrics, /strom_live_publisher_switches_total\{to="backup"\} 1/);
  assert.match(metrics, /strom_live_publisher_switches_total\{to="primary"\} 1/);

  // The standby backup leaving changes nothing for viewers; then the primary ends the stream.
  backup.destroy();
  await waitUntil(() => reg.status('cam1').standby === null, 'standby gone');
  assert.equal(reg.status('cam1').state, 'active');
  primary2.destroy();
  await viewer.ended;
  assert.equal(reg.status('cam1').state, 'idle');
  assert.deepEqual(stops, [primary2Id], 'one publish.stop when the stream ends');
});

test('a backup alone publishes normally; a returning primary takes over at its keyframe; a second backup replaces the standby backup', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const reg = h.strom.live.registry;
  const b1 = await syntheticPublisher(h.rtmpPort, 'secret?backup=1');
  frames(b1, 0, 10, BACKUP, 0);
  await waitUntil(() => reg.status('cam1').state === 'active', 'a lone backup is live');
  assert.equal(reg.status('cam1').standby, null);
  const p = await syntheticPublisher(h.rtmpPort);
  await waitUntil(() => reg.status('cam1').standby?.role === 'primary', 'primary waits for its keyframe');
  frames(p, 0, 3, 0, 0);
  await waitUntil(() => reg.status('cam1').standby?.role === 'backup', 'primary took over at its keyframe');
  const b1Id = reg.status('cam1').standby!.sessionId;
  const b2 = await syntheticPublisher(h.rtmpPort, 'secret?backup=1');
  await waitUntil(() => reg.status('cam1').standby !== null && reg.status('cam1').standby!.sessionId !== b1Id, 'the second backup replaced the first');
  await waitUntil(() => b1.socket.destroyed || b1.socket.readableEnded, 'the replaced backup was closed');
  b2.destroy();
  p.destroy();
});

test('live.takeover=reject: a backup is accepted as standby, a second primary and a second backup are refused', async (t) => {
  const h = await startLive({ 'live.takeover': 'reject' });
  t.after(() => h.close());
  const reg = h.strom.live.registry;
  const p = await syntheticPublisher(h.rtmpPort);
  const b = await syntheticPublisher(h.rtmpPort, 'secret?backup=1');
  assert.equal(reg.status('cam1').standby?.sessionId !== undefined, true);
  await assert.rejects(syntheticPublisher(h.rtmpPort), /publish failed/);
  await assert.rejects(syntheticPublisher(h.rtmpPort, 'secret?backup=1'), /publish failed/);
  b.destroy();
  p.destroy();
});

test('two ffmpeg encoders (320x240 primary, 480x270 backup): an LL-HLS client keeps getting parts across the switch, with a new init segment (and an LL-DASH period)', async (t) => {
  const h = await startLive({ 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 1000 });
  const reg = h.strom.live.registry;
  const primary = ffmpegPublish(h.rtmpPort, 'secret', 30);
  const backup = ffmpegPublish(h.rtmpPort, 'secret?backup=1', 30, ['-vf', 'scale=480:270']);
  t.after(async () => {
    primary.child.kill('SIGKILL');
    backup.child.kill('SIGKILL');
    await h.close();
  });
  // ffmpeg may connect in either order: a primary arriving second takes over at its first keyframe.
  await waitUntil(() => reg.status('cam1').standby?.role === 'backup', 'primary live and backup standby', 15_000);
  const base = `${h.httpUrl}/live/cam1`;
  let pl = '';
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${base}/index.m3u8`);
    if (r.status === 200) {
      pl = await r.text();
      break;
    }
    await sleep(100);
  }
  assertLlConformant(pl);
  const fetched = new Set<string>();
  const decodeTimes: number[] = [];
  const fetchParts = async (text: string) => {
    for (const m of text.matchAll(/URI="([^"]+)"/g)) {
      const uri = m[1]!;
      if (fetched.has(uri) || text.includes(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${uri}"`)) continue; // not produced yet
      const r = await fetch(`${base}/${uri}`);
      assert.equal(r.status, 200, uri);
      const bytes = Buffer.from(await r.arrayBuffer());
      assert.ok(bytes.length > 0, uri);
      fetched.add(uri);
      const tfdt = bytes.indexOf('tfdt'); // the first traf is the video track's
      if (tfdt > 0) decodeTimes.push(bytes[tfdt + 4] === 1 ? Number(bytes.readBigUInt64BE(tfdt + 8)) : bytes.readUInt32BE(tfdt + 8));
    }
  };
  await fetchParts(pl);
  const msnOf = (text: string) => Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)![1]) + (text.match(/#EXTINF/g) ?? []).length;
  let next = msnOf(pl);
  const blocking = async (msn: number) => {
    const r = await fetch(`${base}/index.m3u8?_HLS_msn=${msn}`);
    assert.equal(r.status, 200, `blocking reload msn ${msn}`);
    const text = await r.text();
    assertLlConformant(text);
    await fetchParts(text);
    return text;
  };
  pl = await blocking(next++);
  const switched = reg.events.next('publish.switch');
  primary.child.kill('SIGKILL');
  const e = await switched;
  assert.equal(e.configChanged, true, 'the encoders differ in resolution');
  // Keep reloading: the playlist continues, with a discontinuity and a new map for the backup's size.
  for (let i = 0; i < 4; i++) pl = await blocking(next++);
  assert.match(pl, /#EXT-X-DISCONTINUITY/);
  const maps = [...pl.matchAll(/#EXT-X-MAP:URI="([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(maps.some((u) => /_1\.mp4/.test(u)), `a new init segment: ${maps.join(', ')}`);
  const init1 = Buffer.from(await (await fetch(`${base}/${maps.find((u) => /_1\.mp4/.test(u))!}`)).arrayBuffer());
  const tkhd = init1.indexOf('tkhd');
  assert.ok(tkhd > 0);
  // tkhd v0: width/height are the last 8 bytes of the 84-byte box (16.16 fixed point).
  const box = init1.subarray(tkhd - 4, tkhd - 4 + init1.readUInt32BE(tkhd - 4));
  assert.deepEqual([box.readUInt32BE(box.length - 8) >>> 16, box.readUInt32BE(box.length - 4) >>> 16], [480, 270], 'the new init carries the backup size');
  assert.equal(reg.status('cam1').state, 'active');
  const mpd = await (await fetch(`${base}/manifest.mpd`)).text();
  assert.ok((mpd.match(/<Period\b/g) ?? []).length >= 2, `LL-DASH: a new period for the backup's configuration\n${mpd}`);
  for (let i = 1; i < decodeTimes.length; i++) assert.ok(decodeTimes[i]! > decodeTimes[i - 1]!, `part decode times increase across the switch: ${decodeTimes.join(',')}`);
  assert.ok(decodeTimes.length > 10, `${decodeTimes.length} parts`);
});

test('an SRT backup (stream id backup=1) stands by for an RTMP primary and takes over when it drops', async (t) => {
  const h = await startLive({ 'srt.enabled': 'true' });
  const reg = h.strom.live.registry;
  const srtPort = h.strom.live.srt!.port()!;
  const primary = ffmpegPublish(h.rtmpPort, 'secret', 30);
  t.after(async () => {
    primary.child.kill('SIGKILL');
    await h.close();
  });
  await waitUntil(() => reg.status('cam1').publisher !== null, 'RTMP primary live', 15_000);
  const backup = run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-c:a', 'aac', '-t', '30', '-f', 'mpegts', `srt://127.0.0.1:${srtPort}?streamid=#!::r=secret,m=publish,backup=1`], 50_000);
  t.after(() => backup.child.kill('SIGKILL'));
  await waitUntil(() => reg.status('cam1').standby?.sessionId.startsWith('srt') === true, 'the SRT backup waits as standby', 15_000);
  assert.equal(reg.status('cam1').standby?.role, 'backup');
  const viewer = flvViewer(`${h.httpUrl}/live/cam1.flv`);
  await viewer.waitTags(30);
  await sleep(1500); // the standby caches a GOP (1 s keyframe interval)
  const switched = reg.events.next('publish.switch');
  const before = viewer.tags.length;
  primary.child.kill('SIGKILL');
  const e = await switched;
  assert.ok(e.to.startsWith('srt'), `switched to the SRT backup: ${e.to}`);
  await viewer.waitTags(before + 50, 10_000);
  const video = viewer.tags.filter((x) => x.type === 9 && x.body[1] === 1);
  for (let i = 1; i < video.length; i++) assert.ok(video[i]!.timestamp >= video[i - 1]!.timestamp, `video timestamps monotonic at ${i}`);
  assert.equal(reg.status('cam1').state, 'active');
  assert.equal(reg.status('cam1').publisher?.sessionId, e.to);
});
