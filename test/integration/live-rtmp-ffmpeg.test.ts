/** Live ingest with the real client: ffmpeg publishes over RTMP; ffprobe/ffmpeg read HTTP-FLV and RTMP back. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeAmf0 } from '../../src/live/rtmp/amf0.js';
import { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { ffmpegPublish, flvViewer, run, startLive, syntheticPublisher } from '../helpers/live-fixtures.js';
import { within } from '../helpers/until.js';

interface Packet { codec_type: string; dts_time: string; flags: string }

/** Packets of a media file, per stream type. */
async function packets(file: string): Promise<Packet[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=codec_type,dts_time,flags', '-of', 'json', file]).done;
  return (JSON.parse(stdout) as { packets: Packet[] }).packets;
}

/** Codec names/sizes ffprobe sees at `url`. */
async function probe(url: string): Promise<Array<{ codec_name: string; width?: number; height?: number; sample_rate?: string }>> {
  const { stdout, code, stderr } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height,sample_rate', '-of', 'json', url], 15_000).done;
  assert.equal(code, 0, stderr);
  return (JSON.parse(stdout) as { streams: Array<{ codec_name: string }> }).streams;
}

function assertContinuous(pkts: Packet[], type: string, maxGapS: number): void {
  const dts = pkts.filter((p) => p.codec_type === type).map((p) => Number(p.dts_time));
  assert.ok(dts.length > 10, `${type}: ${dts.length} packets`);
  for (let i = 1; i < dts.length; i++) {
    assert.ok(dts[i]! >= dts[i - 1]!, `${type} dts goes back at ${i}: ${dts[i - 1]} → ${dts[i]}`);
    assert.ok(dts[i]! - dts[i - 1]! <= maxGapS, `${type} gap at ${i}: ${dts[i - 1]} → ${dts[i]}`);
  }
}

test('ffmpeg publishes; HTTP-FLV and RTMP play read back with codecs, continuous timestamps and status', async (t) => {
  const h = await startLive();
  const tmp = mkdtempSync(path.join(tmpdir(), 'strom-live-out-'));
  t.after(async () => {
    await h.close();
    rmSync(tmp, { recursive: true, force: true });
  });
  const started = h.strom.live.events.next('publish.start');
  const pub = ffmpegPublish(h.rtmpPort, 'secret', 9);
  t.after(() => pub.child.kill('SIGKILL'));
  const start = await within(started, 'publish.start of the first ffmpeg');
  assert.equal(start.streamId, 'cam1');
  // Listened for now: on a loaded machine the reads below can outlast the 9 s publish.
  const stopped = h.strom.live.events.next('publish.stop');
  await sleep(1500);

  const streams = await probe(`${h.httpUrl}/live/cam1.flv`);
  assert.deepEqual(streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
  assert.equal(streams.find((s) => s.codec_name === 'h264')!.width, 320);
  assert.equal(streams.find((s) => s.codec_name === 'aac')!.sample_rate, '44100');
  const rtmpStreams = await probe(`rtmp://127.0.0.1:${h.rtmpPort}/live/cam1`);
  assert.deepEqual(rtmpStreams.map((s) => s.codec_name).sort(), ['aac', 'h264']);

  const outFlv = path.join(tmp, 'http.flv');
  const outRtmp = path.join(tmp, 'rtmp.flv');
  const viaHttp = run('ffmpeg', ['-v', 'error', '-i', `${h.httpUrl}/live/cam1.flv`, '-t', '3', '-c', 'copy', '-y', outFlv]);
  const viaRtmp = run('ffmpeg', ['-v', 'error', '-i', `rtmp://127.0.0.1:${h.rtmpPort}/live/cam1`, '-t', '3', '-c', 'copy', '-y', outRtmp]);
  await sleep(1000);
  const status = h.strom.live.status('cam1');
  assert.equal(status.state, 'active');
  assert.match(status.video!.codec, /^avc1\.[0-9a-f]{6}$/);
  assert.equal(status.audio!.codec, 'mp4a.40.2');
  assert.equal(status.video!.width, 320);
  assert.ok(status.ingestBitrate > 0 && status.fps > 0, JSON.stringify(status));
  assert.equal(status.viewers['http-flv'], 1);
  assert.equal(status.viewers.rtmp, 1);
  for (const [r, file] of [[viaHttp, outFlv], [viaRtmp, outRtmp]] as const) {
    const res = await r.done;
    assert.equal(res.code, 0, res.stderr);
    const pkts = await packets(file);
    assertContinuous(pkts, 'video', 0.05);
    assertContinuous(pkts, 'audio', 0.05);
    assert.equal(pkts.find((p) => p.codec_type === 'video')!.flags[0], 'K', `${file} starts with a keyframe`);
  }
  await pub.done;
  assert.equal((await within(stopped, 'publish.stop after ffmpeg ended')).streamId, 'cam1');
  assert.equal(h.strom.live.status('cam1').state, 'idle');
});

test('a new viewer starts with onMetaData, sequence headers, then a keyframe', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const started = h.strom.live.events.next('publish.start');
  const pub = ffmpegPublish(h.rtmpPort, 'secret', 6);
  t.after(() => pub.child.kill('SIGKILL'));
  await within(started, 'publish.start');
  await sleep(2300); // mid-GOP (GOP is 1 s)
  const v = flvViewer(`${h.httpUrl}/live/cam1.flv`);
  const res = await v.res;
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'video/x-flv');
  await v.waitTags(6);
  v.req.destroy();
  const [meta, vcfg, acfg, ...rest] = v.tags;
  assert.equal(meta!.type, 18);
  assert.equal(decodeAmf0(meta!.body)[0], 'onMetaData');
  assert.deepEqual([vcfg!.type, vcfg!.body[0], vcfg!.body[1]], [9, 0x17, 0], 'AVC sequence header');
  assert.deepEqual([acfg!.type, acfg!.body[0], acfg!.body[1]], [8, 0xaf, 0], 'AAC sequence header');
  const firstVideo = rest.find((x) => x.type === 9)!;
  assert.equal(firstVideo.body[0]! >> 4, 1, 'first video frame is a keyframe');
  assert.equal(firstVideo.body[1], 1);
  assert.ok(firstVideo.timestamp > 1000, `joined the live GOP, not the start (ts ${firstVideo.timestamp})`);
});

