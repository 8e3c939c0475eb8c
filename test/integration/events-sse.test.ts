import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import { onSseEvents, type SseEvent } from '../helpers/sse.js';

/** Open an SSE stream and collect parsed events until `count` arrive. */
function collect(url: string, count: number, headers: Record<string, string> = {}): Promise<{ events: SseEvent[]; contentType: string }> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const req = http.get(url, { headers }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`SSE answered ${res.statusCode}`));
      onSseEvents(res, (e) => {
        events.push(e);
        if (events.length === count) {
          req.destroy();
          resolve({ events, contentType: String(res.headers['content-type']) });
        }
      });
    });
    req.on('error', (err) => {
      if (events.length < count) reject(err);
    });
  });
}

test('SSE delivers bus events filtered by video id and resumes after Last-Event-ID', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-sse-'));
  const strom = await buildStrom(testConfig({ dataDir: dir }));
  const { url } = await strom.listen();
  t.after(async () => {
    await strom.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const token = await signApiToken(strom.config, loadApiSecret(strom.config), { scopes: ['videos:read'], ttlS: 600, sub: 'sse' });
  const auth = { authorization: `Bearer ${token}` };
  const baseline = strom.bus.subscribers; // webhooks, metrics and tracing subscribe for good
  const refused = await fetch(`${url}/api/v1/events`);
  assert.equal(refused.status, 401, 'the event stream needs videos:read');
  const pending = collect(`${url}/api/v1/events?videoId=v1`, 2, auth);
  await new Promise((r) => setTimeout(r, 100));
  strom.bus.publish('video.progress', { videoId: 'other', phase: 'transcode', percent: 5 });
  const first = strom.bus.publish('video.progress', { videoId: 'v1', phase: 'transcode', percent: 10 });
  strom.bus.publish('video.ready', { videoId: 'v1', durationS: 4 });
  const { events, contentType } = await pending;
  assert.match(contentType, /^text\/event-stream/);
  assert.deepEqual(events.map((e) => e.event), ['video.progress', 'video.ready']);
  assert.equal(events[0]!.data.percent, 10);
  assert.equal(events[0]!.id, String(first.id));

  // A reconnect with Last-Event-ID gets only what came after it.
  const resumed = await collect(`${url}/api/v1/events?videoId=v1`, 1, { ...auth, 'Last-Event-ID': String(first.id) });
  assert.equal(resumed.events[0]!.event, 'video.ready');
  // Subscribers are released when clients go away.
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(strom.bus.subscribers, baseline);
});
