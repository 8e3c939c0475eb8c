/** planLadder: never upscale, short-side naming for portrait, even sizes, SAR/rotation via display size, fps cap, bitrates. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStromError } from '../../src/errors.js';
import { fitShortSide, parseLadder, planLadder, type LadderConfig, type VideoRendition } from '../../src/vod/ladder.js';
import { interpretProbe, type ProbeResult } from '../../src/vod/probe.js';

const CFG: LadderConfig = { rungs: parseLadder(['1080:5000', '720:2800', '480:1400', '360:800', '240:400']), fpsCap: 60, audioKbps: 128 };

function probe(displayWidth: number, displayHeight: number, fps = 30, audio = true): ProbeResult {
  return {
    durationS: 10, sizeBytes: 1000, formatName: 'mov,mp4',
    video: { codec: 'h264', width: displayWidth, height: displayHeight, displayWidth, displayHeight, rotation: 0, fps, pixFmt: 'yuv420p' },
    audio: audio ? { codec: 'aac', channels: 6, sampleRate: 48000 } : null,
  };
}

const sizes = (plan: ReturnType<typeof planLadder>): string[] =>
  plan.filter((r): r is VideoRendition => r.kind === 'video').map((r) => `${r.name}:${r.width}x${r.height}`);

test('a 720p source never gets a 1080p rung', () => {
  assert.deepEqual(sizes(planLadder(probe(1280, 720), CFG)), ['v720:1280x720', 'v480:852x480', 'v360:640x360', 'v240:426x240']);
});

test('portrait video is bounded by its short side and keeps its orientation', () => {
  assert.deepEqual(sizes(planLadder(probe(720, 1280), CFG)), ['v720:720x1280', 'v480:480x852', 'v360:360x640', 'v240:240x426']);
});

test('every dimension is even and never larger than the source', () => {
  for (const [w, h] of [[1279, 719], [853, 481], [641, 361], [1000, 999], [333, 777]] as const) {
    for (const r of planLadder(probe(w, h), CFG).filter((x): x is VideoRendition => x.kind === 'video')) {
      assert.equal(r.width % 2, 0, `${w}x${h} → ${r.width}`);
      assert.equal(r.height % 2, 0, `${w}x${h} → ${r.height}`);
      assert.ok(r.width <= w && r.height <= h, `${w}x${h} → ${r.width}x${r.height} upscales`);
    }
  }
});

test('a source smaller than every rung gets one rung at its own even size', () => {
  assert.deepEqual(sizes(planLadder(probe(321, 181), CFG)), ['v180:320x180']);
});

test('display size from SAR and rotation drives the plan (ffprobe JSON → probe → ladder)', () => {
  // 1440x1080 coded with SAR 4:3 is a 1920x1080 picture; rotated 90°, it is 1080x1920 portrait.
  const p = interpretProbe({
    streams: [{ codec_type: 'video', codec_name: 'h264', width: 1440, height: 1080, sample_aspect_ratio: '4:3', avg_frame_rate: '30000/1001', side_data_list: [{ rotation: -90 }] }],
    format: { format_name: 'mov', duration: '12.5' },
  }, 5);
  assert.deepEqual([p.video?.displayWidth, p.video?.displayHeight, p.video?.rotation], [1080, 1920, 270]);
  assert.equal(p.video?.fps, 29.97);
  assert.deepEqual(sizes(planLadder(p, CFG)).slice(0, 2), ['v1080:1080x1920', 'v720:720x1280']);
});

test('cover art is not video: an MP3 with a picture plans audio only', () => {
  const p = interpretProbe({
    streams: [{ codec_type: 'audio', codec_name: 'mp3', channels: 2, sample_rate: '44100' }, { codec_type: 'video', codec_name: 'mjpeg', width: 500, height: 500, disposition: { attached_pic: 1 } }],
    format: { format_name: 'mp3', duration: '180' },
  }, 5);
  assert.equal(p.video, null);
  assert.deepEqual(planLadder(p, CFG), [{ kind: 'audio', name: 'a128', kbps: 128, channels: 2, sampleRate: 44100 }]);
});

test('frame rate is kept up to the cap and bitrates rise above 30 fps', () => {
  const at120 = planLadder(probe(1280, 720, 120), CFG).find((r): r is VideoRendition => r.kind === 'video')!;
  assert.equal(at120.fps, 60);
  assert.equal(at120.kbps, 4200);
  const at25 = planLadder(probe(1280, 720, 25), CFG).find((r): r is VideoRendition => r.kind === 'video')!;
  assert.equal(at25.fps, 25);
  assert.equal(at25.kbps, 2800);
});

test('bitrates scale with picture area: 4:3 costs less than 16:9 at the same short side', () => {
  const wide = planLadder(probe(1280, 720), CFG)[0] as VideoRendition;
  const four3 = planLadder(probe(960, 720), CFG)[0] as VideoRendition;
  assert.ok(four3.kbps < wide.kbps && four3.kbps > wide.kbps * 0.7, `${four3.kbps} vs ${wide.kbps}`);
});

test('audio is always one stereo AAC rendition; no audio stream, no audio rendition', () => {
  assert.deepEqual(planLadder(probe(640, 360), CFG).at(-1), { kind: 'audio', name: 'a128', kbps: 128, channels: 2, sampleRate: 48000 });
  assert.equal(planLadder(probe(640, 360, 30, false), CFG).some((r) => r.kind === 'audio'), false);
});

test('fitShortSide keeps the aspect ratio', () => {
  assert.deepEqual(fitShortSide(1920, 1080, 720), { width: 1280, height: 720 });
  assert.deepEqual(fitShortSide(1080, 1920, 360), { width: 360, height: 640 });
});

test('parseLadder rejects malformed rungs naming vod.ladder and sorts the rest', () => {
  assert.throws(() => parseLadder(['720p']), (e: unknown) => isStromError(e, 'CONFIG_INVALID') && e.message.includes('vod.ladder'));
  assert.throws(() => parseLadder([]), (e: unknown) => isStromError(e, 'CONFIG_INVALID'));
  assert.deepEqual(parseLadder(['240:400', '720:2800']).map((r) => r.shortSide), [720, 240]);
});