test('an unknown key gets NetStream.Publish.BadName, a closed session and a logged reason', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const rejected = h.strom.live.events.next('publish.rejected');
  const pub = ffmpegPublish(h.rtmpPort, 'wrong-key', 2);
  const res = await pub.done;
  assert.notEqual(res.code, 0);
  assert.match(res.stderr, /unknown stream key/);
  assert.equal((await within(rejected, 'publish.rejected for the wrong key')).key, 'wrong-key');
  const c = await RtmpClient.connect('127.0.0.1', h.rtmpPort, 'live');
  assert.equal(await within(c.publish('nope'), 'onStatus for an unknown key'), 'NetStream.Publish.BadName');
  await within(c.closed, 'the server closing a refused publisher');
  assert.ok(h.logs.some((l) => l.msg === 'rtmp session closed' && String(l.reason).includes('unknown stream key')));
  assert.equal(h.strom.live.status('cam1').state, 'idle');
  const res404 = await fetch(`${h.httpUrl}/live/cam1.flv`);
  assert.equal(res404.status, 404);
  assert.equal(((await res404.json()) as { error: { code: string } }).error.code, 'LIVE_STREAM_NOT_FOUND');
});

test('a second ffmpeg on the same key takes over without the viewer reconnecting', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const first = ffmpegPublish(h.rtmpPort, 'secret', 30);
  t.after(() => first.child.kill('SIGKILL'));
  await within(h.strom.live.events.next('publish.start'), 'publish.start of the first ffmpeg');
  await sleep(1200);
  const v = flvViewer(`${h.httpUrl}/live/cam1.flv`);
  await v.waitTags(20);
  const takeover = h.strom.live.events.next('publish.start', (e) => e.takeover);
  const second = ffmpegPublish(h.rtmpPort, 'secret', 30);
  t.after(() => second.child.kill('SIGKILL'));
  const e = await within(takeover, 'publish.start with takeover from the second ffmpeg');
  assert.equal(e.streamId, 'cam1');
  const firstExit = await within(first.done, 'the replaced ffmpeg exiting');
  assert.notEqual(firstExit.code, 0, 'the replaced publisher was disconnected');
  const before = v.tags.length;
  await v.waitTags(before + 40);
  assert.equal(h.strom.live.status('cam1').viewers.total, 1, 'same viewer, still attached');
  const videoTs = v.tags.filter((x) => x.type === 9 && x.body[1] === 1).map((x) => x.timestamp);
  for (let i = 1; i < videoTs.length; i++) assert.ok(videoTs[i]! >= videoTs[i - 1]!, `timestamps continue across takeover at ${i}`);
  const configs = v.tags.map((x, i) => (x.type === 9 && x.body[1] === 0 ? i : -1)).filter((i) => i >= 0);
  assert.equal(configs.length, 2, 'the new publisher sequence header reached the viewer');
  const afterTakeover = v.tags.slice(configs[1]).filter((x) => x.type === 9 && x.body[1] === 1);
  assert.equal(afterTakeover[0]!.body[0]! >> 4, 1, 'viewer resumes at the new publisher keyframe');
  v.req.destroy();
  second.child.kill('SIGINT');
  await second.done;
});

test('live.takeover=reject refuses a second publisher and keeps the first', async (t) => {
  const h = await startLive({ 'live.takeover': 'reject' });
  t.after(() => h.close());
  const a = await syntheticPublisher(h.rtmpPort);
  t.after(() => a.destroy());
  const b = await RtmpClient.connect('127.0.0.1', h.rtmpPort, 'live');
  assert.equal(await within(b.publish('secret'), 'onStatus for a second publisher'), 'NetStream.Publish.BadName');
  await within(b.closed, 'the server closing the refused publisher');
  const s = h.strom.live.status('cam1');
  assert.equal(s.state, 'active');
  assert.ok(h.logs.some((l) => String(l.reason).includes('already has a publisher')));
});
