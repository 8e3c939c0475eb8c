/**
 * processVideo end to end on tiny generated sources, checked with ffprobe and the manifest parsers:
 * codecs, keyframes aligned across rungs at the segment duration, durations, playlists, MPD,
 * download MP4, poster and storyboard; portrait/rotated, odd-sized and audio-only sources; and the
 * failure paths: abort mid-transcode, a decode failure midway — neither leaves anything behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { isStromError } from '../../src/errors.js';
import { thumbnailAt } from '../../src/vod/extras.js';
import { processVideo, type AssetSummary, type VodProgress } from '../../src/vod/process-video.js';
import { ffprobeJson, makeClip, scratch, vodTestConfig } from '../helpers/vod-fixtures.js';
import { parseM3u8, parseMpd } from '../helpers/vod-parsers.js';

const run = promisify(execFile);
let dir: string;
const assetsDir = (): string => path.join(dir, 'assets');
const tmpDir = (): string => path.join(dir, 'tmp');

before(() => {
  dir = scratch('process');
});
after(() => rm(dir, { recursive: true, force: true }));

interface Packet { pts_time?: string; flags?: string }

/** Keyframe times of a rung: init + segments concatenated into one fragmented MP4, read by ffprobe. */
async function keyframes(assetDir: string, rung: string): Promise<number[]> {
  const files = (await readdir(path.join(assetDir, rung))).filter((f) => f.endsWith('.m4s')).sort();
  const parts = [await readFile(path.join(assetDir, rung, 'init.mp4')), ...(await Promise.all(files.map((f) => readFile(path.join(assetDir, rung, f)))))];
  const joined = path.join(dir, `${rung}-joined.mp4`);
  await writeFile(joined, Buffer.concat(parts));
  const j = await ffprobeJson(['-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', joined]);
  return (j.packets as Packet[]).filter((p) => p.flags?.startsWith('K')).map((p) => Math.round(Number(p.pts_time) * 1000) / 1000);
}

let main: AssetSummary;
const progress: VodProgress[] = [];
let playableAt = -1;

test('a 640x360 source becomes a 360/240/144 ladder plus a128, with progress and an early onPlayable', async () => {
  const source = await makeClip(path.join(dir, 'main.mp4'), { width: 640, height: 360, seconds: 4 });
  main = await processVideo({
    source, assetsDir: assetsDir(), tmpDir: tmpDir(), assetId: 'main', config: vodTestConfig(),
    onProgress: (p) => progress.push(p),
    onPlayable: () => {
      playableAt = progress.length;
      assert.ok(existsSync(path.join(assetsDir(), 'main', 'master.m3u8')), 'master published before onPlayable');
    },
  });
  assert.deepEqual(main.renditions.map((r) => r.name), ['v360', 'v240', 'v144', 'a128']);
  assert.deepEqual(main.renditions.filter((r) => r.kind === 'video').map((r) => `${r.width}x${r.height}`), ['640x360', '426x240', '256x144']);
  for (const r of main.renditions) assert.match(r.codecs, r.kind === 'video' ? /^avc1\.[0-9a-f]{6}$/ : /^mp4a\.40\.2$/);
  assert.ok(playableAt >= 0, 'onPlayable was called');
  assert.equal(progress[0]!.phase, 'probe');
  assert.equal(progress.at(-1)!.phase, 'done');
  assert.ok(progress.some((p) => p.phase === 'transcode' && p.percent > 0), 'transcode progress reported');
  assert.deepEqual(await readdir(tmpDir()), [], 'work directory removed');
});

test('keyframes are aligned across rungs at every segment boundary', async () => {
  const a = path.join(assetsDir(), 'main');
  const k360 = await keyframes(a, 'v360');
  // Times are relative to the first frame (the source's own start offset, e.g. AAC priming, is kept).
  assert.deepEqual(k360.map((t) => Math.round((t - k360[0]!) * 1000) / 1000), [0, 1, 2, 3]);
  assert.deepEqual(await keyframes(a, 'v240'), k360);
  assert.deepEqual(await keyframes(a, 'v144'), k360);
});

