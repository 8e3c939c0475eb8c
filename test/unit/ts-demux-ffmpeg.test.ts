/**
 * TS demuxer against ffmpeg's own MPEG-TS muxer: H.264 (B-frames) + AAC, H.265 + AAC and
 * H.264 + Opus, 2 s at 30 fps with a keyframe every 30 frames. Units must match what ffprobe reads
 * from the same file — counts, keyframes, timestamps to the tick — with configuration units first,
 * monotonic dts, pts ≥ dts and the right frame durations, in any input chunking.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { hevcSpsInfo } from '../../src/live/formats/ts/hevc.js';
import { parseAvcConfig, parseHevcConfig } from '../../src/live/formats/video/nal.js';
import { aacInfo } from '../../src/live/stream/codec-config.js';
import { opusHeadInfo } from '../../src/live/formats/audio/opus-toc.js';
import { demux, ffmpegTs, hasEncoder, prng, probe, sh, tempDir, unitKey, type ProbePacket, type Variant } from './ts-fixtures.js';

const dir = tempDir();
const opus = hasEncoder('libopus');

/** Units of a kind must equal ffprobe's packets of that kind: count, times (±1 tick), keyframes. */
function matchProbe(units: MediaUnit[], packets: ProbePacket[], kind: string, checkKeys: boolean): void {
  assert.equal(units.length, packets.length, `${kind} count`);
  units.forEach((u, i) => {
    const p = packets[i]!;
    assert.ok(Math.abs(u.dts * 90 - p.dts) <= 1, `${kind} #${i} dts ${u.dts * 90} vs ${p.dts}`);
    assert.ok(Math.abs(u.pts * 90 - p.pts) <= 1, `${kind} #${i} pts ${u.pts * 90} vs ${p.pts}`);
    if (checkKeys) assert.equal(u.keyframe, p.key, `${kind} #${i} keyframe`);
  });
}

function check(v: Variant): void {
  const file = ffmpegTs(dir, v);
  const { units, demuxer } = demux(readFileSync(file), 1316);
  const c = demuxer.counters();
  assert.deepEqual([c.ccErrors, c.resyncs, c.droppedPes, c.psiCrcErrors, c.transportErrors, c.droppedUnits], [0, 0, 0, 0, 0, 0], JSON.stringify(c));
  assert.ok(c.packets > 300 && c.pes > 60);

  const video = units.filter((u) => u.kind === 'video');
  const audio = units.filter((u) => u.kind === 'audio');
  assert.ok(video[0]!.config && audio[0]!.config, 'a configuration unit comes first on each track');
  assert.equal(video.filter((u) => u.config).length, 1, 'parameter sets do not change: one video config');
  assert.equal(audio.filter((u) => u.config).length, 1);

  const frames = video.filter((u) => !u.config);
  const samples = audio.filter((u) => !u.config);
  assert.equal(frames.length, 60, '2 s at 30 fps');
  const t0 = Math.min(...frames.map((u) => u.pts));
  assert.deepEqual(frames.filter((u) => u.keyframe).map((u) => Math.round(((u.pts - t0) * 30) / 1000)), [0, 30], 'keyframes shown at frames 0 and 30 (-g 30)');
  const probed = probe(file);
  matchProbe(frames, probed.video, 'video', true);
  matchProbe(samples, probed.audio, 'audio', false);

  for (const list of [frames, samples]) {
    list.forEach((u, i) => {
      assert.ok(u.pts >= u.dts, `pts ≥ dts at #${i}`);
      if (i > 0) assert.ok(u.dts > list[i - 1]!.dts, `dts increases at #${i}`);
    });
  }
  for (let i = 1; i < frames.length; i++) assert.ok(Math.abs(frames[i]!.dts - frames[i - 1]!.dts - 1000 / 30) < 0.02, `frame duration at #${i}`);
  const frameMs = v === 'h264-opus' ? 20 : (1024 * 1000) / (v === 'h264-aac' ? 44100 : 48000);
  for (let i = 1; i < samples.length; i++) assert.ok(Math.abs(samples[i]!.dts - samples[i - 1]!.dts - frameMs) < 0.02, `audio frame duration at #${i}`);

  // The configuration records describe the stream ffmpeg encoded.
  const vc = video[0]!;
  if (v === 'hevc-aac') {
    const rec = parseHevcConfig(vc.payload)!;
    const sps = rec.nalus.find((n) => ((n[0]! >> 1) & 0x3f) === 33)!;
    assert.deepEqual([rec.nalus.length, hevcSpsInfo(sps)?.width, hevcSpsInfo(sps)?.height], [3, 160, 128]); // x265 pads to 8×8 CTB multiples
    assert.equal(vc.body.toString('latin1', 1, 5), 'hvc1');
  } else {
    const rec = parseAvcConfig(vc.payload)!;
    assert.deepEqual([rec.nalus.length, rec.lengthSize, rec.nalus[0]![0]! & 0x1f, rec.nalus[1]![0]! & 0x1f], [2, 4, 7, 8]);
  }
  const ac = audio[0]!;
  if (v === 'h264-opus') assert.deepEqual(opusHeadInfo(ac.payload), { channels: 2, preSkip: 312 });
  else assert.deepEqual(aacInfo(ac.payload), { codecString: 'mp4a.40.2', sampleRate: v === 'h264-aac' ? 44100 : 48000, channels: v === 'h264-aac' ? 1 : 2 });
  for (const u of frames) assert.ok(u.payload.readUInt32BE(0) + 4 <= u.payload.length, 'length-prefixed NAL units');

  // Any chunking gives the same units: single bytes, odd sizes, random splits.
  const want = units.map(unitKey);
  const rnd = prng(7);
  for (const step of [1, 187, 189, 4096, (i: number) => 1 + Math.floor(rnd() * (i % 3 === 0 ? 50 : 3000))]) {
    assert.deepEqual(demux(readFileSync(file), step).units.map(unitKey), want, `chunking ${typeof step === 'number' ? step : 'random'}`);
  }
}

test('H.264 with B-frames + AAC from ffmpeg: units match ffprobe', () => check('h264-aac'));
test('H.265 + AAC from ffmpeg: units match ffprobe, HEVCDecoderConfigurationRecord from VPS/SPS/PPS', () => check('hevc-aac'));
test('H.264 + Opus from ffmpeg: control headers parsed, OpusHead from the extension descriptor and start_trim', { skip: opus ? false : 'this ffmpeg has no libopus encoder' }, () => check('h264-opus'));

test('open-GOP H.264: I pictures with a recovery point SEI are keyframes, as ffprobe flags them', () => {
  const file = `${dir}/open-gop.ts`;
  sh('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=30', '-t', '3',
    '-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', '-sc_threshold', '0', '-bf', '2', '-x264-params', 'open-gop=1', '-f', 'mpegts', file]);
  const frames = demux(readFileSync(file)).units.filter((u) => !u.config);
  const probed = probe(file).video;
  matchProbe(frames, probed, 'video', true);
  assert.equal(frames.filter((u) => u.keyframe).length, 3, 'the IDR and two recovery points');
});
