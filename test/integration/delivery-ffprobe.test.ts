/**
 * A real HLS client reads the origin: ffprobe opens the master playlist over HTTP, follows a
 * variant, its EXT-X-MAP init segment and the fMP4 segments, and must find H.264 video, AAC audio
 * and the duration the fixture was made with.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { startStrom, type Running } from '../helpers/http-client.js';

const run = promisify(execFile);
const SECONDS = 3;
let srv: Running;

before(async () => {
  srv = await startStrom();
  await makeFixtureAsset({ dataDir: srv.dataDir, id: 'probe', seconds: SECONDS, extras: true });
});

after(async () => {
  await srv?.stop();
});

interface Probe {
  streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number; sample_rate?: string }>;
  format: { duration?: string; format_name: string };
}

async function probe(url: string): Promise<Probe> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', url], { timeout: 60_000 });
  return JSON.parse(stdout) as Probe;
}

test('ffprobe reads master.m3u8: h264 + aac, right duration', async () => {
  const p = await probe(`${srv.url}/v/probe/master.m3u8`);
  assert.equal(p.format.format_name, 'hls');
  const video = p.streams.filter((s) => s.codec_type === 'video');
  const audio = p.streams.filter((s) => s.codec_type === 'audio');
  assert.ok(video.length >= 1 && video.every((s) => s.codec_name === 'h264'), JSON.stringify(video));
  assert.ok(audio.length >= 1 && audio.every((s) => s.codec_name === 'aac'), JSON.stringify(audio));
  assert.deepEqual(new Set(video.map((s) => s.height)), new Set([360, 240]), 'both rungs of the ladder');
  const duration = Number(p.format.duration);
  assert.ok(Math.abs(duration - SECONDS) < 0.5, `duration ${duration} s, expected about ${SECONDS} s`);
});

test('ffprobe reads one variant playlist and the progressive download (Range requests)', async () => {
  const v = await probe(`${srv.url}/v/probe/v360/index.m3u8`);
  assert.deepEqual(v.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
  assert.ok(Math.abs(Number(v.format.duration) - SECONDS) < 0.5);
  const d = await probe(`${srv.url}/api/v1/video/stream/probe`);
  assert.deepEqual(d.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
  assert.ok(Math.abs(Number(d.format.duration) - SECONDS) < 0.5, `download.mp4 duration ${d.format.duration}`);
});
