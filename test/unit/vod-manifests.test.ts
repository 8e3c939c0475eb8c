/** Pure VOD builders: HLS playlists, the MPD, the ffmpeg ladder arguments, storyboard cues, progress parsing and the runner's stop paths. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStromError } from '../../src/errors.js';
import { dashManifest, frameRateAttr, segmentTimeline } from '../../src/vod/dash-manifest.js';
import { buildLadderArgs } from '../../src/vod/ffmpeg-args.js';
import { parseProgressBlock, runTool } from '../../src/vod/ffmpeg-runner.js';
import { storyboardLayout, storyboardVtt } from '../../src/vod/extras.js';
import { masterPlaylist, mediaPlaylist, parseMediaPlaylist, peakBitrate, startOrder, type PublishedTrack, type SegmentInfo } from '../../src/vod/hls-manifests.js';
import type { AudioRendition, VideoRendition } from '../../src/vod/ladder.js';
import { parseM3u8, parseMpd } from '../helpers/vod-parsers.js';

const segs = (durations: number[], bytes = 100_000): SegmentInfo[] => durations.map((d, i) => ({ uri: `seg_${String(i).padStart(5, '0')}.m4s`, durationS: d, bytes: Math.round(bytes * d) }));
const v720: PublishedTrack<VideoRendition> = { rendition: { kind: 'video', name: 'v720', width: 1280, height: 720, fps: 29.97, kbps: 2800 }, codecs: 'avc1.64001f', segments: segs([4, 4, 2.5]), initBytes: 800 };
const v360: PublishedTrack<VideoRendition> = { rendition: { kind: 'video', name: 'v360', width: 640, height: 360, fps: 29.97, kbps: 800 }, codecs: 'avc1.64001e', segments: segs([4, 4, 2.5], 30_000), initBytes: 800 };
const a128: PublishedTrack<AudioRendition> = { rendition: { kind: 'audio', name: 'a128', kbps: 128, channels: 2, sampleRate: 48000 }, codecs: 'mp4a.40.2', segments: segs([4.011, 4.011, 2.478], 16_000), initBytes: 600 };

test('EVENT media playlist starts at 0 without ENDLIST; the VOD one is the same list plus ENDLIST', () => {
  const event = mediaPlaylist(v720.segments.slice(0, 2), { segmentSeconds: 4, ended: false });
  assert.match(event, /#EXT-X-PLAYLIST-TYPE:EVENT/);
  assert.match(event, /#EXT-X-START:TIME-OFFSET=0/);
  assert.doesNotMatch(event, /ENDLIST/);
  const vod = parseM3u8(mediaPlaylist(v720.segments, { segmentSeconds: 4, ended: true }));
  assert.equal(vod.endList, true);
  assert.equal(vod.playlistType, 'VOD');
  assert.equal(vod.targetDuration, 4);
  assert.deepEqual(vod.segments!.map((s) => s.uri), ['seg_00000.m4s', 'seg_00001.m4s', 'seg_00002.m4s']);
  assert.equal(vod.segments![0]!.map?.uri, 'init.mp4');
});

test('target duration covers a segment that rounds above the nominal length', () => {
  assert.match(mediaPlaylist(segs([4, 4.6]), { segmentSeconds: 4, ended: true }), /#EXT-X-TARGETDURATION:5/);
});

test('peak bitrate takes the densest run of segments, ignoring a tiny tail segment', () => {
  const s: SegmentInfo[] = [{ uri: 'a', durationS: 4, bytes: 400_000 }, { uri: 'b', durationS: 4, bytes: 800_000 }, { uri: 'c', durationS: 0.02, bytes: 20_000 }];
  assert.equal(peakBitrate(s, 4), 1_600_000);
});

test('master: audio group, BANDWIDTH ≥ AVERAGE-BANDWIDTH, CODECS, RESOLUTION, FRAME-RATE, independent segments', () => {
  const text = masterPlaylist([v720, v360], a128, { segmentSeconds: 4, complete: true });
  assert.match(text, /^#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n/);
  const m = parseM3u8(text);
  const [top] = m.playlists!;
  assert.equal(top!.attributes.CODECS, 'avc1.64001f,mp4a.40.2');
  assert.deepEqual(top!.attributes.RESOLUTION, { width: 1280, height: 720 });
  assert.equal(top!.attributes['FRAME-RATE'], 29.97);
  assert.equal(top!.attributes.BANDWIDTH, 800_000 + 128_000);
  assert.equal(Number(top!.attributes['AVERAGE-BANDWIDTH']), 800_000 + 128_000);
  assert.equal(m.mediaGroups?.AUDIO?.aud?.audio?.uri, 'a128/index.m3u8');
  // Before the encode is complete, the nominal peak (maxrate 1.5×) is announced.
  assert.match(masterPlaylist([v720], a128, { segmentSeconds: 4, complete: false }), /BANDWIDTH=4340800,AVERAGE-BANDWIDTH=2928000/);
});

test('audio-only master has one audio variant and no EXT-X-MEDIA', () => {
  const text = masterPlaylist([], a128, { segmentSeconds: 4, complete: true });
  assert.doesNotMatch(text, /EXT-X-MEDIA:/);
  assert.deepEqual(parseM3u8(text).playlists!.map((p) => [p.uri, p.attributes.CODECS]), [['a128/index.m3u8', 'mp4a.40.2']]);
});

test('SegmentTimeline collapses repeats and never drifts on rounding', () => {
  assert.equal(segmentTimeline(segs([4, 4, 4, 1.5])), '<S t="0" d="4000" r="2"/><S d="1500"/>');
  assert.equal(segmentTimeline(segs([1.0005, 1.0005])), '<S t="0" d="1001"/><S d="1000"/>');
});

test('the MPD parses with mpd-parser into the same segment URLs as HLS', () => {
  const m = parseMpd(dashManifest([v720, v360], a128, { durationS: 10.5, segmentSeconds: 4 }));
  assert.equal(m.duration, 10.5);
  assert.deepEqual(m.playlists!.map((p) => [p.attributes.NAME, p.attributes.CODECS]), [['v720', 'avc1.64001f'], ['v360', 'avc1.64001e']]);
  assert.deepEqual(m.playlists![0]!.segments!.map((s) => [s.uri, s.duration]), [['v720/seg_00000.m4s', 4], ['v720/seg_00001.m4s', 4], ['v720/seg_00002.m4s', 2.5]]);
  assert.equal(frameRateAttr(29.97), '30000/1001');
  assert.equal(frameRateAttr(25), '25');
});

test('ladder arguments: one decode split N ways, aligned forced keyframes, AAC stereo, CMAF HLS output', () => {
  const args = buildLadderArgs({ source: 'in.mov', plan: [v720.rendition, v360.rendition, a128.rendition], segmentSeconds: 4, preset: 'veryfast', workDir: '/w', sourceFps: 29.97 });
  const at = (flag: string): string => args[args.indexOf(flag) + 1]!;
  assert.equal(args.filter((a) => a === '-i').length, 1);
  assert.match(at('-filter_complex'), /^\[0:v:0\]split=2\[s0\]\[s1\];\[s0\]scale=1280:720:flags=bicubic,setsar=1,format=yuv420p\[o0\];/);
  assert.equal(at('-force_key_frames'), 'expr:gte(t,n_forced*4)');
  assert.equal(at('-sc_threshold'), '0');
  assert.equal(at('-preset'), 'veryfast');
  assert.deepEqual([at('-c:a'), at('-ac'), at('-b:a')], ['aac', '2', '128k']);
  assert.equal(at('-hls_segment_type'), 'fmp4');
  assert.equal(at('-var_stream_map'), 'v:0,agroup:aud,name:v720 v:1,agroup:aud,name:v360 a:0,agroup:aud,name:a128');
  assert.equal(at('-hls_segment_filename'), '/w/%v/seg_%05d.m4s');
  // A frame rate above the plan's (capped) adds an fps filter before the split.
  const capped = buildLadderArgs({ source: 'in', plan: [{ ...v720.rendition, fps: 60 }], segmentSeconds: 2, preset: 'fast', workDir: '/w', sourceFps: 120 });
  assert.match(capped[capped.indexOf('-filter_complex') + 1]!, /^\[0:v:0\]fps=60,split=1/);
});

test('short first segment: keyframes at 0, 1, 5, 9…; video cut at hls_time 1, audio in its own muxer cutting every 4 s', () => {
  const args = buildLadderArgs({ source: 'in.mov', plan: [v720.rendition, v360.rendition, a128.rendition], segmentSeconds: 4, firstSegmentSeconds: 1, preset: 'veryfast', workDir: '/w' });
  const at = (flag: string, from = 0): string => args[args.indexOf(flag, from) + 1]!;
  assert.equal(at('-force_key_frames'), 'expr:gte(t,if(eq(n_forced,0),0,1+(n_forced-1)*4))');
  const outputs = args.flatMap((a, i) => (a === '-f' ? [i] : []));
  assert.equal(outputs.length, 2, 'two HLS muxers');
  assert.equal(at('-hls_time', outputs[0]), '1');
  assert.equal(at('-var_stream_map'), 'v:0,name:v720 v:1,name:v360', 'video only, no audio group in the video muxer');
  assert.equal(at('-hls_time', outputs[1]), '4');
  const audioMap = args.indexOf('0:a:0');
  assert.ok(audioMap > args.indexOf('/w/%v/index.m3u8'), 'the audio is mapped to the second output');
  assert.equal(at('-hls_segment_filename', outputs[1]), '/w/a128/seg_%05d.m4s');
  assert.equal(args.at(-1), '/w/a128/index.m3u8');
  // firstSegmentSeconds ≥ segmentSeconds, or 0: one muxer, as without it.
  for (const first of [0, 4, 6]) {
    const same = buildLadderArgs({ source: 'in', plan: [v720.rendition, a128.rendition], segmentSeconds: 4, firstSegmentSeconds: first, preset: 'fast', workDir: '/w' });
    assert.equal(same.filter((a) => a === '-f').length, 1);
    assert.equal(same[same.indexOf('-force_key_frames') + 1], 'expr:gte(t,n_forced*4)');
  }
});

test('start variant: the highest rung within startKbps is listed first, the rest highest first', () => {
  const rung = (kbps: number, h: number) => ({ rendition: { kind: 'video' as const, name: `v${h}`, width: Math.round(h * 16 / 9), height: h, fps: 30, kbps } });
  const ladder = [rung(5000, 1080), rung(2800, 720), rung(1400, 480), rung(800, 360)];
  const names = (l: Array<{ rendition: { name: string } }>) => l.map((x) => x.rendition.name);
  assert.deepEqual(names(startOrder(ladder, 1600)), ['v480', 'v1080', 'v720', 'v360']);
  assert.deepEqual(names(startOrder(ladder, 0)), ['v1080', 'v720', 'v480', 'v360'], '0: the top rung');
  assert.deepEqual(names(startOrder(ladder, 100)), ['v360', 'v1080', 'v720', 'v480'], 'none within: the lowest');
  assert.deepEqual(names(startOrder([rung(2800, 720)], 1600)), ['v720']);
  const master = masterPlaylist([v720, v360], a128, { segmentSeconds: 4, complete: true, startKbps: 1000 });
  assert.match(master, /#EXT-X-STREAM-INF:[^\n]*\nv360\/index\.m3u8\n#EXT-X-STREAM-INF:[^\n]*\nv720\/index\.m3u8/);
});

test('storyboard: at most one tile a second, cues map to #xywh tiles row by row', () => {
  const l = storyboardLayout(25, 1280, 720, 100);
  assert.deepEqual([l.tiles, l.columns, l.tileWidth, l.tileHeight, l.intervalS], [25, 10, 160, 90, 1]);
  const vtt = storyboardVtt(l, 25);
  assert.match(vtt, /^WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nstoryboard.jpg#xywh=0,0,160,90\n/);
  assert.match(vtt, /00:00:11.000 --> 00:00:12.000\nstoryboard.jpg#xywh=160,90,160,90\n/);
});

test('progress blocks parse into typed events', () => {
  assert.deepEqual(parseProgressBlock(['frame=10', 'out_time_us=2500000', 'speed=3.1x', 'progress=continue']), { outTimeS: 2.5, speed: 3.1, done: false });
  assert.deepEqual(parseProgressBlock(['out_time_us=N/A', 'speed=N/A', 'progress=continue']), null);
  assert.equal(parseProgressBlock(['out_time_us=1000000', 'speed=N/A', 'progress=end'])?.done, true);
  assert.deepEqual(parseMediaPlaylist('#EXTM3U\n#EXTINF:4.000000,\nseg_00000.m4s\n#EXT-X-ENDLIST\n'), { segments: [{ uri: 'seg_00000.m4s', durationS: 4 }], ended: true });
});

test('the runner kills a child on abort and on timeout with distinct errors', async () => {
  const ac = new AbortController();
  const running = runTool('sleep', ['30'], { signal: ac.signal, killGraceMs: 100 });
  setImmediate(() => ac.abort(new Error('stop now')));
  await assert.rejects(running, (e: unknown) => isStromError(e, 'TRANSCODE_ABORTED') && e.message.includes('stop now'));
  await assert.rejects(runTool('sleep', ['30'], { timeoutMs: 50, killGraceMs: 100 }), (e: unknown) => isStromError(e, 'TRANSCODE_TIMEOUT') && e.message.includes('50 ms'));
});
