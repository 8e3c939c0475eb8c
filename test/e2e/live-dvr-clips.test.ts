/**
 * DVR clips of a live stream with real clients, on one server: ffmpeg publishes a test pattern over
 * RTMP with `llhls.dvrWindowS` on; `POST /api/v1/live-streams/:id/clips {last: 3}` answers a ready
 * video whose snapped range covers the last 3 s, whose duration ffprobe reads back, and which is
 * made of the window's segments; bad ranges, a stream that is not live and a range before the
 * window are refused.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ffmpegPublish, run, startLive, type LiveHarness } from '../helpers/live-fixtures.js';
import { until } from '../helpers/until.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';

let h: LiveHarness;
let pub: ReturnType<typeof ffmpegPublish>;
let token: string;
let live: string;
let idle: string;

const clip = (id: string, body: unknown) => fetch(`${h.httpUrl}/api/v1/live-streams/${id}/clips`, {
  method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
});
const heldS = () => (h.strom.live.llhls.running(live)?.segments ?? []).filter((s) => s.complete).reduce((n, s) => n + s.durationMs, 0) / 1000;

before(async () => {
  h = await startLive({ 'llhls.dvrWindowS': 60, 'llhls.segmentTargetMs': 1000, 'llhls.partTargetMs': 500 });
  const { store } = h.strom.control;
  const row = await store.liveStreams.create({ title: 'Pattern' });
  live = row.id;
  idle = (await store.liveStreams.create({ title: 'Off air' })).id;
  token = await signApiToken(h.strom.config, loadApiSecret(h.strom.config), { scopes: ['live:write', 'videos:read'], ttlS: 600 });
  pub = ffmpegPublish(h.rtmpPort, row.stream_key, 30);
  await until(() => heldS() >= 5, 'five seconds of DVR window', 30_000, 100);
});

after(async () => {
  pub?.child.kill('SIGKILL');
  await h?.close();
});

test('{last: 3} becomes a ready video of the snapped range, read back by ffprobe', async () => {
  const res = await clip(live, { last: 3, title: 'Last three' });
  const v = await res.json() as { id: string; status: string; title: string; durationS: number; metadata: { liveStreamId: string; dvrClip: { start: number; end: number } } };
  assert.equal(res.status, 201, JSON.stringify(v));
  assert.equal(v.status, 'ready');
  assert.equal(v.title, 'Last three');
  assert.equal(v.metadata.liveStreamId, live);
  const { start, end } = v.metadata.dvrClip;
  assert.equal(end, 0, 'up to the live edge');
  assert.ok(start <= -3 && start > -5, `widened to a segment boundary at or before -3 s: ${start}`);
  assert.ok(Math.abs(v.durationS - (end - start)) < 0.01, `duration ${v.durationS} = snapped range ${end - start}`);
  const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', `${h.httpUrl}/v/${v.id}/master.m3u8`], 30_000).done;
  assert.equal(probe.code, 0, probe.stderr);
  assert.ok(Math.abs(Number(probe.stdout.trim()) - v.durationS) < 0.3, `ffprobe ${probe.stdout.trim()} s ≈ ${v.durationS} s`);
  const streams = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `${h.httpUrl}/v/${v.id}/master.m3u8`], 30_000).done;
  assert.deepEqual([...new Set(streams.stdout.trim().split('\n').map((l) => l.trim()).filter(Boolean))].sort(), ['aac', 'h264']);
});

test('bad ranges are 400, an idle stream and a range before the window 409, an unknown stream 404', async () => {
  const cases: [string, unknown, number, RegExp][] = [
    [live, { start: 5 }, 400, /invalid clip start 5: must be seconds relative to the live edge/],
    [live, { start: -2, end: -4 }, 400, /invalid clip end -4: must be greater than start \(-2\)/],
    [live, { last: 0 }, 400, /invalid clip last 0/],
    [live, { last: 3, start: -3 }, 400, /either last or start\/end/],
    [live, { start: -1000 }, 409, /clip start -1000 s is outside the DVR window of live stream/],
    [idle, { last: 3 }, 409, /the stream is not live on this node/],
    ['ls_nope', { last: 3 }, 404, /live stream "ls_nope" not found/],
  ];
  for (const [id, body, status, message] of cases) {
    const res = await clip(id, body);
    const err = await res.json() as { error: { message: string } };
    assert.equal(res.status, status, `${id} ${JSON.stringify(body)}: ${err.error.message}`);
    assert.match(err.error.message, message);
  }
});
