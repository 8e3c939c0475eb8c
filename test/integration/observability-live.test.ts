/**
 * Live figures in /metrics and the live access log: a synthetic RTMP publisher and an HTTP-FLV
 * viewer (sending CMCD) move the active-stream, ingest bitrate/fps and viewer gauges, the live
 * request is counted under group="live", its CMCD counts as live QoE, and the session lifecycle is
 * logged with stream and session ids.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { avcFrameBody, flvViewer, startLive, syntheticPublisher } from '../helpers/live-fixtures.js';

function sample(text: string, name: string, labels = ''): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('live streams, ingest rates, viewers and live session logs', async (t) => {
  const h = await startLive();
  t.after(() => h.close());
  const pub = await syntheticPublisher(h.rtmpPort);
  t.after(() => pub.destroy());
  const cmcd = encodeURIComponent('sid="live-sess-1",st=l,bl=1500');
  const viewer = flvViewer(`${h.httpUrl}/live/cam1.flv?CMCD=${cmcd}`);
  assert.equal((await viewer.res).statusCode, 200);
  // ~1.5 s of 25 fps video so at least one whole second of ingest is measured.
  for (let i = 0; i < 38; i++) {
    pub.send(9, i * 40, avcFrameBody(i % 25 === 0, i, 2000));
    await new Promise((r) => setTimeout(r, 40));
  }
  await viewer.waitTags(10);
  const text = await (await fetch(`${h.httpUrl}/metrics`)).text();
  assert.equal(sample(text, 'strom_live_streams_active'), 1);
  assert.equal(sample(text, 'strom_live_viewers', '{stream="cam1",protocol="http-flv"}'), 1);
  assert.ok((sample(text, 'strom_live_ingest_bitrate_bps', '{stream="cam1"}') ?? 0) > 0, 'ingest bitrate');
  assert.ok((sample(text, 'strom_live_ingest_fps', '{stream="cam1"}') ?? 0) > 0, 'ingest fps');

  viewer.req.destroy();
  await h.strom.live.events.next('viewer.leave');
  await new Promise((r) => setTimeout(r, 100));
  const after = await (await fetch(`${h.httpUrl}/metrics`)).text();
  assert.equal(sample(after, 'strom_live_viewers', '{stream="cam1",protocol="http-flv"}'), 0);
  assert.equal(sample(after, 'strom_http_request_duration_seconds_count', '{group="live",status="2xx"}'), 1);
  assert.equal(sample(after, 'strom_cmcd_requests_total', '{type="live"}'), 1);
  assert.equal(h.strom.obs.qoe.report('cam1')?.type, 'live');

  const started = h.logs.find((l) => l.msg === 'live publish started');
  assert.equal(started?.streamId, 'cam1');
  assert.ok(typeof started?.sessionId === 'string' && started.sessionId.length > 0);
  const left = h.logs.find((l) => l.msg === 'live viewer left');
  assert.equal(left?.streamId, 'cam1');
  assert.equal(left?.protocol, 'http-flv');
  assert.ok(left?.sessionId);
  const access = h.logs.find((l) => l.msg === 'access' && l.group === 'live');
  assert.equal(access?.path, '/live/cam1.flv');
});