test('media playlists are VOD with ENDLIST; master carries every attribute', async () => {
  const a = path.join(assetsDir(), 'main');
  const masterText = await readFile(path.join(a, 'master.m3u8'), 'utf8');
  assert.match(masterText, /#EXT-X-INDEPENDENT-SEGMENTS/);
  const master = parseM3u8(masterText);
  assert.equal(master.playlists?.length, 3);
  for (const p of master.playlists!) {
    const at = p.attributes;
    assert.ok(Number(at.BANDWIDTH) >= Number(at['AVERAGE-BANDWIDTH']) && Number(at['AVERAGE-BANDWIDTH']) > 0, JSON.stringify(at));
    assert.match(String(at.CODECS), /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/);
    assert.equal(at['FRAME-RATE'], 30);
    assert.equal(at.AUDIO, 'aud');
  }
  assert.deepEqual(master.playlists!.map((p) => p.attributes.RESOLUTION), [{ width: 640, height: 360 }, { width: 426, height: 240 }, { width: 256, height: 144 }]);
  assert.equal(master.mediaGroups?.AUDIO?.aud?.audio?.uri, 'a128/index.m3u8');
  for (const rung of ['v360', 'v240', 'v144', 'a128']) {
    const media = parseM3u8(await readFile(path.join(a, rung, 'index.m3u8'), 'utf8'));
    assert.equal(media.endList, true);
    assert.equal(media.playlistType, 'VOD');
    const total = media.segments!.reduce((s, x) => s + x.duration, 0);
    assert.ok(Math.abs(total - 4) < 0.1, `${rung} lasts ${total}`);
    assert.equal(media.segments![0]!.map?.uri, 'init.mp4');
    if (rung.startsWith('v')) assert.deepEqual(media.segments!.map((s) => s.duration), [1, 1, 1, 1]);
  }
});

test('the MPD describes the same segments, parsed by mpd-parser', async () => {
  const a = path.join(assetsDir(), 'main');
  const m = parseMpd(await readFile(path.join(a, 'manifest.mpd'), 'utf8'));
  assert.ok(Math.abs(m.duration! - 4) < 0.1, `duration ${m.duration}`);
  assert.deepEqual(m.playlists!.map((p) => p.attributes.NAME), ['v360', 'v240', 'v144']);
  for (const p of m.playlists!) {
    assert.equal(p.segments!.length, 4);
    for (const s of p.segments!) assert.ok(existsSync(path.join(a, s.uri)), `${s.uri} exists`);
  }
  const audio = Object.values(m.mediaGroups!.AUDIO!)[0]!;
  const audioPl = Object.values(audio)[0]!.playlists![0]!;
  assert.equal(audioPl.attributes.CODECS, 'mp4a.40.2');
  assert.equal(audioPl.segments![0]!.map?.uri, 'a128/init.mp4');
});

test('download.mp4 is faststart H.264 + AAC; poster and storyboard are made', async () => {
  const a = path.join(assetsDir(), 'main');
  // Top-level boxes in file order: faststart puts moov before mdat (ISO/IEC 14496-12 §8.2).
  const file = await readFile(path.join(a, 'download.mp4'));
  const boxes: string[] = [];
  for (let off = 0; off + 8 <= file.length; off += file.readUInt32BE(off)) boxes.push(file.toString('latin1', off + 4, off + 8));
  assert.ok(boxes.includes('mdat') && boxes.indexOf('moov') < boxes.indexOf('mdat'), `box order ${boxes.join(',')}`);
  const j = await ffprobeJson(['-show_entries', 'stream=codec_name,width,height:format=duration', path.join(a, 'download.mp4')]);
  const streams = j.streams as { codec_name: string; width?: number }[];
  assert.deepEqual(streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
  assert.equal(streams.find((s) => s.codec_name === 'h264')!.width, 640);
  const poster = await ffprobeJson(['-show_entries', 'stream=width,height', path.join(a, 'poster.jpg')]);
  assert.deepEqual(poster.streams, [{ width: 640, height: 360 }]);
  const vtt = await readFile(path.join(a, 'storyboard.vtt'), 'utf8');
  assert.match(vtt, /^WEBVTT/);
  assert.equal((vtt.match(/storyboard\.jpg#xywh=\d+,\d+,160,90/g) ?? []).length, 4);
  const sprite = await ffprobeJson(['-show_entries', 'stream=width,height', path.join(a, 'storyboard.jpg')]);
  assert.deepEqual(sprite.streams, [{ width: 640, height: 90 }]);
});

test('thumbnailAt returns a JPEG of the requested width from an asset directory', async () => {
  const jpeg = await thumbnailAt(path.join(assetsDir(), 'main'), 2.5, 200);
  assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);
  const file = path.join(dir, 'thumb.jpg');
  await writeFile(file, jpeg);
  assert.deepEqual((await ffprobeJson(['-show_entries', 'stream=width,height', file])).streams, [{ width: 200, height: 112 }]);
  await assert.rejects(thumbnailAt(path.join(assetsDir(), 'main'), 99, 200), (e: unknown) => isStromError(e, 'VALIDATION_FAILED') && e.message.includes('99'));
});

test('a rotated (portrait) source with non-square pixels becomes upright, square-pixel, even-sized rungs', async () => {
  // 320x240 coded, SAR 4:3 (display 427x240), rotated 90° → displayed 240x427 portrait.
  const coded = await makeClip(path.join(dir, 'ana.mp4'), { width: 320, height: 240, seconds: 2, extra: ['-aspect', '16:9'] });
  const src = path.join(dir, 'portrait.mp4');
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', coded, '-c', 'copy', '-metadata:s:v', 'rotate=90', src]);
  const s = await processVideo({ source: src, assetsDir: assetsDir(), tmpDir: tmpDir(), assetId: 'portrait', config: vodTestConfig() });
  assert.deepEqual(s.renditions.filter((r) => r.kind === 'video').map((r) => `${r.name}:${r.width}x${r.height}`), ['v240:240x426', 'v144:144x256']);
  const j = await ffprobeJson(['-show_entries', 'stream=width,height,sample_aspect_ratio:stream_side_data=rotation', path.join(s.dir, 'download.mp4')]);
  const v = (j.streams as { width?: number; height?: number; sample_aspect_ratio?: string; side_data_list?: unknown[] }[]).find((x) => x.width)!;
  assert.deepEqual([v.width, v.height], [240, 426]);
  assert.ok(v.sample_aspect_ratio === undefined || v.sample_aspect_ratio === '1:1', `SAR ${v.sample_aspect_ratio}`);
  assert.equal(v.side_data_list, undefined, 'no rotation left in the output');
});

test('an odd-sized source smaller than every rung gets one even rung at its own size', async () => {
  const src = await makeClip(path.join(dir, 'odd.mp4'), { width: 201, height: 113, seconds: 2, extra: ['-pix_fmt', 'yuv444p'] });
  const s = await processVideo({ source: src, assetsDir: assetsDir(), tmpDir: tmpDir(), assetId: 'odd', config: vodTestConfig() });
  assert.deepEqual(s.renditions.map((r) => `${r.name}:${r.width ?? ''}x${r.height ?? ''}`), ['v112:200x112', 'a128:x']);
});

test('an audio-only source becomes an audio-only asset (HLS variant, DASH audio set, download, no poster)', async () => {
  const src = await makeClip(path.join(dir, 'song.m4a'), { video: false, seconds: 3 });
  const s = await processVideo({ source: src, assetsDir: assetsDir(), tmpDir: tmpDir(), assetId: 'song', config: vodTestConfig() });
  assert.equal(s.audioOnly, true);
  assert.deepEqual(s.renditions.map((r) => r.name), ['a128']);
  assert.equal(s.files.poster, null);
  const master = parseM3u8(await readFile(path.join(s.dir, 'master.m3u8'), 'utf8'));
  assert.deepEqual(master.playlists!.map((p) => [p.uri, p.attributes.CODECS]), [['a128/index.m3u8', 'mp4a.40.2']]);
  const mpd = parseMpd(await readFile(path.join(s.dir, 'manifest.mpd'), 'utf8'));
  assert.equal(mpd.playlists?.length ?? 0, 0);
  assert.ok(mpd.mediaGroups?.AUDIO && Object.keys(mpd.mediaGroups.AUDIO).length === 1);
  const j = await ffprobeJson(['-show_entries', 'stream=codec_name', path.join(s.dir, 'download.mp4')]);
  assert.deepEqual(j.streams, [{ codec_name: 'aac' }]);
});

test('abort mid-transcode (after the asset became playable) kills ffmpeg and removes everything', async () => {
  const src = await makeClip(path.join(dir, 'long.mp4'), { width: 320, height: 180, seconds: 20 });
  const ac = new AbortController();
  let sawPublished = false;
  const job = processVideo({
    source: src, assetsDir: assetsDir(), tmpDir: tmpDir(), assetId: 'aborted', config: vodTestConfig({ 'vod.preset': 'medium' }), signal: ac.signal,
    onPlayable: () => {
      sawPublished = existsSync(path.join(assetsDir(), 'aborted', 'master.m3u8'));
      ac.abort(new Error('user cancelled'));
    },
  });
  await assert.rejects(job, (err: unknown) => isStromError(err, 'TRANSCODE_ABORTED') && err.message.includes('user cancelled'));
  assert.equal(sawPublished, true, 'the asset was partly published before the abort');
  assert.equal(existsSync(path.join(assetsDir(), 'aborted')), false, 'assets/<id> removed');
  assert.deepEqual(await readdir(tmpDir()), [], 'tmp work dir removed');
});

test('a decode failure midway (media data cut in half) → MEDIA_DECODE_FAILED and nothing published', async () => {
  const whole = await makeClip(path.join(dir, 'whole.mp4'), { width: 320, height: 180, seconds: 6, faststart: true });
  const bytes = await readFile(whole);
  const cut = path.join(dir, 'cut.mp4');
  await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await assert.rejects(
    processVideo({ source: cut, assetsDir: assetsDir(), tmpDir: tmpDir(), assetId: 'cut', config: vodTestConfig() }),
    (err: unknown) => isStromError(err, 'MEDIA_DECODE_FAILED') && /decoding failed at \d/.test(err.message),
  );
  assert.equal(existsSync(path.join(assetsDir(), 'cut')), false);
  assert.deepEqual(await readdir(tmpDir()), []);
});

test('a probe rejection publishes nothing and an existing asset directory is never overwritten', async () => {
  const empty = path.join(dir, 'empty.mov');
  await writeFile(empty, '');
  await assert.rejects(processVideo({ source: empty, assetsDir: assetsDir(), tmpDir: tmpDir(), assetId: 'empty', config: vodTestConfig() }), (e: unknown) => isStromError(e, 'MEDIA_EMPTY'));
  assert.equal(existsSync(path.join(assetsDir(), 'empty')), false);
  await assert.rejects(processVideo({ source: path.join(dir, 'main.mp4'), assetsDir: assetsDir(), tmpDir: tmpDir(), assetId: 'main', config: vodTestConfig() }), (e: unknown) => isStromError(e, 'TRANSCODE_FAILED'));
  assert.ok(existsSync(path.join(assetsDir(), 'main', 'master.m3u8')), 'the existing asset is untouched');
});
