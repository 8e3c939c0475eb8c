/**
 * CMAF round trip: a real FLV (ffmpeg, H.264 with B-frames + AAC) → FLV tags → MediaUnits →
 * LiveSegmenter → init + parts; ffprobe must read back the same samples (sizes), timestamps
 * (pts/dts) and keyframes, and the part/segment cutting rules must hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LiveSegmenter, type CmafPart } from '../../src/live/formats/cmaf/live-segmenter.js';
import { FlvDemuxer } from '../../src/live/formats/flv/flv-demuxer.js';
import { audioToUnit, videoToUnit } from '../../src/live/formats/flv/flv-tags.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { run } from '../helpers/live-fixtures.js';

interface Pkt { codec_type: string; pts_time: string; dts_time: string; flags: string; size: string }

async function packets(file: string): Promise<Pkt[]> {
  const r = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=codec_type,pts_time,dts_time,flags,size', '-of', 'json', file]).done;
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { packets: Pkt[] }).packets;
}

const ms = (s: string) => Math.round(Number(s) * 1000);

test('FLV units muxed to CMAF read back with the same samples, timestamps and keyframes', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-cmaf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const flv = path.join(dir, 'in.flv');
  const gen = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=44100',
    '-t', '2.5', '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '2', '-g', '30', '-c:a', 'aac', '-f', 'flv', flv]).done;
  assert.equal(gen.code, 0, gen.stderr);

  const units: MediaUnit[] = [];
  for (const tag of new FlvDemuxer().push(readFileSync(flv))) {
    const u = tag.type === 9 ? videoToUnit(tag.body, tag.timestamp) : tag.type === 8 ? audioToUnit(tag.body, tag.timestamp) : null;
    if (u) units.push(u);
  }
  const parts: CmafPart[] = [];
  const seg = new LiveSegmenter({ video: true, audio: true }, { partTargetMs: 400, segmentTargetMs: 900 }, (p) => parts.push(p));
  for (const u of units) seg.push(u);
  seg.flush();
  assert.ok(seg.init);
  const out = path.join(dir, 'out.mp4');
  writeFileSync(out, Buffer.concat([seg.init, ...parts.map((p) => p.bytes)]));

  const media = units.filter((u) => !u.config);
  const got = await packets(out);
  for (const kind of ['video', 'audio'] as const) {
    const want = media.filter((u) => u.kind === kind);
    const have = got.filter((p) => p.codec_type === kind);
    assert.equal(have.length, want.length, `${kind} sample count`);
    have.forEach((p, i) => {
      const u = want[i]!;
      assert.equal(Number(p.size), u.payload.length, `${kind} #${i} size`);
      assert.ok(Math.abs(ms(p.dts_time) - u.dts) <= 1, `${kind} #${i} dts ${p.dts_time} vs ${u.dts}`);
      assert.ok(Math.abs(ms(p.pts_time) - u.pts) <= 1, `${kind} #${i} pts ${p.pts_time} vs ${u.pts}`);
      if (kind === 'video') assert.equal(p.flags.startsWith('K'), u.keyframe, `video #${i} keyframe flag`);
    });
  }
  assert.ok(media.some((u) => u.pts !== u.dts), 'the input really has B-frames (composition offsets)');

  // Cutting rules: parts ≤ target, segments start on keyframes with an INDEPENDENT first part.
  for (const p of parts) assert.ok(p.durationMs <= 400, `part ${p.seq} lasts ${p.durationMs} ms`);
  const firsts = parts.filter((p) => p.index === 0);
  assert.ok(firsts.length >= 2, `${firsts.length} segments`);
  for (const p of firsts) assert.ok(p.independent, `segment ${p.msn} starts with a keyframe`);
  for (const p of parts.filter((x) => !x.lastOfSegment).slice(0, -1)) assert.ok(p.durationMs >= 0.85 * 400, `part ${p.seq} lasts ${p.durationMs} ms (< 85 %)`);
  const segMs = firsts.map((f) => parts.filter((p) => p.msn === f.msn).reduce((n, p) => n + p.durationMs, 0));
  for (const d of segMs.slice(0, -1)) assert.ok(d >= 900, `segment of ${d} ms is shorter than the target`);
  assert.deepEqual(parts.map((p) => p.seq), parts.map((_, i) => i), 'parts are numbered without gaps');
});
