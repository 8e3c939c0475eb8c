/**
 * A camera nobody here wrote (GStreamer's RTSP server library, test/fixtures/rtsp-camera.py: H.264
 * with a 1 s GOP + AAC) is added as a live stream's on-demand source through the API; hls.js in
 * Chromium asks for it in low-latency mode, which connects the camera, and plays it. The API shows
 * the source live over RTSP while watched and idle after the linger time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, playInBrowser } from '../helpers/browser.js';
import { startApi } from '../helpers/api-server.js';
import { camera, cameraMissing } from '../helpers/rtsp-camera.js';
import { waitUntil } from '../helpers/live-fixtures.js';

test('hls.js plays an RTSP camera pulled on demand as LL-HLS; the camera is released after the viewer leaves', { skip: cameraMissing, timeout: 120_000 }, async (t) => {
  const cam = await camera(['--audio', 'aac']);
  t.after(() => cam.child.kill('SIGKILL'));
  const node = await startApi(t, { 'llhls.segmentTargetMs': 1000, 'llhls.partTargetMs': 500, 'live.sourceLingerMs': 3000 });
  const token = await node.token(['live:write']);
  const created = await node.call('POST', '/api/v1/live-streams', { token, json: { title: 'Camera', source: `rtsp://127.0.0.1:${cam.port}/cam` } });
  assert.equal(created.status, 201);
  const { id } = (await created.json()) as { id: string };
  const browser = await launchBrowser();
  t.after(() => browser.close());

  const res = await playInBrowser(browser, { player: 'hls', src: `${node.url}/live/${id}/master.m3u8`, hlsConfig: { lowLatencyMode: true }, untilTime: 4, timeoutMs: 60_000 });
  assert.deepEqual(res.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), [], `player errors: ${res.errors.join(', ')}`);
  assert.ok(res.currentTime >= 4, `played to ${res.currentTime}`);
  assert.equal(res.info.partList, true, 'hls.js saw EXT-X-PART');
  const status = node.strom.live.status(id);
  assert.equal(status.video?.codec.startsWith('avc1'), true);
  assert.equal(status.audio?.codec, 'mp4a.40.2');
  assert.equal(status.video?.width, 320);
  const api = async () => ((await (await node.call('GET', `/api/v1/live-streams/${id}`, { token })).json()) as { source: { state: string; protocol: string } });
  const during = (await api()).source;
  assert.deepEqual([during.state, during.protocol], ['live', 'rtsp']);
  await waitUntil(() => node.strom.live.registry.active(id) === null, 'the camera is released once nobody watches', 20_000);
  assert.equal((await api()).source.state, 'idle');
});
