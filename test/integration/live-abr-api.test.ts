/**
 * The per-stream live ABR flag through the API: `abr` on POST/PATCH
 * /api/v1/live-streams is stored (migration 2) and returned; a bad value is a 400; a stream with
 * `abr: true` gets a transcode when its LL-HLS muxer starts (without `live.abrAll`); new streams
 * default to passthrough. Renditions never appear as streams of their own in the API.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApi } from '../helpers/api-server.js';
import { sendFrames, syntheticPublisher } from '../helpers/live-fixtures.js';

test('abr flag: stored, returned, validated, and it starts the transcode for that stream only', async (t) => {
  const api = await startApi(t, { 'rtmp.enabled': true, 'live.abrLadder': '180p', 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500 });
  const token = await api.token(['live:write']);
  const created = await api.call('POST', '/api/v1/live-streams', { token, json: { title: 'ABR', abr: true } });
  assert.equal(created.status, 201);
  const s = (await created.json()) as { id: string; streamKey: string; abr: boolean };
  assert.equal(s.abr, true);
  const plain = (await (await api.call('POST', '/api/v1/live-streams', { token, json: { title: 'Plain' } })).json()) as { id: string; abr: boolean };
  assert.equal(plain.abr, false, 'passthrough by default');
  assert.equal((await api.call('PATCH', `/api/v1/live-streams/${plain.id}`, { token, json: { abr: 'yes' } })).status, 400);
  const patched = await api.call('PATCH', `/api/v1/live-streams/${plain.id}`, { token, json: { abr: true } });
  assert.equal(((await patched.json()) as { abr: boolean }).abr, true);
  await api.call('PATCH', `/api/v1/live-streams/${plain.id}`, { token, json: { abr: false } });

  const pub = await syntheticPublisher(api.strom.live.rtmp.port()!, s.streamKey);
  t.after(() => pub.destroy());
  sendFrames(pub, 0, 2);
  for (let i = 0; i < 200 && !api.strom.live.registry.get(s.id)?.active; i++) await sleep(10);
  await sleep(100); // the flag is read from the store on publish.start
  const first = fetch(`${api.url}/live/${s.id}/index.m3u8`);
  for (let i = 0; i < 200 && api.strom.live.llhls.size === 0; i++) await sleep(10);
  sendFrames(pub, 3, 30);
  assert.equal((await first).status, 200);
  assert.ok(api.strom.live.llhls.abr.transcoder(s.id) !== undefined, 'abr=true: a transcode was started with the muxer');
  const list = (await (await api.call('GET', '/api/v1/live-streams', { token })).json()) as { items: Array<{ id: string }> };
  assert.equal(list.items.length, 2, 'renditions are not streams');
});
