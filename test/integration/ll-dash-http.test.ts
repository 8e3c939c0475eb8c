/**
 * LL-DASH over real HTTP with a synthetic RTMP publisher whose frames the test controls: the
 * dynamic MPD (parsed with mpd-parser) lists the HLS segment URLs with chunked-availability
 * attributes and a UTCTiming source that answers without auth; a segment requested while in
 * progress gets the parts produced so far at once and the rest as the frames completing them
 * arrive, ending with the segment's last part (same bytes as the finished segment).
 * Frames: video every 50 ms, keyframe every 10 frames; parts 200 ms, segments 500 ms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import { sendFrames, startLive, syntheticPublisher, waitUntil } from '../helpers/live-fixtures.js';
import { initName, segmentName } from '../../src/live/formats/hls/live-media-names.js';

const require = createRequire(import.meta.url);
interface DashSegment { uri: string; map?: { uri: string } }
const mpdParser = require('mpd-parser') as {
  parse(text: string, o: { manifestUri: string; NOW: number; clientOffset: number }): { minimumUpdatePeriod?: number; playlists?: Array<{ attributes: { CODECS?: string }; segments?: DashSegment[] }> };
};



test('LL-DASH: dynamic MPD, UTCTiming endpoint, in-progress segment streamed part by part', async (t) => {
  const h = await startLive({ 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500, 'delivery.corsOrigin': '*' });
  t.after(() => h.close());
  const base = `${h.httpUrl}/live/cam1`;
  const time = await fetch(`${h.httpUrl}/live/time`);
  assert.equal(time.status, 200);
  assert.equal(time.headers.get('access-control-allow-origin'), '*');
  assert.match(await time.text(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  const pub = await syntheticPublisher(h.rtmpPort);
  sendFrames(pub, 0, 0);
  await waitUntil(() => h.strom.live.registry.get('cam1')?.active === true, 'stream live');
  const first = fetch(`${base}/manifest.mpd?token=t1`);
  await waitUntil(() => h.strom.live.llhls.size === 1, 'muxer started by the MPD request');
  sendFrames(pub, 1, 24);
  assert.equal((await first).status, 200, 'held until the first segment, then answered');
  // Frames 0..24: segments 0 (0–500), 1 (500–1000) complete, segment 2 has part 0 (1000–1200) only.
  await waitUntil(() => h.strom.live.llhls.muxer('cam1').position().msn === 2 && h.strom.live.llhls.muxer('cam1').position().parts === 1, 'segment 2 in progress');
  const r = await fetch(`${base}/manifest.mpd?token=t1`);
  assert.equal(r.headers.get('content-type'), 'application/dash+xml');
  const text = await r.text();
  const run = h.strom.live.llhls.muxer('cam1').run; // segment and init names carry the muxer's run id
  for (const attr of ['type="dynamic"', 'availabilityStartTime="', 'publishTime="', 'availabilityTimeOffset="0.300"', 'availabilityTimeComplete="false"', `media="seg_${run}_$Number$.m4s?token=t1"`, `initialization="${initName(run, 0)}?token=t1"`, '<Latency referenceId="0" target="2500"', 'urn:mpeg:dash:utc:http-iso:2014']) {
    assert.ok(text.includes(attr), `MPD has ${attr}`);
  }
  assert.ok(text.includes(`value="${h.httpUrl}/live/time"`), 'UTCTiming points at this server');
  // The direct scheme comes first (players use the first they support) and carries the time of writing.
  const direct = /<UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="([^"]+)"\/>\s*<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014"/.exec(text);
  assert.ok(direct, 'direct UTCTiming before the http-iso one');
  assert.ok(Math.abs(Date.parse(direct[1]!) - Date.now()) < 5000, `direct time ${direct[1]} is now`);
  const forged = await (await fetch(`${base}/manifest.mpd?token=t1`, { headers: { 'x-forwarded-proto': 'https' } })).text();
  assert.ok(forged.includes(`value="${h.httpUrl}/live/time"`), 'X-Forwarded-Proto from a peer not in trustProxy is ignored');
  // Synthetic frames arrive faster than real time: evaluate the template at AST + 1.5 s of media.
  const ast = Date.parse(/availabilityStartTime="([^"]+)"/.exec(text)![1]!);
  const m = mpdParser.parse(text, { manifestUri: `${base}/manifest.mpd`, NOW: ast + 1500, clientOffset: 0 });
  assert.equal(m.minimumUpdatePeriod, 500);
  const rep = m.playlists?.[0];
  assert.equal(rep?.attributes.CODECS, 'avc1.64001f,mp4a.40.2');
  // $Number$ = media sequence: the segment ending at 1.5 s is seg_2, the 1 s window also holds seg_1.
  assert.deepEqual(rep?.segments?.map((x) => x.uri), [`${segmentName(run, 1)}?token=t1`, `${segmentName(run, 2)}?token=t1`]);
  assert.ok(rep!.segments!.every((x) => x.map?.uri === `${initName(run, 0)}?token=t1`));

  const chunks: Buffer[] = [];
  let head: http.IncomingMessage | undefined;
  const body = new Promise<Buffer>((resolve, reject) => {
    http.get(`${base}/${segmentName(run, 2)}`, (res) => {
      head = res;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
    }).on('error', reject);
  });
  await waitUntil(() => chunks.length > 0, 'the produced part is sent at once');
  assert.equal(head?.headers['transfer-encoding'], 'chunked');
  const part0 = h.strom.live.llhls.muxer('cam1').segments.find((s) => s.msn === 2)!.parts[0]!.bytes;
  assert.ok(Buffer.concat(chunks).equals(part0), 'first the part already produced');
  sendFrames(pub, 25, 30); // completes parts 1 (…1400, at frame 28) and 2 (…1500, cut by keyframe 30: last of segment)
  const whole = await body;
  const seg = await fetch(`${base}/${segmentName(run, 2)}`);
  assert.ok(whole.equals(Buffer.from(await seg.arrayBuffer())), 'streamed bytes = the finished segment');
  const beyond = await fetch(`${base}/${segmentName(run, 9)}`);
  assert.equal(beyond.status, 404, 'a segment beyond the next one is not held');
  assert.equal(beyond.headers.get('cache-control'), 'no-store', 'nor is its 404 stored: the URL names a segment to come');
  pub.destroy();
});

test('LL-DASH behind a trusted proxy: the UTCTiming URL takes the scheme from X-Forwarded-Proto', async (t) => {
  const h = await startLive({ 'llhls.partTargetMs': 200, 'llhls.segmentTargetMs': 500, trustProxy: '127.0.0.1' });
  t.after(() => h.close());
  const pub = await syntheticPublisher(h.rtmpPort);
  t.after(() => pub.destroy());
  sendFrames(pub, 0, 0);
  await waitUntil(() => h.strom.live.registry.get('cam1')?.active === true, 'stream live');
  // As an edge asks: the viewer's Host and scheme (fetch() would not send a Host of our choosing).
  const first = new Promise<{ status: number; text: string }>((resolve, reject) => {
    http.get(`${h.httpUrl}/live/cam1/manifest.mpd`, { headers: { 'x-forwarded-proto': 'https', host: 'edge.example:8443' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    }).on('error', reject);
  });
  await waitUntil(() => h.strom.live.llhls.size === 1, 'muxer started by the MPD request');
  sendFrames(pub, 1, 24);
  const mpd = await first;
  assert.equal(mpd.status, 200);
  assert.match(mpd.text, /<UTCTiming [^>]*value="https:\/\/edge\.example:8443\/live\/time"/);
  const plain = await (await fetch(`${h.httpUrl}/live/cam1/manifest.mpd`)).text();
  assert.ok(plain.includes(`value="${h.httpUrl}/live/time"`), 'without the header: the scheme of the connection');
});
