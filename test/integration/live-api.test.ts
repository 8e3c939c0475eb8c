/**
 * Live streams through the API with the real client: a key created by `POST /api/v1/live-streams`
 * publishes from ffmpeg, the API reports the stream active with codecs, bitrate and viewers, the
 * lifecycle reaches SSE, the status returns to idle after the publisher leaves, a signed stream
 * needs a token for HTTP-FLV, and an unknown key is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startApi } from '../helpers/api-server.js';
import { ffmpegPublish, run } from '../helpers/live-fixtures.js';

interface LiveJson {
  id: string; streamKey: string; status: string; ingest: { rtmp: string }; playback: { flv: string };
  live: null | {
    ingestBitrate: number; fps: number; video: { codec: string } | null; audio: { codec: string } | null; viewers: Record<string, number>;
    publisher: { sessionId: string; remote: string } | null; standby: { sessionId: string; role: string } | null;
  };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Open HTTP-FLV and resolve with the status code once the headers arrive (the body is kept open). */
function openFlv(url: string): Promise<{ status: number; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => resolve({ status: res.statusCode!, close: () => req.destroy() }));
    req.on('error', reject);
  });
}

test('API-created key publishes; status, codecs, viewers and SSE follow the stream', { timeout: 90_000 }, async (t) => {
  const s = await startApi(t, { 'rtmp.enabled': true, 'rtmp.port': 0 });
  const token = await s.token(['live:write', 'videos:read']);
  const created = (await (await s.call('POST', '/api/v1/live-streams', { token, json: { title: 'cam' } })).json()) as LiveJson;
  assert.equal(created.status, 'idle');
  assert.equal(created.live, null);
  const port = s.strom.live.rtmp.port()!;
  assert.equal(created.ingest.rtmp, `rtmp://127.0.0.1:${port}/live/${created.streamKey}`);

  const events: string[] = [];
  const sse = await fetch(`${s.url}/api/v1/events?streamId=${created.id}`, { headers: { authorization: `Bearer ${token}` } });
  const reader = sse.body!.getReader();
  void (async () => {
    const dec = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      for (const m of dec.decode(value).matchAll(/event: (\S+)/g)) events.push(m[1]!);
    }
  })();

  const pub = ffmpegPublish(port, created.streamKey, 8);
  const active = await waitFor('active with codecs', async () => {
    const j = (await (await s.call('GET', `/api/v1/live-streams/${created.id}`, { token })).json()) as LiveJson;
    return j.status === 'active' && j.live?.video && j.live.audio && j.live.ingestBitrate > 0 ? j : undefined;
  });
  assert.match(active.live!.video!.codec, /^avc1\./);
  assert.match(active.live!.audio!.codec, /^mp4a\./);
  assert.match(active.live!.publisher!.sessionId, /^rtmp/, 'the active publisher');
  assert.equal(active.live!.standby, null, 'no backup publisher');

  const viewer = await openFlv(s.url + active.playback.flv);
  assert.equal(viewer.status, 200);
  await waitFor('viewer counted', async () => {
    const j = (await (await s.call('GET', `/api/v1/live-streams/${created.id}`, { token })).json()) as LiveJson;
    return (j.live?.viewers.total ?? 0) >= 1 ? true : undefined;
  });
  viewer.close();
  await pub.done;
  await waitFor('idle after the publisher left', async () => {
    const j = (await (await s.call('GET', `/api/v1/live-streams/${created.id}`, { token })).json()) as LiveJson;
    return j.status === 'idle' && j.live === null ? true : undefined;
  });
  await waitFor('SSE lifecycle', async () => (events.includes('live.publish.stop') ? true : undefined), 5000);
  assert.ok(events.includes('live.publish.start'));
  assert.ok(events.includes('live.viewer.join'));
  await reader.cancel();
});

test('a signed live stream needs a playback token for HTTP-FLV', { timeout: 60_000 }, async (t) => {
  const s = await startApi(t, { 'rtmp.enabled': true, 'rtmp.port': 0 });
  const token = await s.token(['live:write', 'videos:read', 'admin']);
  const created = (await (await s.call('POST', '/api/v1/live-streams', { token, json: { title: 'private', visibility: 'signed' } })).json()) as LiveJson;
  await s.call('POST', '/api/v1/signing-keys', { token, json: {} });
  const pub = ffmpegPublish(s.strom.live.rtmp.port()!, created.streamKey, 12);
  await waitFor('active', async () => (s.strom.live.status(created.id).state === 'active' ? true : undefined));
  const refused = await openFlv(`${s.url}/live/${created.id}.flv`);
  refused.close();
  assert.equal(refused.status, 403);
  const signed = (await (await s.call('POST', `/api/v1/live-streams/${created.id}/playback-token`, { token, json: {} })).json()) as { playback: { flv: string } };
  const ok = await openFlv(s.url + signed.playback.flv);
  ok.close();
  assert.equal(ok.status, 200);
  // RTMP play follows the same policy: the token rides in the play name's query.
  const rtmp = `rtmp://127.0.0.1:${s.strom.live.rtmp.port()}/live/${created.id}`;
  const playToken = new URL(signed.playback.flv, s.url).searchParams.get('token')!;
  const without = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', rtmp], 15_000).done;
  assert.notEqual(without.code, 0, 'RTMP play without a token is refused');
  const withToken = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `${rtmp}?token=${playToken}`], 15_000).done;
  assert.equal(withToken.code, 0, withToken.stderr);
  assert.match(withToken.stdout, /h264/);
  await pub.done;
});
